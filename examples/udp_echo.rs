//! UDP echo server: every datagram is sent back to its sender, from the local address
//! it was sent to. One socket per loop (`SO_REUSEPORT`), batched system calls.
//!
//! ```text
//! cargo run --release --example udp_echo -- --addr 0.0.0.0:9000 --threads 4
//! echo hello | nc -u -w1 127.0.0.1 9000
//! ```
//!
//! With `--reuse-port`, several processes can serve the same port; SIGTERM or SIGINT
//! stops it (draining the replies) and prints its counters.

use clap::Parser;

/// Muon UDP echo server.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to serve on (IPv4 or IPv6; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9000")]
    addr: String,
    /// Loops, each with its own socket (default: number of CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// Let other processes bind the same port (SO_REUSEPORT).
    #[arg(long)]
    reuse_port: bool,
    /// Log level (error, warn, info, debug, trace).
    #[arg(long, default_value = "info")]
    log: String,
}

fn main() {
    let args = Args::parse();
    muon::logging::init(&args.log);
    if let Err(e) = run(args) {
        log::error!("udp_echo: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> std::io::Result<()> {
    let server = muon::udp::UdpServer::builder(args.addr.as_str())
        .name("udp-echo")
        .threads(args.threads.unwrap_or_else(num_cpus::get))
        .reuse_port(args.reuse_port)
        .on_datagram(|ctx, datagram, _peer, _local| {
            ctx.reply(datagram);
        })
        .build()?;
    let handle = server.start()?;
    // Installed before the "listening" line, so a signal sent once it appears is
    // handled. No TCP server to stop: SIGTERM/SIGINT only end the wait, and the UDP
    // server is stopped below.
    let watch = muon::signals::Signals::new().install()?;
    log::info!("udp_echo listening on {}", handle.local_addr());
    let why = watch.wait().why;
    log::info!("udp_echo: {why}, stopping");
    let drained = handle.stop();
    log::info!(
        "udp_echo: stopped (drained: {drained}): {:?}",
        handle.stats()
    );
    Ok(())
}
