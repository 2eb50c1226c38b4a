//! Taking an accepted socket in as a server connection, on the loop that will own it:
//! TCP_NODELAY, the PROXY protocol header when the server expects one, the layer (TLS),
//! then the connection itself. Shared by both accept modes.

use std::net::SocketAddr;
use std::sync::Arc;

use mio::net::TcpStream;

use crate::proxy_protocol::{HeaderReader, ProxyInfo, ProxyProtocol};
use crate::service::Service;
use crate::stats::{CloseCause, HandshakeFailure::Other, HandshakeFailure::ProxyHeader};
use crate::LoopCtx;

/// What every accepted connection of one server goes through. Shared by its acceptors.
pub(crate) struct Intake {
    pub(crate) service: Arc<Service>,
    /// Expect a PROXY protocol header first, with this policy.
    pub(crate) proxy: Option<Arc<ProxyProtocol>>,
}

impl Intake {
    /// Takes `stream` in on this loop. The caller has counted it in the service
    /// (`Service::opened`); every failure here uncounts it and counts its close.
    pub(crate) fn take_in(&self, ctx: &mut LoopCtx, stream: TcpStream, peer: SocketAddr) {
        if self.service.options.tcp_nodelay {
            if let Err(e) = stream.set_nodelay(true) {
                log::debug!("{}: TCP_NODELAY on {peer}: {e}", self.service.name);
            }
        }
        let Some(proxy) = self.proxy.as_ref() else {
            return start_connection(ctx, &self.service, stream, peer, None);
        };
        if !proxy.trusts(peer.ip()) {
            log::warn!(
                "{}: {peer} is not a trusted PROXY protocol source; closing",
                self.service.name
            );
            let stats = &self.service.stats;
            stats.failed_before_start(ctx.index() as u32, ProxyHeader, CloseCause::Error);
            self.service.closed();
            return;
        }
        HeaderReader::start(ctx, self.service.clone(), stream, peer, proxy);
    }
}

/// Makes the layer and the connection; on failure, logs, counts and uncounts.
pub(crate) fn start_connection(
    ctx: &mut LoopCtx,
    service: &Arc<Service>,
    stream: TcpStream,
    peer: SocketAddr,
    proxy: Option<Box<ProxyInfo>>,
) {
    let loop_index = ctx.index() as u32;
    let layer = match service.layer.as_ref().map(|f| f.new_layer(peer)) {
        None => None,
        Some(Ok(layer)) => Some(layer),
        Some(Err(e)) => {
            log::warn!("{}: {peer}: cannot set up the layer: {e}", service.name);
            service
                .stats
                .failed_before_start(loop_index, Other, CloseCause::Error);
            service.closed();
            return;
        }
    };
    if let Err(e) = ctx.add_connection_with(stream, peer, service.clone(), layer, proxy) {
        log::warn!("{}: {peer}: cannot register: {e}", service.name);
        service
            .stats
            .failed_before_start(loop_index, Other, CloseCause::Error);
        service.closed();
    }
}
