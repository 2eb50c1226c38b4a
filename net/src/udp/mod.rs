//! UDP on the worker loops: a server with one `SO_REUSEPORT` socket per loop, batched
//! `recvmmsg`/`sendmmsg` I/O with GSO/GRO where the kernel offers them, replies from
//! the local address a datagram hit, and counters for everything dropped; and a
//! connected request/response client on a loop.
//!
//! See docs/udp.md. Files: `bind.rs` (sockets, offload detection), `addr.rs`
//! (addresses for the C structs), `batch.rs` (the system calls and control messages),
//! `errqueue.rs` (ICMP errors); these four hold the module's `unsafe`. `outbox.rs` (queued sends, GSO grouping,
//! send errors), `endpoint.rs` (one loop's socket), `link.rs` (how other threads reach
//! it), `ctx.rs` (the callback's context), `server.rs` + `builder.rs` + `shared.rs`
//! (the stop), `sender.rs` (sends from other threads), `stats.rs`; the client:
//! `client.rs` (the handle), `client_link.rs` (what it shares with the loop),
//! `client_socket.rs` (the loop side).

mod addr;
mod batch;
mod bind;
mod builder;
mod client;
mod client_link;
mod client_socket;
mod ctx;
mod endpoint;
mod errqueue;
mod link;
mod outbox;
mod sender;
mod server;
mod shared;
mod stats;

pub use builder::UdpServerBuilder;
pub use client::UdpClient;
pub use ctx::UdpCtx;
pub use sender::UdpSender;
pub use server::{UdpServer, UdpServerHandle};
pub use stats::{UdpDrops, UdpStats};
