//! What the echo and chat servers share for running many processes on one port and
//! behind a load balancer: the command-line flags, and a `serve` that drains on
//! SIGTERM (or SIGINT) and exits 0, and hands its listeners to its successor when run
//! with `--handover PATH` (see docs/deployment.md).

use std::path::PathBuf;
use std::time::Duration;

use muon::{Cidr, ProxyProtocol, TcpServer, TcpServerBuilder};

/// Flags for several processes and hosts.
#[derive(clap::Args, Debug)]
pub struct ScaleArgs {
    /// SO_REUSEPORT: several processes listen on the same port.
    #[arg(long)]
    pub reuse_port: bool,
    /// Every worker loop accepts on its own SO_REUSEPORT listener (no hand-off).
    #[arg(long)]
    pub accept_per_loop: bool,
    /// Expect a PROXY protocol header (v1 or v2) on every connection.
    #[arg(long)]
    pub proxy_protocol: bool,
    /// A network trusted to send PROXY headers (repeatable; default loopback).
    #[arg(long = "proxy-from", value_name = "CIDR")]
    pub proxy_from: Vec<Cidr>,
    /// At most this many connections; more are accepted and closed at once.
    #[arg(long, value_name = "N")]
    pub max_conns: Option<usize>,
    /// Take the listeners of the process serving at PATH (if any), then serve them
    /// there for the next restart: a restart without a reset.
    #[arg(long, value_name = "PATH")]
    pub handover: Option<PathBuf>,
    /// On stop, let connections end by themselves this long before shutting them down.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub drain_grace_ms: u64,
    /// On stop, force-close connections still open this long after the shutdown.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub stop_timeout_ms: u64,
}

/// The hand-over state between `prepare` and `serve`: the predecessor to tell, the
/// path to offer our listeners at.
pub struct Handover {
    taken: Option<muon::handover::Taken>,
    path: Option<PathBuf>,
}

/// Applies the flags to `builder` (and takes the predecessor's listeners).
pub fn prepare(
    mut builder: TcpServerBuilder,
    args: &ScaleArgs,
) -> std::io::Result<(TcpServerBuilder, Handover)> {
    builder = builder
        .reuse_port(args.reuse_port)
        .accept_per_loop(args.accept_per_loop)
        .drain_grace(Duration::from_millis(args.drain_grace_ms))
        .stop_timeout(Duration::from_millis(args.stop_timeout_ms));
    if let Some(max) = args.max_conns {
        builder = builder.max_connections(max);
    }
    if args.proxy_protocol {
        let mut proxy = ProxyProtocol::default();
        if !args.proxy_from.is_empty() {
            proxy = proxy.trust(args.proxy_from.iter().copied());
        }
        builder = builder.proxy_protocol(proxy);
    }
    let mut taken = None;
    if let Some(path) = &args.handover {
        if let Some((listeners, t)) = muon::handover::take(path)? {
            log::info!(
                "took {} listener(s) over from {}",
                listeners.len(),
                path.display()
            );
            builder = builder.listeners(listeners);
            taken = Some(t);
        }
    }
    let path = args.handover.clone();
    Ok((builder, Handover { taken, path }))
}

/// Installs the stop signals for `server` (and `reload` on SIGHUP): call before the
/// "listening" log line, so a signal sent once it appears is always handled.
pub fn signals(
    server: &TcpServer,
    args: &ScaleArgs,
    reload: Option<Box<dyn Fn() + Send + Sync>>,
) -> std::io::Result<muon::signals::SignalWatch> {
    // The server's own bounds (grace, then stop timeout) plus time to confirm.
    let deadline =
        Duration::from_millis(args.drain_grace_ms + args.stop_timeout_ms) + Duration::from_secs(10);
    let mut signals = muon::signals::Signals::new()
        .stop(server.handle())
        .deadline(deadline);
    if let Some(reload) = reload {
        signals = signals.on_reload(reload);
    }
    signals.install()
}

/// Runs `server` until SIGTERM/SIGINT (`watch`) or a successor takes the listeners
/// over; then drains (stop accepting, grace, shut down, deadline) and returns.
pub fn serve(
    server: TcpServer,
    handover: Handover,
    watch: muon::signals::SignalWatch,
) -> std::io::Result<()> {
    let handle = server.handle();
    let main = std::thread::Builder::new()
        .name("main-reactor".into())
        .spawn(move || server.run())?;
    if let Some(taken) = handover.taken {
        taken.ready()?;
    }
    if let Some(path) = &handover.path {
        let stop = watch.requester();
        let server = handle.clone();
        muon::handover::offer(
            path,
            move || server.listeners(),
            move || stop.request("hand-over"),
        )?;
    }
    let stopped = watch.wait();
    let s = handle.stats();
    log::info!(
        "stopped ({}): {} accepted, {} closed by shutdown, {} forced",
        if stopped.in_time { "in time" } else { "late" },
        s.accepted,
        s.closes.shutdown,
        s.closes.forced
    );
    main.join()
        .map_err(|_| std::io::Error::other("the main reactor panicked"))?
}
