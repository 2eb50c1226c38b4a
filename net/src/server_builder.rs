//! `TcpServerBuilder`: how a server is configured before it binds.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crate::service::{Callbacks, ConnOptions};
use crate::{Buffer, LayerFactory, TcpConnection, TcpServer};

/// Configures a [`TcpServer`]; made by [`TcpServer::builder`].
///
/// ```no_run
/// let server = net::TcpServer::builder("127.0.0.1:0")
///     .name("echo")
///     .threads(2)
///     .on_message(|conn, input| {
///         conn.send_buffer(input);
///     })
///     .build()?;
/// println!("listening on {}", server.local_addr());
/// server.run()
/// # ;Ok::<(), std::io::Error>(())
/// ```
pub struct TcpServerBuilder {
    pub(crate) addr: io::Result<SocketAddr>,
    pub(crate) name: String,
    pub(crate) threads: usize,
    pub(crate) callbacks: Callbacks,
    pub(crate) options: ConnOptions,
    pub(crate) layer: Option<Arc<dyn LayerFactory>>,
    pub(crate) max_connections: usize,
    pub(crate) reuse_port: bool,
    pub(crate) backlog: i32,
    pub(crate) stop_timeout: Duration,
}

impl TcpServerBuilder {
    pub(crate) fn new(addr: impl ToSocketAddrs) -> Self {
        let addr = addr.to_socket_addrs().and_then(|mut a| {
            a.next().ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "address resolved to nothing")
            })
        });
        TcpServerBuilder {
            addr,
            name: "server".into(),
            threads: num_cpus::get(),
            callbacks: Callbacks::default(),
            options: ConnOptions::default(),
            layer: None,
            max_connections: usize::MAX,
            reuse_port: false,
            backlog: 1024,
            stop_timeout: Duration::from_secs(5),
        }
    }

    /// The server's name, in logs and thread names (default "server").
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Number of worker loops (default: the number of CPUs; at least one).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Called when a connection comes up (after the handshake, with TLS) and when it
    /// goes down; `conn.is_connected()` tells which.
    pub fn on_connection<F>(mut self, f: F) -> Self
    where
        F: Fn(&mut TcpConnection) + Send + Sync + 'static,
    {
        self.callbacks.connection = Some(Arc::new(f));
        self
    }

    /// Called with the connection's input buffer when bytes arrive.
    pub fn on_message<F>(mut self, f: F) -> Self
    where
        F: Fn(&mut TcpConnection, &mut Buffer) + Send + Sync + 'static,
    {
        self.callbacks.message = Some(Arc::new(f));
        self
    }

    /// Called when everything sent so far has been handed to the kernel.
    pub fn on_write_complete<F>(mut self, f: F) -> Self
    where
        F: Fn(&mut TcpConnection) + Send + Sync + 'static,
    {
        self.callbacks.write_complete = Some(Arc::new(f));
        self
    }

    /// Called when a connection's output buffer grows past `mark` bytes, with its size.
    pub fn on_high_water<F>(mut self, mark: usize, f: F) -> Self
    where
        F: Fn(&mut TcpConnection, usize) + Send + Sync + 'static,
    {
        self.options.high_water_mark = mark;
        self.callbacks.high_water = Some(Arc::new(f));
        self
    }

    /// Called when the peer half-closes. Without it, the connection shuts down as soon
    /// as its pending output is flushed; with it, the application decides (reply, then
    /// `shutdown`), and the close delay bounds how long it may take.
    pub fn on_half_close<F>(mut self, f: F) -> Self
    where
        F: Fn(&mut TcpConnection) + Send + Sync + 'static,
    {
        self.callbacks.half_close = Some(Arc::new(f));
        self
    }

    /// Output bytes above which the high-water policy applies (default 4 MiB).
    pub fn high_water_mark(mut self, mark: usize) -> Self {
        self.options.high_water_mark = mark;
        self
    }

    /// Whether reading pauses while the output is above the high-water mark
    /// (default on).
    pub fn pause_reading_above_high_water(mut self, on: bool) -> Self {
        self.options.pause_reading_above_high_water = on;
        self
    }

    /// How long a half-closed connection may stay open (default 5 s).
    pub fn close_delay(mut self, delay: Duration) -> Self {
        self.options.close_delay = delay;
        self
    }

    /// Closes connections idle (no byte read or written) for `timeout`.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.options.idle_timeout = Some(timeout);
        self
    }

    /// TCP_NODELAY on accepted connections (default on).
    pub fn tcp_nodelay(mut self, on: bool) -> Self {
        self.options.tcp_nodelay = on;
        self
    }

    /// At most this many live connections; more are closed on accept.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// SO_REUSEPORT on the listener (default off; SO_REUSEADDR is always on).
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// The listen backlog (default 1024).
    pub fn backlog(mut self, backlog: i32) -> Self {
        self.backlog = backlog;
        self
    }

    /// How long a graceful stop waits for connections to flush and close before it
    /// closes them forcibly (default 5 s).
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }

    /// Puts a layer (TLS: `muon::ssl::TlsAcceptor`) in every connection's read/write
    /// path.
    pub fn tls<L: LayerFactory>(mut self, layer: L) -> Self {
        self.layer = Some(Arc::new(layer));
        self
    }

    /// Binds the listener and starts the worker loops.
    pub fn build(self) -> io::Result<TcpServer> {
        TcpServer::from_builder(self)
    }
}
