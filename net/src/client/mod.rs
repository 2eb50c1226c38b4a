//! The TCP client: its builder, the non-blocking connector, and the retry policy.
//!
//! Depends on `conn` and `reactor`.

pub(crate) mod builder;
pub(crate) mod connector;
pub(crate) mod happy_eyeballs;
pub(crate) mod retry;
pub(crate) mod tcp_client;
