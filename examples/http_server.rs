//! HTTP/1.1 and HTTP/2 server with a WebSocket echo: `GET /` (a short text), `POST /echo`
//! (the body back), `GET /metrics` (Prometheus text), `GET /ws-echo` (WebSocket echo over
//! HTTP/1.1, for the Autobahn|Testsuite). Plain (HTTP/1.1, and h2c for a client that
//! opens with the HTTP/2 preface), or TLS with `--tls` (ALPN `h2`, then `http/1.1`).
//!
//! ```text
//! cargo run --release --example http_server -- --tls
//! curl --cacert certs/ca.crt https://localhost:8443/
//! curl --http2-prior-knowledge http://localhost:8080/
//! ```

use clap::Parser;
use muon::http::{metrics, HttpService, Limits, Message, Metrics, Response, Router, WsConn};

// `acceptor()` (without ALPN) is for the other examples.
#[allow(dead_code)]
#[path = "common/tls_args.rs"]
mod tls_args;

/// Muon HTTP server.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Worker loops (default: number of CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// TLS (HTTPS/WSS; ALPN `h2`, then `http/1.1`).
    #[command(flatten)]
    tls: tls_args::TlsArgs,
    /// Largest request body (413 above).
    #[arg(long, default_value_t = 1024 * 1024)]
    max_body: usize,
    /// Largest WebSocket message (close 1009 above); the Autobahn suite sends 16 MiB.
    #[arg(long, default_value_t = 32 * 1024 * 1024)]
    ws_max_message: usize,
    /// Log level (error, warn, info, debug, trace).
    #[arg(long, default_value = "info")]
    log: String,
}

fn main() {
    let args = Args::parse();
    muon::logging::init(&args.log);
    if let Err(e) = run(args) {
        log::error!("http_server: {e}");
        std::process::exit(1);
    }
}

fn ws_echo(ws: &mut WsConn<'_>, message: Message) {
    ws.send(&message);
}

fn run(args: Args) -> std::io::Result<()> {
    let counters = Metrics::new();
    let for_metrics = counters.clone();
    let router = Router::new()
        .get("/", |_req, _ctx| Response::text("Hello from Muon\n").into())
        // The HTTP/2 conformance suite (httpwg-cli, .ci/run) posts to `/` and expects 200.
        .post("/", |_req, _ctx| Response::text("Hello from Muon\n").into())
        .post("/echo", |mut req, _ctx| {
            let ty = req
                .header("content-type")
                .unwrap_or(b"application/octet-stream")
                .to_vec();
            Response::new(200)
                .header("Content-Type", ty)
                .body(req.take_body())
                .into()
        })
        .get("/metrics", move |_req, _ctx| {
            Response::new(200)
                .header("Content-Type", metrics::CONTENT_TYPE)
                .body(for_metrics.render())
                .into()
        })
        .websocket("/ws-echo", ws_echo);
    let limits = Limits {
        max_body_bytes: args.max_body,
        ws_max_message_bytes: args.ws_max_message,
        ..Limits::default()
    };
    let service = HttpService::new(router)
        .limits(limits)
        .share_metrics(counters.clone());
    let mut builder = muon::TcpServer::builder(args.addr.as_str())
        .name("http")
        .threads(args.threads.unwrap_or_else(num_cpus::get));
    // SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the TLS files.
    let mut signals = muon::signals::Signals::new();
    if let Some(tls) = args.tls.acceptor_with_alpn(&muon::http::ALPN_H2_HTTP11)? {
        signals = signals.on_reload(tls_args::reloader(tls.clone()));
        builder = builder.tls(tls);
    }
    let server = service.install(builder).build()?.start()?;
    counters.add_server("http", server.clone());
    let watch = signals.stop(server.clone()).install()?;
    log::info!(
        "http_server{} listening on {}",
        if args.tls.tls { " (TLS)" } else { "" },
        server.local_addr()
    );
    if watch.wait().in_time {
        Ok(())
    } else {
        Err(std::io::Error::other("not stopped in time"))
    }
}
