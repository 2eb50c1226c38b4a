// The crate's front page is the README: its server and client examples are doctests.
#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

// The sub-crates' doc examples with the facade's paths, as doctests (never built
// into the library).
#[cfg(doctest)]
mod facade_examples;

pub use net::*;

/// HTTP/1.1 and WebSocket over [`TcpServer`]: the `net-http` crate (`muon-net-http`).
#[cfg(feature = "http")]
pub use net_http as http;
/// The rustls TLS provider (muon-net-rustls), beside OpenSSL's [`ssl`].
#[cfg(feature = "rustls")]
pub use net_rustls as rustls;
/// TLS with OpenSSL: the `net-ssl` crate (`muon-net-ssl`), plugged into servers and
/// clients with their `tls` setters.
pub use net_ssl as ssl;
