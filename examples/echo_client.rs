//! Echo client: sends each line of stdin, prints what comes back.
//!
//! ```text
//! cargo run --release --example echo -- --tls &
//! echo hello | cargo run --release --example echo_client -- --tls
//! ```
//!
//! Host names are resolved by Muon's resolver (the hosts file, then DNS on a loop,
//! never blocking one); `--resolv-conf` and `--hosts` name other files. Exits
//! non-zero, with the reason (the resolver's, or OpenSSL's), when the lookup, the
//! connection, the certificate verification or the handshake fails.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use muon::resolve::{Resolver, ResolverConfig};
use muon::{EventLoop, RetryPolicy, TcpClient};

/// Muon echo client.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Server address, HOST:PORT (the host name is also the TLS server name).
    #[arg(long, alias = "connect", default_value = "localhost:8443")]
    addr: String,
    /// The resolver's configuration (nameservers, search, options).
    #[arg(long, default_value = "/etc/resolv.conf")]
    resolv_conf: PathBuf,
    /// The hosts file.
    #[arg(long, default_value = "/etc/hosts")]
    hosts: PathBuf,
    /// Ask the nameservers on this port instead of 53.
    #[arg(long)]
    dns_port: Option<u16>,
    /// Speak TLS, verifying the server's certificate and host name.
    #[arg(long)]
    tls: bool,
    /// CA certificates (PEM) to trust instead of the system store. Defaults to the
    /// development CA in certs/.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/certs/ca.crt"))]
    ca: PathBuf,
    /// Server name for SNI and verification, if not the host of --addr.
    #[arg(long)]
    server_name: Option<String>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Seconds to wait for the connection (and handshake).
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Log level.
    #[arg(long, default_value = "warn")]
    log: String,
}

fn main() {
    let args = Args::parse();
    muon::logging::init(&args.log);
    if let Err(e) = run(args) {
        eprintln!("echo_client: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let timeout = Duration::from_secs(args.timeout);
    let (down_tx, down_rx) = crossbeam_channel::bounded(1);
    let mut config = ResolverConfig::from_files(&args.resolv_conf, &args.hosts)?;
    if let Some(port) = args.dns_port {
        config = config.port(port);
    }
    let resolver_loop = EventLoop::new("resolver")?;
    let resolver = Resolver::new(&resolver_loop.handle(), config);
    std::thread::Builder::new()
        .name("resolver".into())
        .spawn(move || resolver_loop.run())?;
    let mut builder = TcpClient::builder(&args.addr)
        .name("echo-client")
        .resolver(resolver)
        .retry(RetryPolicy::no_retry())
        .connect_timeout(timeout)
        .on_message(|_conn, input| {
            let mut out = std::io::stdout().lock();
            // Nothing useful to do if stdout is gone: the bytes are dropped.
            let _ = out.write_all(input.peek()).and_then(|_| out.flush());
            input.retrieve_all();
        })
        .on_connection(move |conn| {
            if !conn.is_connected() {
                let _ = down_tx.try_send(());
            }
        });
    if args.tls {
        let mut tls = muon::ssl::TlsConnector::builder()
            .ca_file(&args.ca)
            .handshake_timeout(timeout);
        if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
            tls = tls.client_cert(cert, key);
        }
        // The server's name (SNI, verification) is the host of the address, unless
        // --server-name says otherwise.
        let tls = tls.build()?;
        builder = match &args.server_name {
            Some(name) => builder.tls(tls.for_host(name)),
            None => builder.tls(tls),
        };
    }
    let client = builder.connect()?;
    let conn = client.wait_connected(timeout)?;
    for line in std::io::stdin().lock().lines() {
        let mut line = line?;
        line.push('\n');
        if !conn.send(line) {
            return Err(client
                .last_error()
                .map_or_else(|| "connection closed".into(), |e| e.to_string())
                .into());
        }
    }
    // Half-close: the server still answers what it has, then closes.
    conn.shutdown();
    down_rx
        .recv_timeout(timeout)
        .map_err(|_| "server did not close after our shutdown")?;
    Ok(())
}
