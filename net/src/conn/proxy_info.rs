//! What a connection keeps from its PROXY protocol header (parsed in
//! `server/proxy_protocol/`).

use std::net::SocketAddr;

/// What a connection's PROXY protocol header said; see
/// [`crate::TcpConnection::proxy_info`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyInfo {
    /// The address the connection really came from: the proxy.
    pub proxy: SocketAddr,
    /// The address the original client connected to (on the proxy), when given.
    pub destination: Option<SocketAddr>,
    /// The header's version, 1 or 2.
    pub version: u8,
    /// A version 2 LOCAL command: the proxy's own connection (a health check).
    pub local: bool,
    /// Version 2 TLVs as (type, value), e.g. 0x01 ALPN, 0x02 authority, 0x05 unique id.
    pub tlvs: Vec<(u8, Vec<u8>)>,
}
