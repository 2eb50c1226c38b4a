//! Muon's reactor core: event loops, buffers, timers, a multi-reactor TCP server,
//! connections and clients. No OpenSSL here: TLS plugs in through [`Layer`].
//!
//! Threads: a main reactor accepts and hands each connection round-robin to one of N
//! worker [`EventLoop`]s, which owns it for its whole life. Callbacks run on the owning
//! loop with `&mut` [`TcpConnection`]; other threads use [`ConnHandle`] and
//! [`LoopHandle`], which queue tasks to the loop.
//!
//! **How to reach it.** Applications depend on the facade package `muon-reactor` and
//! write `muon::TcpServer`, `muon::Buffer`, ... (the facade's own docs compile these
//! examples with those paths, `src/facade_examples.rs`). The examples on these pages
//! use this crate's import name `net::` because a crate's doctests cannot import the
//! facade that depends on it: in a project on the facade, read `net::` as `muon::`.
//!
//! ```no_run
//! net::logging::init("info");
//! let server = net::TcpServer::builder("127.0.0.1:8443")
//!     .name("echo")
//!     .on_message(|conn, input| {
//!         conn.send_buffer(input);
//!     })
//!     .build()?;
//! server.run()
//! # ;Ok::<(), std::io::Error>(())
//! ```
#![deny(missing_docs)]

mod buffer;
mod builder_setters;
mod client;
pub mod codec;
mod conn;
mod layer;
pub mod logging;
mod reactor;
pub mod resolve;
mod server;
pub mod signals;
mod socket;
mod stats;
pub mod udp;
mod util;

pub use buffer::{Buffer, CHEAP_PREPEND};
pub use client::builder::TcpClientBuilder;
pub use client::retry::RetryPolicy;
pub use client::tcp_client::{RetryCallback, TcpClient};
pub use conn::connection::{ConnId, ConnState, TcpConnection};
pub use conn::extensions::Extensions;
pub use conn::handle::ConnHandle;
pub use layer::reload::{FileDigests, ReloadSummary};
pub use layer::tls_info::TlsInfo;
pub use layer::{Layer, LayerFactory, LayerRead};
pub use reactor::deadline::{deadline_after, FOREVER};
pub use reactor::event_loop::EventLoop;
pub use reactor::loop_ctx::LoopCtx;
pub use reactor::loop_handle::LoopHandle;
pub use reactor::loop_pool::LoopPool;
pub use reactor::timer_queue::TimerId;
pub use server::builder::TcpServerBuilder;
pub use server::proxy_protocol::{Cidr, ProxyInfo, ProxyProtocol};
pub use server::tcp_server::{ServerHandle, TcpServer};
pub use server::{handover, proxy_protocol};
pub use stats::{CloseCounts, HandshakeFailures, ServerStats};
