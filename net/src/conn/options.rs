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
    /// Close a connection that has neither read nor written for this long.
    pub(crate) idle_timeout: Option<Duration>,
    /// TCP_NODELAY on every connection (default on).
    pub(crate) tcp_nodelay: bool,
}

impl Default for ConnOptions {
    fn default() -> Self {
        ConnOptions {
            high_water_mark: 64 * 1024,
            pause_reading_above_high_water: true,
            close_delay: Duration::from_secs(5),
            idle_timeout: None,
            tcp_nodelay: true,
        }
    }
}
