//! The PROXY protocol (HAProxy's, versions 1 and 2): a load balancer in TCP mode tells
//! the server who the client really is in a short header before the client's bytes.
//!
//! Opt-in per server ([`crate::TcpServerBuilder::proxy_protocol`]). Then every
//! connection must start with a header, which is read before anything else (before
//! the TLS layer), bounded in size ([`ProxyProtocol::max_header_len`]) and in time
//! ([`ProxyProtocol::header_timeout`]), and only from a trusted source network
//! ([`ProxyProtocol::trust`]; loopback by default): anyone who can reach the port
//! could otherwise claim any address. A connection from an untrusted source, or with
//! a malformed, oversized, truncated or slow header, is closed with a warning that says
//! why; the server goes on. It counts as a failed handshake (`proxy_header`).
//!
//! Afterwards [`crate::TcpConnection::peer_addr`] is the original client's address and
//! [`crate::TcpConnection::proxy_addr`] the proxy's. A LOCAL header (a health check
//! from the proxy itself) or an UNKNOWN one keeps the proxy's address as the peer.

mod cidr;
pub mod parse;
#[cfg(test)]
mod parse_tests;
pub(crate) mod policy;
pub(crate) mod reader;

pub use crate::conn::proxy_info::ProxyInfo;
pub use cidr::Cidr;
pub use policy::ProxyProtocol;
