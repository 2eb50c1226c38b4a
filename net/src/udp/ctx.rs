//! `UdpCtx`: what the on-datagram callback gets besides the datagram — a way to reply
//! (from the local address the datagram hit), to send elsewhere, and its loop.

use std::net::SocketAddr;
use std::sync::Arc;

use super::outbox::Outbox;
use super::sender::{SendPath, UdpSender};
use crate::reactor::loop_ctx::LoopCtx;

/// The on-datagram callback: `(ctx, datagram, peer, local address it hit)`.
pub(crate) type OnDatagram = dyn Fn(&mut UdpCtx, &[u8], SocketAddr, SocketAddr) + Send + Sync;

/// The context of one received datagram, on the loop that received it. Sends queue
/// in the loop's outbox and leave in one `sendmmsg` after the receive batch.
pub struct UdpCtx<'a> {
    pub(crate) loop_ctx: &'a mut LoopCtx,
    pub(crate) out: &'a mut Outbox,
    pub(crate) path: &'a Arc<SendPath>,
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
}

impl UdpCtx<'_> {
    /// Sends `data` back to the datagram's sender, from the local address the
    /// datagram was sent to (so a client on a multi-homed host hears back from the
    /// address it used). Returns `false` if it was refused: the outbox is full because
    /// the socket's send buffer stayed full (counted in `drops.queue_full`).
    pub fn reply(&mut self, data: &[u8]) -> bool {
        self.out.push_copy(data, self.peer, Some(self.local.ip()))
    }

    /// Sends `data` to `to` from the local address this datagram hit. Returns `false`
    /// if the outbox refused it (see [`UdpCtx::reply`]).
    pub fn send_to(&mut self, data: &[u8], to: SocketAddr) -> bool {
        let from = (to.is_ipv4() == self.local.is_ipv4()).then(|| self.local.ip());
        self.out.push_copy(data, to, from)
    }

    /// The datagram's sender.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The local address (and the server's port) the datagram was sent to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The loop running the callback: timers, tasks, its index.
    pub fn loop_ctx(&mut self) -> &mut LoopCtx {
        self.loop_ctx
    }

    /// A handle to send through this server from any thread (for a reply computed
    /// elsewhere).
    pub fn sender(&self) -> UdpSender {
        UdpSender {
            path: self.path.clone(),
        }
    }
}
