//! Chat client: sends each stdin line as a frame, prints every frame received.
//!
//! ```text
//! cargo run --release --example chat_server -- --tls &
//! cargo run --release --example chat_client -- --tls
//! ```

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use muon::codec::LengthHeaderCodec;
use muon::{RetryPolicy, TcpClient};

/// Muon chat client.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Server address, HOST:PORT.
    #[arg(long, default_value = "localhost:9443")]
    addr: String,
    /// Speak TLS, verifying the server against --ca.
    #[arg(long)]
    tls: bool,
    /// CA certificates (PEM) to trust; defaults to the development CA in certs/.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/certs/ca.crt"))]
    ca: PathBuf,
    /// Log level.
    #[arg(long, default_value = "warn")]
    log: String,
}

fn main() {
    let args = Args::parse();
    muon::logging::init(&args.log);
    if let Err(e) = run(args) {
        eprintln!("chat_client: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let codec = LengthHeaderCodec::default();
    let (down_tx, down_rx) = crossbeam_channel::bounded(1);
    let mut builder = TcpClient::builder(&args.addr)
        .name("chat-client")
        .retry(RetryPolicy::no_retry())
        .on_message(move |conn, input| {
            codec.on_message(conn, input, |_conn, frame| {
                let mut out = std::io::stdout().lock();
                let _ = out
                    .write_all(frame)
                    .and_then(|_| out.write_all(b"\n"))
                    .and_then(|_| out.flush());
            })
        })
        .on_connection(move |conn| {
            if !conn.is_connected() {
                let _ = down_tx.try_send(());
            }
        });
    if args.tls {
        // The server's name (SNI, verification) is the host of the address.
        let tls = muon::ssl::TlsConnector::builder()
            .ca_file(&args.ca)
            .build()?;
        builder = builder.tls(tls);
    }
    let client = builder.connect()?;
    let conn = client.wait_connected(Duration::from_secs(10))?;
    for line in std::io::stdin().lock().lines() {
        if !conn.send(codec.frame(line?.as_bytes())?) {
            return Err("connection closed".into());
        }
    }
    conn.shutdown();
    let _ = down_rx.recv_timeout(Duration::from_secs(5));
    Ok(())
}
