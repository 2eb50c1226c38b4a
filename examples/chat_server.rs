//! Chat server: every frame a client sends goes to every connected client, in order.
//!
//! Wire format: 4-byte big-endian length + payload (`muon::codec::LengthHeaderCodec`).
//! A broadcast is one task per worker loop; each loop sends to its own connections, so
//! no lock is held while sending. A client that stops reading is disconnected when its
//! queued output passes the high-water mark, so it cannot stall the room or grow the
//! server's memory.
//!
//! ```text
//! cargo run --release --example chat_server -- --tls
//! cargo run --release --example chat_client -- --tls
//! ```

use std::sync::Arc;

use clap::Parser;

#[path = "common/tls_args.rs"]
mod tls_args;
use muon::codec::LengthHeaderCodec;

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

fn run(args: Args) -> std::io::Result<()> {
    let codec = LengthHeaderCodec::new(args.max_frame);
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
                let frame = Arc::new(codec.frame(payload));
                conn.for_each_sibling(move |peer| {
                    peer.send(&frame);
                });
            })
        })
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
