//! Muon: TCP and TLS servers and clients.
pub use net::*;
pub use net_ssl as ssl;
