//! What a connection keeps from its PROXY protocol header.

use std::net::SocketAddr;

use super::info::ProxyInfo;
use crate::conn::connection::TcpConnection;

impl TcpConnection {
    /// The proxy's address, when the connection came through the PROXY protocol (then
    /// [`TcpConnection::peer_addr`] is the original client's).
    pub fn proxy_addr(&self) -> Option<SocketAddr> {
        self.proxy.as_ref().map(|p| p.proxy)
    }

    /// Everything the connection's PROXY protocol header said, if it had one.
    pub fn proxy_info(&self) -> Option<&ProxyInfo> {
        self.proxy.as_deref()
    }
}
