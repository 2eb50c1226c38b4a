//! A loop's queue of datagrams to send, flushed with `sendmmsg`.
//!
//! Replies queue here during a receive batch and leave together after it (one system
//! call for up to 64 datagrams). Consecutive datagrams to one peer from one source
//! address, all of one size (the last may be shorter), leave as one GSO message
//! (`UDP_SEGMENT`) when the kernel offers it. Buffers come from a per-loop pool (at
//! most 256 buffers of at most 4 KiB), so a reply of up to 4 KiB allocates nothing
//! once the pool is warm.
//!
//! Errors: `EAGAIN` (the socket's send buffer is full) keeps the queue and waits for
//! the next writable edge; the queue is bounded, and a datagram beyond the bound is
//! counted as `queue_full` and refused. `ENOBUFS`, ICMP errors and other errors drop
//! the one message they belong to, counted by cause; the rest go on. A GSO message
//! the kernel or device refuses (`EINVAL`, `EIO`) lowers the largest segment size
//! GSO is used for, logs once, and is sent again as plain datagrams.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::RawFd;
use std::sync::Arc;

use super::batch::{SendBatch, MAX_BATCH};
use super::stats::{DropCause, UdpCounters};

/// Segments per GSO message (the kernel's `UDP_MAX_SEGMENTS` is 64 on older kernels).
const GSO_MAX_SEGMENTS: usize = 64;
/// Payload bytes per GSO message (below the IPv4 limit of 65,507).
const GSO_MAX_BYTES: usize = 65_000;
/// Pooled buffers kept per loop.
const POOL_MAX: usize = 256;
/// Buffers larger than this are not pooled: a burst of 64 KiB replies must not leave
/// 16 MiB per loop behind. Below it (every MTU-sized datagram) nothing is allocated.
const POOL_BUFFER_MAX: usize = 4096;

/// One datagram waiting to be sent.
pub(crate) struct OutDatagram {
    pub(crate) buf: Vec<u8>,
    pub(crate) to: SocketAddr,
    pub(crate) from: Option<IpAddr>,
}

/// How a flush ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flushed {
    /// Everything queued was handed to the kernel (or dropped, counted).
    Empty,
    /// The socket's send buffer is full; the rest waits for a writable edge.
    Blocked,
}

/// A loop's outbox. See the module docs.
pub(crate) struct Outbox {
    fd: RawFd,
    queue: VecDeque<OutDatagram>,
    pool: Vec<Vec<u8>>,
    limit: usize,
    batch: SendBatch,
    /// The largest segment GSO is used for (0: no GSO).
    gso_max_segment: usize,
    blocked: bool,
    counters: Arc<UdpCounters>,
    loop_index: usize,
}

impl Outbox {
    pub(crate) fn new(
        fd: RawFd,
        v6: bool,
        limit: usize,
        gso: bool,
        counters: Arc<UdpCounters>,
        loop_index: usize,
    ) -> Self {
        Outbox {
            fd,
            queue: VecDeque::with_capacity(limit.min(MAX_BATCH)),
            pool: Vec::new(),
            limit: limit.max(1),
            batch: SendBatch::new(v6),
            gso_max_segment: if gso { GSO_MAX_BYTES } else { 0 },
            blocked: false,
            counters,
            loop_index,
        }
    }

    /// The socket became writable again.
    pub(crate) fn writable(&mut self) {
        self.blocked = false;
    }

    /// Whether there is room for one more datagram, flushing first if the queue is
    /// full and the socket may take more. Counts a refusal.
    fn make_room(&mut self) -> bool {
        if self.queue.len() >= self.limit && !self.blocked {
            self.flush();
        }
        if self.queue.len() >= self.limit {
            self.counters
                .dropped(self.loop_index, DropCause::QueueFull, 1);
            return false;
        }
        true
    }

    /// Queues a copy of `data` (into a pooled buffer). Returns whether it was queued.
    pub(crate) fn push_copy(&mut self, data: &[u8], to: SocketAddr, from: Option<IpAddr>) -> bool {
        if !self.make_room() {
            return false;
        }
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(data);
        self.queue.push_back(OutDatagram { buf, to, from });
        true
    }

    /// Queues a datagram built elsewhere (another thread's send).
    pub(crate) fn push_owned(&mut self, d: OutDatagram) -> bool {
        if !self.make_room() {
            return false;
        }
        self.queue.push_back(d);
        true
    }

    /// Drops everything still queued, counted as `cause`.
    pub(crate) fn discard(&mut self, cause: DropCause) {
        let n = self.queue.len();
        if n > 0 {
            self.counters.dropped(self.loop_index, cause, n);
            self.queue.clear();
        }
    }

    /// Sends what is queued until it is empty or the socket is full.
    pub(crate) fn flush(&mut self) -> Flushed {
        if self.blocked {
            return Flushed::Blocked;
        }
        while !self.queue.is_empty() {
            let (taken, outcome) = self.send_one_batch();
            for _ in 0..taken {
                if let Some(d) = self.queue.pop_front() {
                    if self.pool.len() < POOL_MAX && d.buf.capacity() <= POOL_BUFFER_MAX {
                        self.pool.push(d.buf);
                    }
                }
            }
            if outcome == Flushed::Blocked {
                self.blocked = true;
                return Flushed::Blocked;
            }
        }
        Flushed::Empty
    }

    /// Builds one `sendmmsg` batch from the front of the queue and sends it. Returns
    /// how many queued datagrams are done with (sent or dropped, counted) and whether
    /// the socket is full.
    fn send_one_batch(&mut self) -> (usize, Flushed) {
        self.batch.clear();
        let gso_max = self.gso_max_segment;
        for d in self.queue.iter() {
            if self
                .batch
                .can_append(d.to, d.from, d.buf.len(), GSO_MAX_SEGMENTS, GSO_MAX_BYTES)
                && d.buf.len() <= gso_max
                && self
                    .batch
                    .messages()
                    .last()
                    .is_some_and(|m| m.segment_len() <= gso_max)
            {
                self.batch.append(&d.buf);
            } else if self.batch.has_room(1) {
                self.batch.push(d.to, d.from, &d.buf);
            } else {
                break;
            }
        }
        let msgs = self.batch.messages().len();
        let mut done_msgs = 0;
        let mut done_datagrams = 0;
        while done_msgs < msgs {
            // The payloads are the queue's buffers, untouched until the caller pops them.
            match self.batch.send(self.fd, done_msgs) {
                Ok(k) => {
                    for i in done_msgs..done_msgs + k {
                        let (count, bytes) = self.batch.size_of(i);
                        self.counters.sent(self.loop_index, count, bytes, count > 1);
                        done_datagrams += count;
                    }
                    done_msgs += k;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return (done_datagrams, Flushed::Blocked);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let (count, _) = self.batch.size_of(done_msgs);
                    let segment = self.batch.messages()[done_msgs].segment_len();
                    if count > 1 && matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EIO)) {
                        // The path refused this GSO size: send these again as plain
                        // datagrams (next batch) and use GSO only below this size.
                        self.gso_max_segment = segment.saturating_sub(1);
                        log::warn!(
                            "UDP GSO refused for {segment}-byte segments ({e}); using it only below that size"
                        );
                        return (done_datagrams, Flushed::Empty);
                    }
                    self.counters.dropped(self.loop_index, classify(&e), count);
                    log::debug!(
                        "UDP send to {} failed: {e}",
                        self.batch.messages()[done_msgs].to
                    );
                    done_datagrams += count;
                    done_msgs += 1;
                }
            }
        }
        (done_datagrams, Flushed::Empty)
    }
}

/// The drop cause of a send error.
pub(crate) fn classify(e: &io::Error) -> DropCause {
    match e.raw_os_error() {
        Some(libc::ENOBUFS) => DropCause::NoBuffer,
        Some(libc::ECONNREFUSED | libc::EHOSTUNREACH | libc::ENETUNREACH | libc::EHOSTDOWN) => {
            DropCause::Unreachable
        }
        _ => DropCause::SendError,
    }
}
