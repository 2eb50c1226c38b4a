//! The two echo servers. Both take the same certificate and the very same OpenSSL
//! context settings: the tokio server builds its `Ssl`s from the `SslContext` of a
//! `muon::ssl::TlsAcceptor`, so versions (TLS 1.2 + 1.3), `TLS12_CIPHERS`, `GROUPS`,
//! session cache, tickets and modes are identical by construction.

use std::io;
use std::path::PathBuf;
use std::pin::Pin;

use clap::Args;
use openssl::ssl::{Ssl, SslContext};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::Impl;

/// Read buffer of the tokio echo task: one 16 KiB TLS record, the largest message.
const TOKIO_BUF: usize = 16 * 1024;

/// Options of `muon-bench server`.
#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Which server.
    #[arg(long = "impl", value_enum)]
    imp: Impl,
    /// Serve TLS.
    #[arg(long)]
    tls: bool,
    /// PEM certificate (default certs/server.crt, ECDSA P-256).
    #[arg(long)]
    cert: Option<PathBuf>,
    /// PEM key (default certs/server.key).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Worker threads (Muon worker loops / tokio worker threads).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:9000")]
    addr: String,
    /// Muon only: every worker loop accepts on its own SO_REUSEPORT listener instead
    /// of the main loop accepting and handing connections over.
    #[arg(long)]
    accept_per_loop: bool,
}

/// Runs the chosen server until the process is killed.
pub fn run(args: ServerArgs) -> io::Result<()> {
    let dir = crate::certs_dir();
    let cert = args.cert.clone().unwrap_or_else(|| dir.join("server.crt"));
    let key = args.key.clone().unwrap_or_else(|| dir.join("server.key"));
    if matches!(args.imp, Impl::MuonRustls | Impl::TokioRustls) {
        let acceptor = if args.tls {
            Some(
                muon::rustls::RustlsAcceptor::from_pem_files(cert, key)
                    .map_err(io::Error::other)?,
            )
        } else {
            None
        };
        return match args.imp {
            Impl::MuonRustls => run_muon(&args, acceptor),
            _ => run_tokio_rustls(&args, acceptor.map(|a| a.config())),
        };
    }
    let acceptor = if args.tls {
        Some(muon::ssl::TlsAcceptor::from_pem_files(cert, key).map_err(io::Error::other)?)
    } else {
        None
    };
    match args.imp {
        Impl::Tokio => run_tokio(&args, acceptor.map(|a| a.context().to_owned())),
        _ => run_muon(&args, acceptor),
    }
}

/// tokio + tokio-rustls, on the `ServerConfig` of a `RustlsAcceptor` (same policy,
/// tickets and certificate as `muon-rustls` by construction).
fn run_tokio_rustls(
    args: &ServerArgs,
    config: Option<std::sync::Arc<muon::rustls::rustls::ServerConfig>>,
) -> io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(args.addr.as_str()).await?;
        println!("tokio-rustls listening on {}", listener.local_addr()?);
        let acceptor = config.map(tokio_rustls::TlsAcceptor::from);
        loop {
            let (sock, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("tokio-rustls server: accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = sock.set_nodelay(true);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = match acceptor {
                    Some(a) => serve_rustls(sock, a).await,
                    None => serve_plain(sock).await,
                };
            });
        }
    })
}

async fn serve_rustls(sock: TcpStream, acceptor: tokio_rustls::TlsAcceptor) -> io::Result<()> {
    let mut s = acceptor.accept(sock).await?;
    let mut buf = vec![0u8; TOKIO_BUF];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return s.shutdown().await;
        }
        s.write_all(&buf[..n]).await?;
    }
}

fn run_muon<L: muon::LayerFactory>(args: &ServerArgs, acceptor: Option<L>) -> io::Result<()> {
    let mut builder = muon::TcpServer::builder(args.addr.as_str())
        .name("bench")
        .threads(args.threads)
        .accept_per_loop(args.accept_per_loop)
        .on_message(|conn, input| {
            conn.send_buffer(input);
        });
    if let Some(tls) = acceptor {
        builder = builder.tls(tls);
    }
    let server = builder.build()?;
    println!("muon listening on {}", server.local_addr());
    server.run()
}

fn run_tokio(args: &ServerArgs, ctx: Option<SslContext>) -> io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(args.addr.as_str()).await?;
        println!("tokio listening on {}", listener.local_addr()?);
        loop {
            let (sock, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    eprintln!("tokio server: accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = sock.set_nodelay(true);
            let ctx = ctx.clone();
            tokio::spawn(async move {
                let _ = match ctx {
                    Some(ctx) => serve_tls(sock, &ctx).await,
                    None => serve_plain(sock).await,
                };
            });
        }
    })
}

async fn serve_plain(mut sock: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; TOKIO_BUF];
    loop {
        let n = sock.read(&mut buf).await?;
        if n == 0 {
            return sock.shutdown().await;
        }
        sock.write_all(&buf[..n]).await?;
    }
}

async fn serve_tls(sock: TcpStream, ctx: &SslContext) -> io::Result<()> {
    let ssl = Ssl::new(ctx).map_err(io::Error::other)?;
    let mut s = tokio_openssl::SslStream::new(ssl, sock).map_err(io::Error::other)?;
    Pin::new(&mut s).accept().await.map_err(io::Error::other)?;
    let mut buf = vec![0u8; TOKIO_BUF];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return s.shutdown().await;
        }
        s.write_all(&buf[..n]).await?;
    }
}
