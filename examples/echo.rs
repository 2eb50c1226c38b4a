//! Echo server: every byte received is sent back. Plain TCP, or TLS with `--tls`.
//!
//! ```text
//! cargo run --release --example echo -- --tls
//! openssl s_client -connect 127.0.0.1:8443 -CAfile certs/ca.crt
//! ```

use clap::Parser;

#[path = "common/scale_out.rs"]
mod scale_out;
#[path = "common/tls_args.rs"]
mod tls_args;

/// Muon echo server.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on (IPv4 or IPv6; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8443")]
    addr: String,
    /// Worker loops (default: number of CPUs).
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    tls: tls_args::TlsArgs,
    /// Log level (error, warn, info, debug, trace).
    #[arg(long, default_value = "info")]
    log: String,
    #[command(flatten)]
    scale: scale_out::ScaleArgs,
}

fn main() {
    let args = Args::parse();
    muon::logging::init(&args.log);
    if let Err(e) = run(args) {
        log::error!("echo: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> std::io::Result<()> {
    let mut builder = muon::TcpServer::builder(args.addr.as_str())
        .name("echo")
        .threads(args.threads.unwrap_or_else(num_cpus::get))
        .on_connection(|conn| {
            if !conn.is_connected() {
                log::debug!("{conn} is down");
            } else if conn.proxy_info().is_some_and(|p| p.local) {
                log::debug!("health check from {}", conn.peer_addr());
            } else if let Some(proxy) = conn.proxy_addr() {
                log::info!("connection from {} via {proxy}", conn.peer_addr());
            } else {
                log::info!("connection from {}", conn.peer_addr());
            }
        })
        .on_message(|conn, input| {
            conn.send_buffer(input);
        });
    let mut reload = None;
    if let Some(tls) = args.tls.acceptor()? {
        reload = Some(tls_args::reloader(tls.clone()));
        builder = builder.tls(tls);
    }
    let (builder, handover) = scale_out::prepare(builder, &args.scale)?;
    let server = builder.build()?;
    let watch = scale_out::signals(&server, &args.scale, reload)?;
    log::info!(
        "echo{} listening on {}",
        if args.tls.tls { " (TLS)" } else { "" },
        server.local_addr()
    );
    scale_out::serve(server, handover, watch)
}
