//! The servers of the `http` and `h2` scenarios: Muon's `net-http` (HTTP/1.1, and h2c by
//! prior knowledge on the same port) and hyper 1.x on a tokio runtime with as many
//! workers (`hyper`: HTTP/1.1; `hyper-h2`: its h2c server). All answer `GET /` with the
//! same 14-byte text body and the same header fields (Date, Content-Type,
//! Content-Length).

use std::convert::Infallible;
use std::io;

use clap::{Args, ValueEnum};

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
}

const BODY: &str = "Hello, World!\n";

/// Runs the chosen server until the process is killed.
pub fn run(args: HttpServerArgs) -> io::Result<()> {
    match args.imp {
        HttpImpl::Muon => run_muon(&args),
        HttpImpl::Hyper => run_hyper(&args, false),
        HttpImpl::HyperH2 => run_hyper(&args, true),
    }
}

fn run_muon(args: &HttpServerArgs) -> io::Result<()> {
    use muon::http::{HttpService, Response, Router};
    let router = Router::new().get("/", |_req, _ctx| Response::text(BODY).into());
    let server = HttpService::new(router)
        .install(
            muon::TcpServer::builder(args.addr.as_str())
                .name("bench-http")
                .threads(args.threads),
        )
        .build()?;
    println!("muon http listening on {}", server.local_addr());
    server.run()
}

fn run_hyper(args: &HttpServerArgs, h2: bool) -> io::Result<()> {
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
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
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
                let io = hyper_util::rt::TokioIo::new(stream);
                if h2 {
                    let _ = hyper::server::conn::http2::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(io, service)
                    .await;
                } else {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                }
            });
        }
    })
}
