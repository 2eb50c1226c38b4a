//! Muon: TCP and TLS servers and clients.
pub use net::*;
/// HTTP/1.1 and WebSocket over [`TcpServer`] (the `net-http` crate).
#[cfg(feature = "http")]
pub use net_http as http;
pub use net_ssl as ssl;
