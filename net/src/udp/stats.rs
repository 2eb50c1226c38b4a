//! A UDP server's counters: one cache-line-aligned block of relaxed atomics per loop,
//! added to only by that loop (the cross-thread send path adds to the block of the
//! loop it queues to), summed into a [`UdpStats`] snapshot on any thread.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Why a datagram was not delivered or not sent, as counted in [`UdpDrops`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropCause {
    /// Received larger than the receive slot (`MSG_TRUNC`): discarded, never cut.
    Truncated,
    /// The outbox was full (the socket's send buffer stayed full): not sent.
    QueueFull,
    /// `ENOBUFS` from the kernel (a full device queue): waiting would not help.
    NoBuffer,
    /// An ICMP error reported on the socket (port or host unreachable).
    Unreachable,
    /// Any other send error (`EMSGSIZE`, `EINVAL`, `EPERM`, ...).
    SendError,
    /// The on-datagram callback panicked on it.
    Panicked,
    /// Refused or left unsent because the server was stopping (a send from another
    /// thread after the stop began, or a reply still waiting at the stop deadline).
    Stopped,
    /// A client received a datagram with no request waiting (a reply that came after
    /// its request timed out).
    Unexpected,
}

const DROP_KINDS: usize = 8;

#[repr(align(128))]
#[derive(Default)]
struct LoopCounters {
    datagrams_in: AtomicU64,
    bytes_in: AtomicU64,
    datagrams_out: AtomicU64,
    bytes_out: AtomicU64,
    gso_sends: AtomicU64,
    gro_receives: AtomicU64,
    drops: [AtomicU64; DROP_KINDS],
}

/// Per-loop counters of one UDP server or client.
pub(crate) struct UdpCounters {
    loops: Box<[LoopCounters]>,
}

impl UdpCounters {
    pub(crate) fn new(loops: usize) -> Self {
        UdpCounters {
            loops: (0..loops.max(1)).map(|_| LoopCounters::default()).collect(),
        }
    }

    fn at(&self, lp: usize) -> &LoopCounters {
        &self.loops[lp % self.loops.len()]
    }

    pub(crate) fn received(&self, lp: usize, bytes: usize) {
        let c = self.at(lp);
        c.datagrams_in.fetch_add(1, Relaxed);
        c.bytes_in.fetch_add(bytes as u64, Relaxed);
    }

    pub(crate) fn sent(&self, lp: usize, datagrams: usize, bytes: usize, gso: bool) {
        let c = self.at(lp);
        c.datagrams_out.fetch_add(datagrams as u64, Relaxed);
        c.bytes_out.fetch_add(bytes as u64, Relaxed);
        if gso {
            c.gso_sends.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn gro(&self, lp: usize) {
        self.at(lp).gro_receives.fetch_add(1, Relaxed);
    }

    pub(crate) fn dropped(&self, lp: usize, why: DropCause, n: usize) {
        self.at(lp).drops[why as usize].fetch_add(n as u64, Relaxed);
    }

    /// The counters summed over the loops now.
    pub(crate) fn snapshot(&self) -> UdpStats {
        let mut s = UdpStats::default();
        for c in self.loops.iter() {
            s.datagrams_in += c.datagrams_in.load(Relaxed);
            s.bytes_in += c.bytes_in.load(Relaxed);
            s.datagrams_out += c.datagrams_out.load(Relaxed);
            s.bytes_out += c.bytes_out.load(Relaxed);
            s.gso_sends += c.gso_sends.load(Relaxed);
            s.gro_receives += c.gro_receives.load(Relaxed);
            let d = |k: DropCause| c.drops[k as usize].load(Relaxed);
            s.drops.truncated += d(DropCause::Truncated);
            s.drops.queue_full += d(DropCause::QueueFull);
            s.drops.no_buffer += d(DropCause::NoBuffer);
            s.drops.unreachable += d(DropCause::Unreachable);
            s.drops.send_error += d(DropCause::SendError);
            s.drops.panicked += d(DropCause::Panicked);
            s.drops.stopped += d(DropCause::Stopped);
            s.drops.unexpected += d(DropCause::Unexpected);
        }
        s
    }
}

/// Datagrams not delivered or not sent, by cause. See [`UdpStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpDrops {
    /// Received datagrams larger than the receive buffer (`MSG_TRUNC`), discarded
    /// whole rather than delivered cut.
    pub truncated: u64,
    /// Replies or sends refused because the outbox was full (the socket's send buffer
    /// stayed full: `EAGAIN`/`ENOBUFS` with the outbox at its limit).
    pub queue_full: u64,
    /// Sends refused by the kernel with `ENOBUFS` (a full device queue).
    pub no_buffer: u64,
    /// Datagrams sent that came back as an ICMP error (port or host unreachable):
    /// on a server's sockets through `IP_RECVERR` (after the send succeeded), on a
    /// client's connected socket as the error of its request.
    pub unreachable: u64,
    /// Sends that failed with any other error (`EMSGSIZE`, `EINVAL`, `EPERM`, ...).
    pub send_error: u64,
    /// Received datagrams whose callback panicked.
    pub panicked: u64,
    /// Sends refused or left unsent because the server was stopping: sent from
    /// another thread after the stop began, or still waiting for socket buffer space
    /// at the stop deadline.
    pub stopped: u64,
    /// Datagrams a [`super::client::UdpClient`] received with no request waiting (a
    /// reply that came after its request timed out).
    pub unexpected: u64,
}

/// A UDP server's counters, summed over its loops (see `UdpServerHandle::stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpStats {
    /// Datagrams delivered to the callback (a GRO batch counts each datagram).
    pub datagrams_in: u64,
    /// Payload bytes delivered.
    pub bytes_in: u64,
    /// Datagrams the kernel accepted for sending.
    pub datagrams_out: u64,
    /// Payload bytes the kernel accepted.
    pub bytes_out: u64,
    /// Messages sent with `UDP_SEGMENT` (several datagrams in one).
    pub gso_sends: u64,
    /// Receives that brought several datagrams coalesced by `UDP_GRO`.
    pub gro_receives: u64,
    /// Datagrams dropped, by cause.
    pub drops: UdpDrops,
}
