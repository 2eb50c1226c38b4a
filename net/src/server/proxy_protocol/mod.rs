//! The PROXY protocol (HAProxy's, versions 1 and 2): a load balancer in TCP mode tells
//! the server who the client really is in a short header before the client's bytes.
//!
//! Opt-in per server ([`crate::server::builder::TcpServerBuilder::proxy_protocol`]). Then every
//! connection must start with a header, which is read before anything else (before
//! the TLS layer), bounded in size ([`ProxyProtocol::max_header_len`]) and in time
//! ([`ProxyProtocol::header_timeout`]), and only from a trusted source network
//! ([`ProxyProtocol::trust`]; loopback by default): anyone who can reach the port
//! could otherwise claim any address. A connection from an untrusted source, or with
//! a malformed, oversized, truncated or slow header, is closed with a warning that says
//! why; the server goes on. It counts as a failed handshake (`proxy_header`).
//!
//! Afterwards [`crate::conn::connection::TcpConnection::peer_addr`] is the original client's address and
//! [`crate::conn::connection::TcpConnection::proxy_addr`] the proxy's. A LOCAL header (a health check
//! from the proxy itself) or an UNKNOWN one keeps the proxy's address as the peer.

mod cidr;
mod conn;
pub mod parse;
#[cfg(test)]
mod parse_tests;
mod reader;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub use cidr::Cidr;
pub(crate) use reader::HeaderReader;

/// A server's PROXY protocol policy. `ProxyProtocol::default()` trusts loopback only.
#[derive(Debug, Clone)]
pub struct ProxyProtocol {
    trusted: Vec<Cidr>,
    max_header_len: usize,
    header_timeout: Duration,
}

impl Default for ProxyProtocol {
    fn default() -> Self {
        ProxyProtocol {
            trusted: vec![Cidr::LOOPBACK_V4, Cidr::LOOPBACK_V6],
            max_header_len: 1024,
            header_timeout: Duration::from_secs(3),
        }
    }
}

impl ProxyProtocol {
    /// Trusts only these source networks (replacing the loopback default). Give the
    /// load balancers' addresses: a header from anywhere else closes the connection.
    pub fn trust(mut self, networks: impl IntoIterator<Item = Cidr>) -> Self {
        self.trusted = networks.into_iter().collect();
        self
    }

    /// The longest header accepted (default 1024 bytes; a version 1 header is at most
    /// 107 bytes, a version 2 header with HAProxy's usual TLVs a few hundred).
    pub fn max_header_len(mut self, len: usize) -> Self {
        self.max_header_len = len.max(16);
        self
    }

    /// How long a connection may take to send its whole header (default 3 s).
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// Whether a connection from `ip` may send a header.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted.iter().any(|c| c.contains(ip))
    }

    pub(crate) fn limits(&self) -> (usize, Duration) {
        (self.max_header_len, self.header_timeout)
    }
}

/// What a connection's PROXY protocol header said; see
/// [`crate::conn::connection::TcpConnection::proxy_info`].
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
