// The crate's front page is the README: its server and client examples are doctests.
#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub use net::*;

/// TLS with OpenSSL: the `net-ssl` crate (`muon-net-ssl`), plugged into servers and
/// clients with their `tls` setters.
pub use net_ssl as ssl;
