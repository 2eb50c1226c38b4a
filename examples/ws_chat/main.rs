//! WebSocket chat in the browser: `GET /` serves a page whose script joins the chat
//! over `/ws` (ws, or wss with `--tls`); every message goes to everyone, on every
//! loop (one task per loop, the frame encoded once).
//!
//! ```text
//! cargo run --release --example ws_chat -- --tls
//! # open https://localhost:8443/ in two tabs (the dev CA is certs/ca.crt)
//! ```

use clap::Parser;
use muon::http::{HttpService, Limits, Message, Response, Router, WsConn, WsHandler};

const PAGE: &str = include_str!("chat.html");

// `acceptor()` (without ALPN) is for the other examples.
#[allow(dead_code)]
#[path = "../common/tls_args.rs"]
mod tls_args;

/// Muon WebSocket chat.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8443")]
    addr: String,
    /// Worker loops (default: number of CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// TLS (HTTPS/WSS; ALPN `h2`, then `http/1.1`: the page over HTTP/2, the chat over
    /// a WebSocket on HTTP/1.1).
    #[command(flatten)]
    tls: tls_args::TlsArgs,
    /// Largest chat message in bytes (bigger closes that client with 1009).
    #[arg(long, default_value_t = 4096)]
    max_message: usize,
    /// Log level (error, warn, info, debug, trace).
    #[arg(long, default_value = "info")]
    log: String,
}

struct Room;

impl WsHandler for Room {
    fn on_open(&self, ws: &mut WsConn<'_>) {
        log::info!("{} joined", ws.peer_addr());
    }
    fn on_message(&self, ws: &mut WsConn<'_>, message: Message) {
        if let Message::Text(_) = message {
            ws.broadcast(&message);
        }
    }
    fn on_close(&self, ws: &mut WsConn<'_>, code: Option<u16>) {
        log::info!("{} left ({code:?})", ws.peer_addr());
    }
}

fn main() {
    let args = Args::parse();
    muon::logging::init(&args.log);
    if let Err(e) = run(args) {
        log::error!("ws_chat: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> std::io::Result<()> {
    let router = Router::new()
        .get("/", |_req, _ctx| Response::html(PAGE).into())
        .websocket("/ws", Room);
    let limits = Limits {
        ws_max_message_bytes: args.max_message,
        ..Limits::default()
    };
    let mut builder = muon::TcpServer::builder(args.addr.as_str())
        .name("chat")
        .threads(args.threads.unwrap_or_else(num_cpus::get))
        // A browser that stops reading is disconnected rather than buffered for.
        .high_water_mark(4 * 1024 * 1024)
        .on_high_water(|conn, queued| {
            log::warn!("{conn}: not reading ({queued} bytes queued); disconnecting");
            conn.force_close();
        });
    // SIGTERM/SIGINT drain (browsers get close 1001) and exit 0; SIGHUP reloads TLS.
    let mut signals = muon::signals::Signals::new();
    if let Some(tls) = args.tls.acceptor_with_alpn(&muon::http::ALPN_H2_HTTP11)? {
        signals = signals.on_reload(tls_args::reloader(tls.clone()));
        builder = builder.tls(tls);
    }
    let server = HttpService::new(router)
        .limits(limits)
        .install(builder)
        .build()?
        .start()?;
    let watch = signals.stop(server.clone()).install()?;
    log::info!(
        "ws_chat{} listening on {}",
        if args.tls.tls { " (TLS)" } else { "" },
        server.local_addr()
    );
    if watch.wait().in_time {
        Ok(())
    } else {
        Err(std::io::Error::other("not stopped in time"))
    }
}
