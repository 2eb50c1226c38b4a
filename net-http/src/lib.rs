//! HTTP/1.1 and WebSocket for Muon, as a codec over `TcpServer`: `net` stays
//! free of HTTP, and TLS comes from the server's layer (`net_ssl::TlsAcceptor`, ALPN
//! [`ALPN_HTTP11`]).
//!
//! - [`Router`] maps method + path to a [`Handler`] that runs on the connection's
//!   loop and answers at once ([`Reply::Now`]) or later, from any thread, through a
//!   [`Responder`]; responses always go out in request order (pipelining).
//! - Keep-alive, `Content-Length` and chunked bodies both ways, `HEAD`,
//!   `Expect: 100-continue`, a cached `Date`, streamed bodies with backpressure.
//! - [`Limits`] bound every buffer and wait; RFC 9112's smuggling rules refuse
//!   ambiguous framing with 400 and close.
//! - [`ws`]: RFC 6455 WebSocket endpoints ([`Router::websocket`]).
//! - [`Metrics`]: counters in the Prometheus text format for `/metrics`.
//!
//! **How to reach it.** Applications depend on the facade package `muon-reactor` and
//! write `muon::http::HttpService`, `muon::http::Router`, ... (the facade's own docs
//! compile these examples with those paths, `src/facade_examples.rs`). The examples on
//! these pages use this crate's import name `net_http::` because a crate's doctests
//! cannot import the facade that depends on it: in a project on the facade, read
//! `net_http::` as `muon::http::` and `net::` as `muon::`.
//!
//! ```no_run
//! use net_http::{HttpService, Reply, Response, Router};
//! let router = Router::new()
//!     .get("/", |_req, _ctx| Response::text("hello\n").into())
//!     .post("/echo", |mut req, _ctx| Response::new(200).body(req.take_body()).into());
//! let server = HttpService::new(router)
//!     .install(net::TcpServer::builder("127.0.0.1:8080").threads(2))
//!     .build()?;
//! server.run()
//! # ;Ok::<(), std::io::Error>(())
//! ```
#![deny(missing_docs)]

mod alpn;
mod app;
mod chunked;
mod date;
mod error;
mod field_check;
#[doc(hidden)]
pub mod fuzzing;
mod h1;
mod h2;
mod h2_metrics;
mod handler;
mod head;
mod limits;
pub mod metrics;
mod path_hash;
mod request;
mod response;
mod router;
mod server_metrics;
mod service;
mod udp_metrics;
pub mod ws;

pub use alpn::{ALPN_H2, ALPN_H2_HTTP11, ALPN_HTTP11};
pub use error::HttpError;
pub use handler::{Ctx, Reply, Responder};
pub use limits::Limits;
pub use metrics::Metrics;
pub use request::Request;
pub use response::{Body, BodySource, Response};
pub use router::{Handler, Router};
pub use service::HttpService;
pub use ws::{Message, WsBroadcaster, WsConn, WsHandle, WsHandler};
