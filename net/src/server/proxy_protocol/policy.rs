//! A server's PROXY protocol policy: whom to trust, how long and how large a header.

use std::net::IpAddr;
use std::time::Duration;

use super::cidr::Cidr;

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
