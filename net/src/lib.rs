//! Muon's reactor core: event loops, buffers, timers, a multi-reactor TCP server,
//! connections and clients. No OpenSSL here: TLS plugs in through [`Layer`].
//!
//! Threads: a main reactor accepts and hands each connection round-robin to one of N
//! worker [`EventLoop`]s, which owns it for its whole life. Callbacks run on the owning
//! loop with `&mut` [`TcpConnection`]; other threads use [`ConnHandle`] and
//! [`LoopHandle`], which queue tasks to the loop.
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

mod acceptor;
mod buffer;
mod builder_setters;
mod callback_owner;
mod callbacks;
mod client;
mod client_builder;
pub mod codec;
mod conn_events;
mod conn_handle;
mod conn_read;
mod conn_write;
mod connection;
mod connector;
mod drain;
mod event_loop;
mod extensions;
pub mod handover;
mod intake;
mod layer;
mod lifecycle;
mod listen;
pub mod logging;
mod loop_ctx;
mod loop_handle;
mod loop_pool;
mod options;
pub mod proxy_protocol;
mod retry;
mod server;
mod server_builder;
mod service;
mod service_broadcast;
mod slab;
mod socket;
mod stats;
mod timer_queue;
mod tls_info;
mod util;
mod wake_flag;

pub use buffer::Buffer;
pub use client::{RetryCallback, TcpClient};
pub use client_builder::TcpClientBuilder;
pub use conn_handle::ConnHandle;
pub use connection::{ConnId, ConnState, TcpConnection};
pub use event_loop::EventLoop;
pub use extensions::Extensions;
pub use layer::{Layer, LayerFactory, LayerRead};
pub use loop_ctx::LoopCtx;
pub use loop_handle::LoopHandle;
pub use loop_pool::LoopPool;
pub use proxy_protocol::{Cidr, ProxyInfo, ProxyProtocol};
pub use retry::RetryPolicy;
pub use server::{ServerHandle, TcpServer};
pub use server_builder::TcpServerBuilder;
pub use stats::{CloseCounts, HandshakeFailures, ServerStats};
pub use timer_queue::TimerId;
pub use tls_info::TlsInfo;
