//! Chat server: every frame a client sends goes to every connected client, in order.
//!
//! Wire format: 4-byte big-endian length + payload (`muon::codec::LengthHeaderCodec`).
//! A broadcast is one task per worker loop; each loop sends to its own connections, so
//! no lock is held while sending. A client that stops reading is disconnected when its
//! queued output passes the high-water mark, so it cannot stall the room or grow the
//! server's memory. A client that starts a frame must finish it within the frame
//! timeout (a peer that sends two bytes of a header and stalls is closed, not kept
//! forever), and a client silent for the idle timeout is closed: the timeouts a real
//! server sets.
//!
//! ```text
//! cargo run --release --example chat_server -- --tls
//! cargo run --release --example chat_client -- --tls
//! ```

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

#[path = "common/tls_args.rs"]
mod tls_args;
use muon::codec::LengthHeaderCodec;
use muon::{TcpConnection, TimerId};

#[path = "common/scale_out.rs"]
mod scale_out;

/// Muon chat server.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9443")]
    addr: String,
    /// Worker loops (default: number of CPUs).
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    tls: tls_args::TlsArgs,
    /// Largest accepted frame; a bigger header closes that connection.
    #[arg(long, default_value_t = 64 * 1024)]
    max_frame: usize,
    /// Output bytes queued for one client above which it is disconnected.
    #[arg(long, default_value_t = 4 * 1024 * 1024)]
    high_water: usize,
    /// Seconds a client may take to finish a frame it started (header and payload).
    #[arg(long, default_value_t = 10.0)]
    frame_timeout: f64,
    /// Seconds of silence (nothing received or sent) after which a client is closed.
    #[arg(long, default_value_t = 600.0)]
    idle_timeout: f64,
    /// Log level.
    #[arg(long, default_value = "info")]
    log: String,
    #[command(flatten)]
    scale: scale_out::ScaleArgs,
}

fn main() {
    let args = Args::parse();
    muon::logging::init(&args.log);
    if let Err(e) = run(args) {
        log::error!("chat_server: {e}");
        std::process::exit(1);
    }
}

/// The timer that closes a connection whose frame is still partial when it fires.
struct PartialFrame(TimerId);

/// After a message: arms the frame timer if a partial frame waits in the input, and
/// cancels it once the input holds no partial frame.
fn watch_partial_frame(conn: &mut TcpConnection, partial: bool, timeout: Duration) {
    let armed = conn.extensions().get::<PartialFrame>().map(|p| p.0);
    match (partial, armed) {
        (true, None) => {
            let timer = conn.run_after(timeout, move |conn| {
                if conn.extensions_mut().remove::<PartialFrame>().is_some() {
                    log::warn!("{conn}: frame not finished within {timeout:?}; closing");
                    conn.force_close();
                }
            });
            conn.extensions_mut().insert(PartialFrame(timer));
        }
        (false, Some(timer)) => {
            conn.extensions_mut().remove::<PartialFrame>();
            conn.cancel_timer(timer);
        }
        _ => {}
    }
}

fn run(args: Args) -> std::io::Result<()> {
    let codec = LengthHeaderCodec::new(args.max_frame);
    // Negative, NaN or huge values from the command line become 0 or "never".
    let seconds = |s: f64| Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::MAX);
    let frame_timeout = seconds(args.frame_timeout);
    let mut builder = muon::TcpServer::builder(args.addr.as_str())
        .name("chat")
        .threads(args.threads.unwrap_or_else(num_cpus::get))
        .on_connection(|conn| {
            let state = if conn.is_connected() {
                "joined"
            } else {
                "left"
            };
            log::info!("{} {state}", conn.peer_addr());
        })
        .on_message(move |conn, input| {
            codec.on_message(conn, input, |conn, payload| {
                // A decoded payload is at most `max_frame` bytes: it always fits.
                let Ok(frame) = codec.frame(payload) else {
                    return;
                };
                let frame = Arc::new(frame);
                conn.for_each_sibling(move |peer| {
                    peer.send(&frame);
                });
            });
            watch_partial_frame(conn, !input.is_empty(), frame_timeout);
        })
        .idle_timeout(seconds(args.idle_timeout))
        .high_water_mark(args.high_water)
        .on_high_water(|conn, queued| {
            log::warn!("{conn}: not reading ({queued} bytes queued); disconnecting");
            conn.force_close();
        });
    let mut reload = None;
    if let Some(tls) = args.tls.acceptor()? {
        reload = Some(tls_args::reloader(tls.clone()));
        builder = builder.tls(tls);
    }
    let (builder, handover) = scale_out::prepare(builder, &args.scale)?;
    let server = builder.build()?;
    let watch = scale_out::signals(&server, &args.scale, reload)?;
    log::info!("chat listening on {}", server.local_addr());
    scale_out::serve(server, handover, watch)
}
