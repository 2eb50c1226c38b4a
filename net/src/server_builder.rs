//! `TcpServerBuilder`: how a server is configured before it binds.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crate::callbacks::Callbacks;
use crate::connection::TcpConnection;
use crate::options::ConnOptions;
use crate::{LayerFactory, TcpServer};

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
    pub(crate) callbacks: Callbacks<TcpConnection>,
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

    /// Number of worker loops (default: the number of CPUs). With 0, the main loop
    /// accepts and serves every connection itself, on one thread (muduo's
    /// `setThreadNum(0)`): no hand-off, no thread switch per connection, one core.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    crate::builder_setters::connection_setters!();

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

    /// Binds the listener and starts the worker loops.
    pub fn build(self) -> io::Result<TcpServer> {
        TcpServer::from_builder(self)
    }
}
