//! `UdpSender`: sends through a UDP server's sockets from any thread.

use std::hash::{Hash, Hasher};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::link::Link;
use super::outbox::OutDatagram;
use super::stats::{DropCause, UdpCounters};

/// What every sender of one server shares: the loops' links, the counters, the stop
/// flag.
pub(crate) struct SendPath {
    pub(crate) links: Vec<Arc<Link>>,
    pub(crate) counters: Arc<UdpCounters>,
    pub(crate) stopping: AtomicBool,
}

impl SendPath {
    /// Whether a stop has begun.
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }
}

/// A `Clone + Send` handle that queues datagrams to a server's loops. Datagrams to one
/// peer always go through the same loop, so they leave in the order they were sent.
/// Each send copies the payload once (into the datagram that crosses threads); a burst
/// of sends costs one task on the loop and leaves in `sendmmsg` batches.
#[derive(Clone)]
pub struct UdpSender {
    pub(crate) path: Arc<SendPath>,
}

impl UdpSender {
    /// Sends `data` to `to` from the kernel's choice of source address.
    ///
    /// Errors: `WouldBlock` when that loop's inbox is full (counted in
    /// `drops.queue_full`), `NotConnected` once the server is stopping (counted in
    /// `drops.stopped`).
    pub fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<()> {
        self.send(data, to, None)
    }

    /// Sends `data` to `to` from the local address `from` (one of the host's
    /// addresses, of `to`'s family), as a reply from the address a request hit.
    pub fn send_from(&self, data: &[u8], to: SocketAddr, from: IpAddr) -> io::Result<()> {
        self.send(data, to, Some(from))
    }

    fn send(&self, data: &[u8], to: SocketAddr, from: Option<IpAddr>) -> io::Result<()> {
        let links = &self.path.links;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        to.hash(&mut h);
        let link = &links[(h.finish() % links.len() as u64) as usize];
        let counters = &self.path.counters;
        if self.path.is_stopping() {
            counters.dropped(link.index, DropCause::Stopped, 1);
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "UDP server stopping",
            ));
        }
        let d = OutDatagram {
            buf: data.to_vec(),
            to,
            from,
        };
        match link.inbox.try_send(d) {
            Ok(()) => {
                link.poke();
                Ok(())
            }
            Err(crossbeam_channel::TrySendError::Full(_)) => {
                counters.dropped(link.index, DropCause::QueueFull, 1);
                link.poke();
                Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "UDP send queue full",
                ))
            }
            Err(crossbeam_channel::TrySendError::Disconnected(_)) => {
                counters.dropped(link.index, DropCause::Stopped, 1);
                Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "UDP server stopped",
                ))
            }
        }
    }
}
