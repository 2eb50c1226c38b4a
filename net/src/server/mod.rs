//! The TCP server: its builder, listening sockets, the acceptor (main reactor or one per
//! loop), the intake every accepted socket passes (PROXY protocol header, then adoption
//! by a loop), the graceful stop, and the hand-over of listeners to a new process.
//!
//! Depends on `conn` and `reactor`.

pub(crate) mod acceptor;
pub(crate) mod builder;
pub(crate) mod drain;
pub mod handover;
pub(crate) mod intake;
pub(crate) mod listen;
pub mod proxy_protocol;
pub(crate) mod tcp_server;
pub(crate) mod workers;
