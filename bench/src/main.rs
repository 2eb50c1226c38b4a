//! `muon-bench`: the echo servers (Muon, and tokio + tokio-openssl) that `bench/run.sh`
//! compares, the load generator that drives them, and the report writer.
//!
//! ```text
//! muon-bench server --impl muon|tokio [--tls] [--cert F --key F] --threads 1 --addr A
//! muon-bench http-server --impl muon|hyper --threads 1 --addr A
//! muon-bench load pingpong|handshake|bulk|memory --addr A --server-pid P [...]
//! muon-bench udp-server --impl muon|tokio --addr A
//! muon-bench udp-load --addr A --server-pid P --size 64 --flows 256
//! muon-bench report --results R.jsonl --floors F.txt --out docs/benchmarks.md
//! ```
//!
//! The load generator prints one JSON object per run on stdout; the server's CPU time
//! (utime + stime from `/proc/PID/stat`) and RSS (`VmRSS` from `/proc/PID/status`) are
//! read by the load generator itself at the edges of the measured window.

mod http_server;
mod load;
mod proc_stat;
mod report;
mod server;
mod svg;
mod udp;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Command line of `muon-bench`.
#[derive(Parser, Debug)]
#[command(about = "Muon vs tokio echo benchmarks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Which echo server to run.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    /// Muon's `TcpServer` (with `muon::ssl::TlsAcceptor` for TLS).
    Muon,
    /// A tokio multi-thread runtime (with tokio-openssl for TLS).
    Tokio,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run an echo server until killed.
    Server(server::ServerArgs),
    /// Run an HTTP/1.1 server (Muon or hyper) until killed.
    HttpServer(http_server::HttpServerArgs),
    /// Drive a running server and print one JSON line of results.
    Load(load::LoadArgs),
    /// Turn the JSON lines of a run into docs/benchmarks.md and SVG plots.
    Report(report::ReportArgs),
    /// Run a UDP echo server (Muon or tokio) on one thread until killed.
    UdpServer(udp::UdpServerArgs),
    /// Drive a UDP echo server with batched datagrams and print one JSON line.
    UdpLoad(udp::UdpLoadArgs),
    /// Print the OpenSSL version this binary is linked with.
    Version,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    raise_nofile_limit();
    let result = match cli.cmd {
        Cmd::Server(args) => server::run(args),
        Cmd::HttpServer(args) => http_server::run(args),
        Cmd::Load(args) => load::run(args),
        Cmd::Report(args) => report::run(args),
        Cmd::UdpServer(args) => udp::run_server(args),
        Cmd::UdpLoad(args) => udp::run_load(args),
        Cmd::Version => {
            println!("{}", openssl::version::version());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("muon-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Raises the soft descriptor limit to the hard one (10,000 idle connections need it).
fn raise_nofile_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// The repository's certificate directory (`certs/`).
pub fn certs_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../certs"))
}
