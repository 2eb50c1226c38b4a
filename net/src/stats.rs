//! Per-server counters: cheap enough to stay on, readable from any thread.
//!
//! Ownership: one [`Counters`] per server (or client), inside its `Service`. It holds
//! one cache-line-aligned block of plain atomics per loop; a loop only ever adds to its
//! own block (`Relaxed`, uncontended, so the line stays in that core's cache), and a
//! reader sums the blocks into a [`ServerStats`] snapshot. A snapshot is therefore not
//! one instant across loops: each counter is exact, their sum may lag by the events
//! that happened while it was being read.
//!
//! Hooks: the connection code calls one method here per event (`bytes_in`,
//! `bytes_out`, `accepted`, `handshake_ok`, `released`); which cause closed a
//! connection is noted on the connection as it happens ([`ConnTally`]) and counted
//! once, when the connection is released.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Why a connection closed, as counted in [`CloseCounts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseCause {
    /// The peer ended its side first (EOF or TLS close_notify), then we closed.
    PeerEof,
    /// We shut down first (the application, or a graceful server stop).
    Shutdown,
    /// A reset or another I/O or protocol error.
    Error,
    /// The TLS handshake (or PROXY header) did not complete in time.
    HandshakeTimeout,
    /// Nothing read or written for the idle timeout.
    IdleTimeout,
    /// A half-closed connection outlived the close delay.
    CloseDelayTimeout,
    /// Closed at once: `force_close`, a panicking callback, a loop quitting.
    Forced,
}

impl CloseCause {
    /// The orderly causes say who started the close; a later error or timeout is what
    /// actually ended the connection and wins. A plain `force_close` does not: code
    /// that saw the peer go (or shut down) often closes that way.
    pub(crate) fn is_orderly(self) -> bool {
        matches!(self, CloseCause::PeerEof | CloseCause::Shutdown)
    }
}

/// Why a handshake failed, as counted in [`HandshakeFailures`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandshakeFailure {
    /// The handshake timer fired.
    Timeout,
    /// The peer closed (or reset) before the handshake completed.
    PeerClosed,
    /// The layer refused the peer's messages (TLS alert, bad version, ...).
    Protocol,
    /// A bad, untrusted, oversized or slow PROXY protocol header.
    ProxyHeader,
    /// Anything else: the layer could not be set up, the server stopped meanwhile.
    Other,
}

/// Why a connection's handshake failed, noted by the connection and counted when it
/// is released (the close cause itself is decided by its `Lifecycle`).
#[derive(Debug, Default)]
pub(crate) struct ConnTally {
    handshake: Option<HandshakeFailure>,
}

impl ConnTally {
    /// Notes why the handshake failed (the first reason given wins).
    pub(crate) fn handshake_failed(&mut self, reason: HandshakeFailure) {
        self.handshake.get_or_insert(reason);
    }
}

/// One loop's counters, alone on its cache line(s).
#[repr(align(128))]
#[derive(Default)]
struct LoopCounters {
    accepted: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    handshakes_ok: AtomicU64,
    handshake_failed: [AtomicU64; 5],
    closes: [AtomicU64; 8],
}

/// Index of the "refused: connection limit" close count.
const CLOSE_LIMIT: usize = 7;

/// A server's (or client's) counters, one block per loop. See the module docs.
pub(crate) struct Counters {
    loops: Box<[LoopCounters]>,
}

impl Default for Counters {
    fn default() -> Self {
        // One block per core is enough: a loop index beyond it shares a block (the
        // adds stay exact, they only stop being uncontended).
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        Counters {
            loops: (0..n.max(1)).map(|_| LoopCounters::default()).collect(),
        }
    }
}

impl Counters {
    fn at(&self, loop_index: u32) -> &LoopCounters {
        &self.loops[loop_index as usize % self.loops.len()]
    }

    /// A connection was accepted (counted by the loop that took it in).
    pub(crate) fn accepted(&self, loop_index: u32) {
        self.at(loop_index).accepted.fetch_add(1, Relaxed);
    }

    /// Bytes read from a socket (ciphertext with TLS).
    pub(crate) fn bytes_in(&self, loop_index: u32, n: usize) {
        self.at(loop_index).bytes_in.fetch_add(n as u64, Relaxed);
    }

    /// Bytes written to a socket (ciphertext with TLS).
    pub(crate) fn bytes_out(&self, loop_index: u32, n: usize) {
        self.at(loop_index).bytes_out.fetch_add(n as u64, Relaxed);
    }

    /// A layer's handshake completed.
    pub(crate) fn handshake_ok(&self, loop_index: u32) {
        self.at(loop_index).handshakes_ok.fetch_add(1, Relaxed);
    }

    /// A connection was accepted and closed at once: the connection limit was reached.
    pub(crate) fn refused_at_limit(&self, loop_index: u32) {
        let c = self.at(loop_index);
        c.accepted.fetch_add(1, Relaxed);
        c.closes[CLOSE_LIMIT].fetch_add(1, Relaxed);
    }

    /// A connection that never became one (a bad PROXY header, a layer that could not
    /// be made): its handshake failed, and it closed for `cause`.
    pub(crate) fn failed_before_start(
        &self,
        loop_index: u32,
        reason: HandshakeFailure,
        cause: CloseCause,
    ) {
        let c = self.at(loop_index);
        c.handshake_failed[reason as usize].fetch_add(1, Relaxed);
        c.closes[cause as usize].fetch_add(1, Relaxed);
    }

    /// A connection is released: counts its close cause and, if it had a layer whose
    /// handshake never completed, the handshake failure.
    pub(crate) fn released(
        &self,
        loop_index: u32,
        cause: CloseCause,
        tally: &ConnTally,
        failed_handshake: bool,
    ) {
        let c = self.at(loop_index);
        c.closes[cause as usize].fetch_add(1, Relaxed);
        if failed_handshake {
            let reason = tally.handshake.unwrap_or(match cause {
                CloseCause::HandshakeTimeout => HandshakeFailure::Timeout,
                CloseCause::PeerEof => HandshakeFailure::PeerClosed,
                CloseCause::Error => HandshakeFailure::PeerClosed,
                _ => HandshakeFailure::Other,
            });
            c.handshake_failed[reason as usize].fetch_add(1, Relaxed);
        }
    }

    /// Sums every loop's block. `active` is the server's live count, read by the caller.
    pub(crate) fn snapshot(&self, active: u64) -> ServerStats {
        let mut s = ServerStats {
            active,
            ..ServerStats::default()
        };
        for c in self.loops.iter() {
            let hf = |r: HandshakeFailure| c.handshake_failed[r as usize].load(Relaxed);
            let cl = |k: usize| c.closes[k].load(Relaxed);
            s.accepted += c.accepted.load(Relaxed);
            s.bytes_in += c.bytes_in.load(Relaxed);
            s.bytes_out += c.bytes_out.load(Relaxed);
            s.handshakes_ok += c.handshakes_ok.load(Relaxed);
            let f = &mut s.handshakes_failed;
            f.timeout += hf(HandshakeFailure::Timeout);
            f.peer_closed += hf(HandshakeFailure::PeerClosed);
            f.protocol += hf(HandshakeFailure::Protocol);
            f.proxy_header += hf(HandshakeFailure::ProxyHeader);
            f.other += hf(HandshakeFailure::Other);
            let k = &mut s.closes;
            k.peer_eof += cl(CloseCause::PeerEof as usize);
            k.shutdown += cl(CloseCause::Shutdown as usize);
            k.error += cl(CloseCause::Error as usize);
            k.handshake_timeout += cl(CloseCause::HandshakeTimeout as usize);
            k.idle_timeout += cl(CloseCause::IdleTimeout as usize);
            k.close_delay_timeout += cl(CloseCause::CloseDelayTimeout as usize);
            k.forced += cl(CloseCause::Forced as usize);
            k.limit += cl(CLOSE_LIMIT);
        }
        s
    }
}

/// A snapshot of one server's counters, from [`crate::ServerHandle::stats`].
///
/// Every field but `active` only grows (a Prometheus "counter"); `active` goes up and
/// down (a "gauge"). Each count is summed over the server's loops when the snapshot is
/// taken; [`ServerStats::fields`] lists them all with stable names, for exporters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Connections accepted (including those refused at the connection limit).
    pub accepted: u64,
    /// Connections live now (accepted and not yet released).
    pub active: u64,
    /// Handshakes (TLS) that completed.
    pub handshakes_ok: u64,
    /// Handshakes (TLS, or the PROXY header before it) that failed, by reason.
    pub handshakes_failed: HandshakeFailures,
    /// Bytes read from sockets (ciphertext with TLS).
    pub bytes_in: u64,
    /// Bytes written to sockets (ciphertext with TLS).
    pub bytes_out: u64,
    /// Connections closed, by cause. Their total plus `active` is `accepted`.
    pub closes: CloseCounts,
}

/// Failed handshakes by reason; see [`ServerStats::handshakes_failed`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandshakeFailures {
    /// The handshake timeout passed.
    pub timeout: u64,
    /// The peer closed or reset the connection before the handshake completed.
    pub peer_closed: u64,
    /// The peer's messages were refused (for TLS: an alert, a bad version or cipher).
    pub protocol: u64,
    /// A PROXY protocol header was malformed, untrusted, oversized or too slow.
    pub proxy_header: u64,
    /// Anything else (the layer could not be set up, the server stopped meanwhile).
    pub other: u64,
}

/// Closed connections by cause; see [`ServerStats::closes`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CloseCounts {
    /// The peer ended its side first (EOF or close_notify), and the close was orderly.
    pub peer_eof: u64,
    /// We shut down first (the application, or a graceful stop), orderly.
    pub shutdown: u64,
    /// A reset, or an I/O or protocol error.
    pub error: u64,
    /// The handshake (or PROXY header) timeout passed.
    pub handshake_timeout: u64,
    /// The idle timeout passed.
    pub idle_timeout: u64,
    /// A half-closed connection outlived the close delay.
    pub close_delay_timeout: u64,
    /// Closed at once: `force_close`, a panicking callback, the stop deadline.
    pub forced: u64,
    /// Accepted and closed at once because the connection limit was reached.
    pub limit: u64,
}

impl CloseCounts {
    /// Every closed connection, whatever the cause.
    pub fn total(&self) -> u64 {
        self.peer_eof
            + self.shutdown
            + self.error
            + self.handshake_timeout
            + self.idle_timeout
            + self.close_delay_timeout
            + self.forced
            + self.limit
    }
}

impl HandshakeFailures {
    /// Every failed handshake, whatever the reason.
    pub fn total(&self) -> u64 {
        self.timeout + self.peer_closed + self.protocol + self.proxy_header + self.other
    }
}

impl ServerStats {
    /// Every count with a stable snake_case name (`closes_peer_eof`,
    /// `handshakes_failed_timeout`, ...), in a fixed order: what an exporter needs to
    /// print them without knowing each field. `active` is the only gauge.
    pub fn fields(&self) -> [(&'static str, u64); 18] {
        let (f, k) = (&self.handshakes_failed, &self.closes);
        [
            ("accepted", self.accepted),
            ("active", self.active),
            ("handshakes_ok", self.handshakes_ok),
            ("handshakes_failed_timeout", f.timeout),
            ("handshakes_failed_peer_closed", f.peer_closed),
            ("handshakes_failed_protocol", f.protocol),
            ("handshakes_failed_proxy_header", f.proxy_header),
            ("handshakes_failed_other", f.other),
            ("bytes_in", self.bytes_in),
            ("bytes_out", self.bytes_out),
            ("closes_peer_eof", k.peer_eof),
            ("closes_shutdown", k.shutdown),
            ("closes_error", k.error),
            ("closes_handshake_timeout", k.handshake_timeout),
            ("closes_idle_timeout", k.idle_timeout),
            ("closes_close_delay_timeout", k.close_delay_timeout),
            ("closes_forced", k.forced),
            ("closes_limit", k.limit),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_every_loop_are_summed() {
        let c = Counters::default();
        for i in 0..40u32 {
            c.accepted(i);
            c.bytes_in(i, 10);
            c.released(i, CloseCause::PeerEof, &ConnTally::default(), false);
        }
        c.refused_at_limit(3);
        c.released(1, CloseCause::HandshakeTimeout, &ConnTally::default(), true);
        let s = c.snapshot(0);
        assert_eq!(s.accepted, 41);
        assert_eq!(s.bytes_in, 400);
        assert_eq!(s.closes.peer_eof, 40);
        assert_eq!(s.closes.limit, 1);
        assert_eq!(s.handshakes_failed.timeout, 1);
        assert_eq!(s.closes.total(), 42);
        assert_eq!(
            s.fields().iter().find(|f| f.0 == "accepted"),
            Some(&("accepted", 41))
        );
    }
}
