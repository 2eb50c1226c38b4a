//! The servers of the `http` and `h2` scenarios: Muon's `net-http` (HTTP/1.1, and h2c by
//! prior knowledge on the same port) and hyper 1.x on a tokio runtime with as many
//! workers (`hyper`: HTTP/1.1; `hyper-h2`: its h2c server). All answer `GET /` with the
//! same 14-byte text body and the same header fields (Date, Content-Type,
//! Content-Length).
//!
//! `--tls openssl|rustls` serves TLS with ALPN `h2`, `http/1.1` (the ECDSA P-256
//! certificate of `certs/`). The hyper servers then run on the same TLS library and the
//! very same context as Muon's provider: tokio-openssl on the `SslContext` of a
//! `muon::ssl::TlsAcceptor`, tokio-rustls on the `ServerConfig` of a
//! `muon::rustls::RustlsAcceptor`. So a ratio compares the HTTP and I/O code, not two
//! TLS libraries or two policies (ciphers, groups, tickets).

use std::convert::Infallible;
use std::io;

use clap::{Args, ValueEnum};
use muon::http::ALPN_H2_HTTP11;
use openssl::ssl::{Ssl, SslContext};

/// Which HTTP server.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpImpl {
    /// `muon::http` over `TcpServer`.
    Muon,
    /// hyper 1.x (`http1` server connection) on tokio.
    Hyper,
    /// hyper 1.x (`http2` server connection, h2c prior knowledge) on tokio.
    HyperH2,
}

/// Options of `muon-bench http-server`.
#[derive(Args, Debug)]
pub struct HttpServerArgs {
    /// Which server.
    #[arg(long = "impl", value_enum)]
    imp: HttpImpl,
    /// Worker threads (Muon worker loops / tokio worker threads; 1: current-thread
    /// runtime for hyper).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:9080")]
    addr: String,
    /// Cleartext (`none`), or TLS with ALPN `h2`, `http/1.1` on this provider.
    #[arg(long, value_enum, default_value_t = HttpTls::None)]
    tls: HttpTls,
}

/// The TLS of an HTTP benchmark server.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpTls {
    /// Cleartext (HTTP/1.1, h2c by prior knowledge).
    None,
    /// OpenSSL: `muon::ssl::TlsAcceptor` for Muon, tokio-openssl on its context for hyper.
    Openssl,
    /// rustls: `muon::rustls::RustlsAcceptor` for Muon, tokio-rustls on its config for hyper.
    Rustls,
}

/// What hyper's accept loop wraps each connection in.
#[derive(Clone)]
enum HyperTls {
    Plain,
    Openssl(SslContext),
    Rustls(tokio_rustls::TlsAcceptor),
}

const BODY: &str = "Hello, World!\n";

/// Runs the chosen server until the process is killed.
pub fn run(args: HttpServerArgs) -> io::Result<()> {
    let dir = crate::certs_dir();
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    let h2 = args.imp == HttpImpl::HyperH2;
    match (args.imp, args.tls) {
        (HttpImpl::Muon, HttpTls::None) => run_muon(&args, None::<muon::ssl::TlsAcceptor>),
        (HttpImpl::Muon, HttpTls::Openssl) => run_muon(&args, Some(openssl_acceptor(cert, key)?)),
        (HttpImpl::Muon, HttpTls::Rustls) => run_muon(&args, Some(rustls_acceptor(cert, key)?)),
        (_, HttpTls::None) => run_hyper(&args, h2, HyperTls::Plain),
        (_, HttpTls::Openssl) => {
            let ctx = openssl_acceptor(cert, key)?.context();
            run_hyper(&args, h2, HyperTls::Openssl(ctx))
        }
        (_, HttpTls::Rustls) => {
            let config = rustls_acceptor(cert, key)?.config();
            run_hyper(&args, h2, HyperTls::Rustls(config.into()))
        }
    }
}

fn openssl_acceptor(
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
) -> io::Result<muon::ssl::TlsAcceptor> {
    muon::ssl::TlsAcceptor::builder(cert, key)
        .alpn_protocols(&ALPN_H2_HTTP11)
        .build()
        .map_err(io::Error::other)
}

fn rustls_acceptor(
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
) -> io::Result<muon::rustls::RustlsAcceptor> {
    muon::rustls::RustlsAcceptor::builder(cert, key)
        .alpn_protocols(&ALPN_H2_HTTP11)
        .build()
        .map_err(io::Error::other)
}

fn run_muon<L: muon::LayerFactory>(args: &HttpServerArgs, tls: Option<L>) -> io::Result<()> {
    use muon::http::{HttpService, Response, Router};
    let router = Router::new().get("/", |_req, _ctx| Response::text(BODY).into());
    let mut builder = muon::TcpServer::builder(args.addr.as_str())
        .name("bench-http")
        .threads(args.threads);
    if let Some(tls) = tls {
        builder = builder.tls(tls);
    }
    let server = HttpService::new(router).install(builder).build()?;
    println!("muon http listening on {}", server.local_addr());
    server.run()
}

fn run_hyper(args: &HttpServerArgs, h2: bool, tls: HyperTls) -> io::Result<()> {
    let rt = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr.as_str()).await?;
        println!("hyper listening on {}", listener.local_addr()?);
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    eprintln!("hyper server: accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, Infallible>(
                        hyper::Response::builder()
                            .header("Content-Type", "text/plain; charset=utf-8")
                            .body(http_body_util::Full::new(bytes::Bytes::from_static(
                                BODY.as_bytes(),
                            )))
                            .expect("static response"),
                    )
                });
                match tls {
                    HyperTls::Plain => serve_hyper(stream, h2, service).await,
                    HyperTls::Openssl(ctx) => {
                        let Ok(ssl) = Ssl::new(&ctx) else { return };
                        let Ok(mut s) = tokio_openssl::SslStream::new(ssl, stream) else {
                            return;
                        };
                        if std::pin::Pin::new(&mut s).accept().await.is_ok() {
                            serve_hyper(s, h2, service).await;
                        }
                    }
                    HyperTls::Rustls(acceptor) => {
                        if let Ok(s) = acceptor.accept(stream).await {
                            serve_hyper(s, h2, service).await;
                        }
                    }
                }
            });
        }
    })
}

/// Serves one connection with hyper's HTTP/2 (`h2`) or HTTP/1.1 server connection.
async fn serve_hyper<I, S>(stream: I, h2: bool, service: S)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<hyper::body::Incoming> + Send,
    S::Future: Send + 'static,
    S::ResBody: Send + 'static,
    <S::ResBody as hyper::body::Body>::Data: Send,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let io = hyper_util::rt::TokioIo::new(stream);
    if h2 {
        let _ = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .serve_connection(io, service)
            .await;
    } else {
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, service)
            .await;
    }
}
