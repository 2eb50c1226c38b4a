//! Ticker: a publish/subscribe service built only from Muon's public API, the shape
//! of a real process: a TLS protocol, an HTTP side with a WebSocket bridge and
//! metrics, both servers on the same worker loops, and signals.
//!
//! - TLS (default 127.0.0.1:9443), frames with a 4-byte length header
//!   (`LengthHeaderCodec`): `SUB <topic>` (answered `OK <topic>`), `PUB <topic> <text>`
//!   (sent as `MSG <topic> <text>` to every TLS subscriber of the topic, on every loop,
//!   and to every browser on `/ws`), `PING` (answered `PONG`: a subscriber's heartbeat,
//!   since a connection that sends nothing for `--idle-secs` is closed even while it
//!   receives: `read_idle_timeout`).
//! - HTTP (default 127.0.0.1:8080): `GET /stats` (JSON), `GET /metrics` (Prometheus:
//!   HTTP's counters and both servers'), `GET /ws` (a WebSocket receiving
//!   `<topic> <text>` for every publication).
//! - SIGTERM/SIGINT: both servers drain together (WebSockets get close 1001) and the
//!   process exits 0; SIGHUP reloads the certificate.
//!
//! ```text
//! cargo run --example ticker
//! cargo run --example chat_client -- --tls --addr localhost:9443   # frames by hand
//! websocat ws://127.0.0.1:8080/ws ; curl http://127.0.0.1:8080/stats
//! ```

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use muon::codec::LengthHeaderCodec;
use muon::http::{metrics, HttpService, Message, Metrics, Response, Router, WsBroadcaster};
use muon::signals::Signals;
use muon::ssl::TlsAcceptor;
use muon::{LoopPool, TcpConnection, TcpServer};

/// Muon ticker: TLS publish/subscribe with an HTTP and WebSocket side.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// TLS address of the publish/subscribe protocol.
    #[arg(long, default_value = "127.0.0.1:9443")]
    addr: String,
    /// HTTP address (/stats, /metrics, /ws).
    #[arg(long, default_value = "127.0.0.1:8080")]
    http_addr: String,
    /// Worker loops shared by both servers (default: number of CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// PEM certificate chain.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/certs/server.crt"))]
    cert: PathBuf,
    /// PEM private key.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/certs/server.key"))]
    key: PathBuf,
    /// A TLS client that sends nothing (not even PING) this long is closed.
    #[arg(long, default_value_t = 60)]
    idle_secs: u64,
    /// Largest frame; a bigger header closes that connection.
    #[arg(long, default_value_t = 64 * 1024)]
    max_frame: usize,
    /// How long a stop may take, for both servers together.
    #[arg(long, default_value_t = 10)]
    stop_secs: u64,
    /// Log level.
    #[arg(long, default_value = "info")]
    log: String,
}

/// A TLS connection's subscriptions (kept in its extensions: no lock, no map).
#[derive(Default)]
struct Topics(HashSet<String>);

/// What the HTTP side reports.
#[derive(Default)]
struct Counts {
    published: AtomicU64,
    delivered: AtomicU64,
}

fn main() {
    let args = Args::parse();
    muon::logging::init(&args.log);
    match run(args) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            log::error!("ticker: {e}");
            std::process::exit(1);
        }
    }
}

/// Serves until a stop signal; whether both servers stopped in time.
fn run(args: Args) -> std::io::Result<bool> {
    let pool = LoopPool::start("ticker", args.threads.unwrap_or_else(num_cpus::get))?;
    let counts = Arc::new(Counts::default());
    let counters = Metrics::new();

    // The HTTP side first: its broadcaster is what the TLS side publishes through.
    let service = http_service(counters.clone(), counts.clone());
    let bridge = service.broadcaster();
    let http = service
        .install(
            TcpServer::builder(args.http_addr.as_str())
                .name("http")
                .event_loops(&pool),
        )
        .build()?
        .start()?;

    let tls = TlsAcceptor::from_pem_files(&args.cert, &args.key)?;
    let ticker = ticker_server(&args, tls.clone(), bridge, counts)?
        .event_loops(&pool)
        .build()?
        .start()?;
    counters.add_server("ticker", ticker.clone());
    counters.add_server("http", http.clone());

    let watch = Signals::new()
        .stop(ticker.clone())
        .stop(http.clone())
        .deadline(Duration::from_secs(args.stop_secs))
        .on_reload(move || match tls.reload() {
            Ok(summary) => log::info!("TLS reload: {summary}"),
            Err(e) => log::error!("TLS reload rejected, previous files kept: {e}"),
        })
        .install()?;
    log::info!(
        "ticker listening on {} (TLS), http on {}",
        ticker.local_addr(),
        http.local_addr()
    );
    let stopped = watch.wait();
    drop(pool);
    Ok(stopped.in_time)
}

/// The TLS publish/subscribe server (not built yet: the caller adds the loops).
fn ticker_server(
    args: &Args,
    tls: TlsAcceptor,
    bridge: WsBroadcaster,
    counts: Arc<Counts>,
) -> std::io::Result<muon::TcpServerBuilder> {
    let codec = LengthHeaderCodec::new(args.max_frame);
    Ok(TcpServer::builder(args.addr.as_str())
        .name("ticker")
        .tls(tls)
        .read_idle_timeout(Duration::from_secs(args.idle_secs))
        .on_message(move |conn, input| {
            codec.on_message(conn, input, |conn, frame| {
                command(conn, codec, frame, &bridge, &counts);
            })
        }))
}

/// One frame from a TLS client.
fn command(
    conn: &mut TcpConnection,
    codec: LengthHeaderCodec,
    frame: &[u8],
    bridge: &WsBroadcaster,
    counts: &Arc<Counts>,
) {
    let Ok(text) = std::str::from_utf8(frame) else {
        send_frame(conn, codec, b"ERR not UTF-8");
        return;
    };
    let (verb, rest) = text.split_once(' ').unwrap_or((text, ""));
    match verb {
        "SUB" if !rest.is_empty() => {
            conn.extensions_mut()
                .get_or_insert_with(Topics::default)
                .0
                .insert(rest.to_string());
            send_frame(conn, codec, format!("OK {rest}").as_bytes());
        }
        "PUB" => {
            let Some((topic, body)) = rest.split_once(' ') else {
                send_frame(conn, codec, b"ERR usage: PUB <topic> <text>");
                return;
            };
            counts.published.fetch_add(1, Ordering::Relaxed);
            let topic = topic.to_string();
            let Ok(frame) = codec.frame(format!("MSG {topic} {body}").as_bytes()) else {
                return;
            };
            let frame = Arc::new(frame);
            let delivered = counts.clone();
            // Every loop sends to its own subscribers: one task per loop, no lock.
            conn.for_each_sibling(move |peer| {
                let subscribed = peer
                    .extensions()
                    .get::<Topics>()
                    .is_some_and(|t| t.0.contains(&topic));
                if subscribed && peer.send(&frame) {
                    delivered.delivered.fetch_add(1, Ordering::Relaxed);
                }
            });
            bridge.broadcast(&Message::Text(rest.to_string()));
        }
        "PING" => {
            send_frame(conn, codec, b"PONG");
        }
        _ => {
            send_frame(conn, codec, b"ERR unknown command");
        }
    }
}

/// `/stats`, `/metrics` and the `/ws` bridge.
fn http_service(counters: Arc<Metrics>, counts: Arc<Counts>) -> HttpService {
    let for_metrics = counters.clone();
    let router = Router::new()
        .get("/stats", move |_req, _ctx| {
            Response::json(format!(
                r#"{{"published":{},"delivered_tls":{}}}"#,
                counts.published.load(Ordering::Relaxed),
                counts.delivered.load(Ordering::Relaxed)
            ))
            .into()
        })
        .get("/metrics", move |_req, _ctx| {
            Response::new(200)
                .header("Content-Type", metrics::CONTENT_TYPE)
                .body(for_metrics.render())
                .into()
        })
        // Browsers only listen: what they send is ignored.
        .websocket("/ws", |_ws: &mut muon::http::WsConn<'_>, _m: Message| {});
    HttpService::new(router).share_metrics(counters)
}

/// Sends `payload` as one frame. The codec refuses only frames over 4 GiB, which a
/// reply of the ticker never is.
fn send_frame(conn: &mut TcpConnection, codec: LengthHeaderCodec, payload: &[u8]) {
    if let Ok(frame) = codec.frame(payload) {
        conn.send(&frame);
    }
}
