//! `ConnOptions`: the per-connection policy a server or client gives all its
//! connections (high-water mark, close delay, idle timeout, TCP_NODELAY).

use std::time::Duration;

/// Per-connection policy shared by a server's or client's connections.
#[derive(Clone, Debug)]
pub(crate) struct ConnOptions {
    /// Output bytes above which the high-water callback fires and reading pauses
    /// (default 64 KiB, Netty's default write-buffer high-water mark: an echo or a
    /// proxy then moves bytes through a small buffer instead of piling megabytes up).
    pub(crate) high_water_mark: usize,
    /// Stop reading while the output is above the high-water mark, resume when it
    /// drains to half of it. Default on for servers (a peer that does not read cannot
    /// make the server buffer without bound), off for clients (see
    /// `TcpClientBuilder`: a producing client that paused its reads could deadlock
    /// against a server doing the same).
    pub(crate) pause_reading_above_high_water: bool,
    /// How long a half-closed connection is kept for the application to reply and
    /// flush, and how long we wait for the peer's EOF after our own shutdown
    /// (default 5 s). Then the connection is closed.
    pub(crate) close_delay: Duration,
    /// When a connection counts as idle, and for how long it may be.
    pub(crate) idle: IdlePolicy,
    /// TCP_NODELAY on every connection (default on).
    pub(crate) tcp_nodelay: bool,
}

impl Default for ConnOptions {
    fn default() -> Self {
        ConnOptions {
            high_water_mark: 64 * 1024,
            pause_reading_above_high_water: true,
            close_delay: Duration::from_secs(5),
            idle: IdlePolicy::Off,
            tcp_nodelay: true,
        }
    }
}

/// Which traffic keeps a connection from idling out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdlePolicy {
    /// No idle timeout (the default).
    Off,
    /// Closed after this long without a byte read or written (request/response
    /// protocols).
    Traffic(Duration),
    /// Closed after this long without a byte read, whatever is sent to it: push
    /// services whose subscribers only receive (and send a heartbeat now and then);
    /// a dead subscriber never stops being "active" by the other measure.
    Reads(Duration),
}

impl IdlePolicy {
    /// The timeout, if any.
    pub(crate) fn timeout(self) -> Option<Duration> {
        match self {
            IdlePolicy::Off => None,
            IdlePolicy::Traffic(d) | IdlePolicy::Reads(d) => Some(d),
        }
    }

    /// Whether a read resets the idle clock.
    pub(crate) fn counts_reads(self) -> bool {
        self != IdlePolicy::Off
    }

    /// Whether a write resets the idle clock.
    pub(crate) fn counts_writes(self) -> bool {
        matches!(self, IdlePolicy::Traffic(_))
    }
}
