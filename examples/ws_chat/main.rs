//! WebSocket chat in the browser: `GET /` serves a page whose script joins the chat
//! over `/ws` (ws, or wss with `--tls`); every message goes to everyone, on every
//! loop (one task per loop, the frame encoded once).
//!
//! ```text
//! cargo run --release --example ws_chat -- --tls
//! # open https://localhost:8443/ in two tabs (the dev CA is certs/ca.crt)
//! ```

use std::path::PathBuf;

use clap::Parser;
use muon::http::{HttpService, Limits, Message, Response, Router, WsConn, WsHandler};

const PAGE: &str = include_str!("chat.html");

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
    /// Serve HTTPS/WSS (with the development certificate unless --cert/--key are given).
    #[arg(long)]
    tls: bool,
    /// PEM certificate chain for --tls.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/certs/server.crt"))]
    cert: PathBuf,
    /// PEM private key for --tls.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/certs/server.key"))]
    key: PathBuf,
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
        .on_high_water(4 * 1024 * 1024, |conn, queued| {
            log::warn!("{conn}: not reading ({queued} bytes queued); disconnecting");
            conn.force_close();
        });
    if args.tls {
        let tls = muon::ssl::TlsAcceptor::builder(&args.cert, &args.key)
            .alpn_protocols(&[muon::http::ALPN_HTTP11])
            .build()
            .map_err(std::io::Error::other)?;
        builder = builder.tls(tls);
    }
    let server = HttpService::new(router)
        .limits(limits)
        .install(builder)
        .build()?;
    log::info!(
        "ws_chat{} listening on {}",
        if args.tls { " (TLS)" } else { "" },
        server.local_addr()
    );
    server.run()
}
