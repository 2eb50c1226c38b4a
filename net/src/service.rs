//! What all connections of one server (or one client) share: callbacks, options, the
//! layer factory and the live-connection count.
//!
//! Ownership: one `Arc<Service>` per server or client, cloned into each connection.
//! Read-only after construction except the live count (a mutex + condvar, touched once
//! per connection open and close, never per message).

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::{Buffer, LayerFactory, TcpConnection};

/// Called with the connection when it comes up and again when it goes down
/// ([`TcpConnection::is_connected`] tells which), after a write drains, or when the peer
/// half-closes.
pub type ConnectionCallback = Arc<dyn Fn(&mut TcpConnection) + Send + Sync>;
/// Called with the connection and its input buffer when bytes arrive. Consume what you
/// use; what you leave stays for the next call.
pub type MessageCallback = Arc<dyn Fn(&mut TcpConnection, &mut Buffer) + Send + Sync>;
/// Called when the output buffer grows past the high-water mark, with its size.
pub type HighWaterCallback = Arc<dyn Fn(&mut TcpConnection, usize) + Send + Sync>;

/// The callbacks of a server's or client's connections. All run on the connection's
/// own loop thread, with `&mut` access to it.
#[derive(Clone, Default)]
pub struct Callbacks {
    pub(crate) connection: Option<ConnectionCallback>,
    pub(crate) message: Option<MessageCallback>,
    pub(crate) write_complete: Option<ConnectionCallback>,
    pub(crate) high_water: Option<HighWaterCallback>,
    pub(crate) half_close: Option<ConnectionCallback>,
}

/// Per-connection policy shared by a server's or client's connections.
#[derive(Clone, Debug)]
pub struct ConnOptions {
    /// Output bytes above which the high-water callback fires and reading pauses
    /// (default 64 KiB, Netty's default write-buffer high-water mark: an echo or a
    /// proxy then moves bytes through a small buffer instead of piling megabytes up).
    pub high_water_mark: usize,
    /// Stop reading while the output is above the high-water mark, resume when it
    /// drains to half of it. Default on for servers (a peer that does not read cannot
    /// make the server buffer without bound), off for clients (see
    /// `TcpClientBuilder`: a producing client that paused its reads could deadlock
    /// against a server doing the same).
    pub pause_reading_above_high_water: bool,
    /// How long a half-closed connection is kept for the application to reply and
    /// flush, and how long we wait for the peer's EOF after our own shutdown
    /// (default 5 s). Then the connection is closed.
    pub close_delay: Duration,
    /// Close a connection that has neither read nor written for this long.
    pub idle_timeout: Option<Duration>,
    /// TCP_NODELAY on every connection (default on).
    pub tcp_nodelay: bool,
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

pub(crate) struct Service {
    pub(crate) name: String,
    pub(crate) callbacks: Callbacks,
    pub(crate) options: ConnOptions,
    pub(crate) layer: Option<Arc<dyn LayerFactory>>,
    /// Internal: runs when any connection is released, whether or not it came up
    /// (a client learns of failed handshakes this way).
    pub(crate) release_hook: Option<ConnectionCallback>,
    /// The loops this service's connections live on (set once they exist).
    pub(crate) loops: std::sync::OnceLock<Vec<crate::LoopHandle>>,
    /// Per-loop counters (see `stats.rs`).
    pub(crate) stats: crate::stats::Counters,
    live: Mutex<usize>,
    all_closed: Condvar,
}

impl Service {
    pub(crate) fn new(
        name: String,
        callbacks: Callbacks,
        options: ConnOptions,
        layer: Option<Arc<dyn LayerFactory>>,
    ) -> Self {
        Service {
            name,
            callbacks,
            options,
            layer,
            release_hook: None,
            loops: std::sync::OnceLock::new(),
            stats: Default::default(),
            live: Mutex::new(0),
            all_closed: Condvar::new(),
        }
    }

    pub(crate) fn loops(&self) -> &[crate::LoopHandle] {
        self.loops.get().map(Vec::as_slice).unwrap_or_default()
    }

    pub(crate) fn opened(&self) {
        *self.live.lock() += 1;
    }

    pub(crate) fn closed(&self) {
        let mut live = self.live.lock();
        *live -= 1;
        if *live == 0 {
            self.all_closed.notify_all();
        }
    }

    pub(crate) fn live(&self) -> usize {
        *self.live.lock()
    }

    /// Waits until no connection is live or `deadline` passes; returns the live count.
    pub(crate) fn wait_all_closed(&self, deadline: Instant) -> usize {
        let mut live = self.live.lock();
        while *live > 0 {
            if self.all_closed.wait_until(&mut live, deadline).timed_out() {
                break;
            }
        }
        *live
    }
}

/// The setters that server and client builders share: callbacks, connection options
/// and the layer. Expects `callbacks: Callbacks`, `options: ConnOptions` and
/// `layer: Option<Arc<dyn LayerFactory>>` fields on the builder.
macro_rules! connection_setters {
    () => {
        /// Called when a connection comes up (after the handshake, with TLS) and when
        /// it goes down; `conn.is_connected()` tells which.
        pub fn on_connection<F>(mut self, f: F) -> Self
        where
            F: Fn(&mut $crate::TcpConnection) + Send + Sync + 'static,
        {
            self.callbacks.connection = Some(std::sync::Arc::new(f));
            self
        }

        /// Called with the connection's input buffer when bytes arrive.
        pub fn on_message<F>(mut self, f: F) -> Self
        where
            F: Fn(&mut $crate::TcpConnection, &mut $crate::Buffer) + Send + Sync + 'static,
        {
            self.callbacks.message = Some(std::sync::Arc::new(f));
            self
        }

        /// Called when everything sent so far has been handed to the kernel.
        pub fn on_write_complete<F>(mut self, f: F) -> Self
        where
            F: Fn(&mut $crate::TcpConnection) + Send + Sync + 'static,
        {
            self.callbacks.write_complete = Some(std::sync::Arc::new(f));
            self
        }

        /// Called when a connection's output buffer grows past `mark` bytes, with its
        /// size.
        pub fn on_high_water<F>(mut self, mark: usize, f: F) -> Self
        where
            F: Fn(&mut $crate::TcpConnection, usize) + Send + Sync + 'static,
        {
            self.options.high_water_mark = mark;
            self.callbacks.high_water = Some(std::sync::Arc::new(f));
            self
        }

        /// Called when the peer half-closes. Without it, the connection shuts down as
        /// soon as its pending output is flushed; with it, the application decides
        /// (reply, then `shutdown`), and the close delay bounds how long it may take.
        pub fn on_half_close<F>(mut self, f: F) -> Self
        where
            F: Fn(&mut $crate::TcpConnection) + Send + Sync + 'static,
        {
            self.callbacks.half_close = Some(std::sync::Arc::new(f));
            self
        }

        /// Output bytes above which the high-water policy applies (default 64 KiB).
        pub fn high_water_mark(mut self, mark: usize) -> Self {
            self.options.high_water_mark = mark;
            self
        }

        /// Whether reading pauses while the output is above the high-water mark
        /// (default on for servers, off for clients).
        pub fn pause_reading_above_high_water(mut self, on: bool) -> Self {
            self.options.pause_reading_above_high_water = on;
            self
        }

        /// How long a half-closed connection may stay open (default 5 s).
        pub fn close_delay(mut self, delay: std::time::Duration) -> Self {
            self.options.close_delay = delay;
            self
        }

        /// Closes connections idle (no byte read or written) for `timeout`.
        pub fn idle_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.options.idle_timeout = Some(timeout);
            self
        }

        /// TCP_NODELAY on every connection (default on).
        pub fn tcp_nodelay(mut self, on: bool) -> Self {
            self.options.tcp_nodelay = on;
            self
        }

        /// Puts a layer in every connection's read/write path: TLS with
        /// `muon::ssl::TlsAcceptor` on a server, a `muon::ssl::TlsConnector` on a
        /// client.
        pub fn tls<L: $crate::LayerFactory>(mut self, layer: L) -> Self {
            self.layer = Some(std::sync::Arc::new(layer));
            self
        }
    };
}
pub(crate) use connection_setters;
