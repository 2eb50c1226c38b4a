//! `TcpServerBuilder`: how a server is configured before it binds.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crate::conn::callbacks::Callbacks;
use crate::conn::connection::TcpConnection;
use crate::conn::options::ConnOptions;
use crate::conn::service::Service;
use crate::layer::LayerFactory;
use crate::reactor::event_loop::EventLoop;
use crate::reactor::loop_handle::LoopHandle;
use crate::reactor::loop_pool::LoopPool;
use crate::server::drain::ServerShared;
use crate::server::intake::Intake;
use crate::server::tcp_server::worker_loops;
use crate::server::tcp_server::TcpServer;
use crate::server::workers::Workers;

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
    pub(crate) drain_grace: Duration,
    pub(crate) drain: Option<crate::conn::callbacks::ConnectionCallback<TcpConnection>>,
    pub(crate) accept_per_loop: bool,
    pub(crate) inherited: Vec<std::net::TcpListener>,
    pub(crate) proxy: Option<crate::server::proxy_protocol::policy::ProxyProtocol>,
    /// Worker loops of a pool shared with other servers, instead of a pool of its own.
    pub(crate) shared_loops: Option<Vec<LoopHandle>>,
}

impl TcpServerBuilder {
    fn new(addr: impl ToSocketAddrs) -> Self {
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
            drain_grace: Duration::ZERO,
            drain: None,
            accept_per_loop: false,
            inherited: Vec::new(),
            proxy: None,
            shared_loops: None,
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

    /// Serves on the loops of `pool` instead of starting a pool of its own
    /// ([`threads`](Self::threads) is then ignored): several servers of one process
    /// (an HTTP side and a TLS side, say) share N worker threads, as muduo's servers
    /// share an `EventLoopThreadPool`. Each server still has its own main loop (its
    /// acceptor) and its own connections, counters and callbacks.
    ///
    /// Stop: [`ServerHandle::stop`](crate::ServerHandle::stop) drains and closes only
    /// this server's connections on the shared loops and leaves the loops running for
    /// the others. The pool's owner drops (or stops) the pool after every server on it
    /// has stopped; dropping it first quits the loops under the servers.
    ///
    /// ```no_run
    /// let pool = net::LoopPool::start("worker", 4)?;
    /// let a = net::TcpServer::builder("127.0.0.1:7000").event_loops(&pool).build()?.start()?;
    /// let b = net::TcpServer::builder("127.0.0.1:7001").event_loops(&pool).build()?.start()?;
    /// // ... serve ...
    /// a.stop();
    /// b.stop();
    /// drop(pool);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn event_loops(mut self, pool: &LoopPool) -> Self {
        self.shared_loops = Some(pool.loops().to_vec());
        self
    }

    crate::builder_setters::connection_setters!();

    /// Called on every connection that is up when a graceful stop begins (after
    /// the server stopped accepting, before the drain grace): the moment for a
    /// protocol to say goodbye in its own words (HTTP's `Connection: close`, a
    /// WebSocket's close 1001) so that its peers leave during the grace instead of
    /// being shut down after it.
    pub fn on_drain<F>(mut self, f: F) -> Self
    where
        F: Fn(&mut TcpConnection) + Send + Sync + 'static,
    {
        self.callbacks
            .owner
            .set_by_application(crate::conn::callback_owner::CallbackSet::DRAIN);
        self.callbacks.drain = Some(Arc::new(f));
        self
    }

    /// At most this many live connections (default: no limit). A connection beyond
    /// it is accepted and closed at once: its client sees an EOF (or a reset) instead
    /// of waiting in the backlog, its descriptor is freed at once, it is counted in
    /// [`crate::CloseCounts::limit`], and a warning is logged at most once a second.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// SO_REUSEPORT on the listener (default off; SO_REUSEADDR is always on): several
    /// processes that all set it listen on one port, and the kernel spreads new
    /// connections over them. See docs/deployment.md for restarts without resets.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// Each worker loop accepts on a listener of its own (all `SO_REUSEPORT` on the
    /// same address) instead of the main loop accepting and handing connections
    /// round-robin to the workers (the default). No hand-off and no thread switch per
    /// connection; the kernel spreads connections over the loops by a hash of the
    /// addresses, so a few long connections can land unevenly.
    pub fn accept_per_loop(mut self, on: bool) -> Self {
        self.accept_per_loop = on;
        self
    }

    /// Serves on listening sockets received from another process (see
    /// `muon::handover`) instead of binding: their queued connections are kept. The
    /// address given to the builder is then ignored.
    pub fn listeners(mut self, listeners: Vec<std::net::TcpListener>) -> Self {
        self.inherited = listeners;
        self
    }

    /// Expects a PROXY protocol header (v1 or v2) before anything else on every
    /// connection, from the trusted sources configured in `proxy` (default: loopback
    /// only). See [`crate::ProxyProtocol`].
    pub fn proxy_protocol(
        mut self,
        proxy: crate::server::proxy_protocol::policy::ProxyProtocol,
    ) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// How long a graceful stop waits, after it stopped accepting, for connections to
    /// end by themselves before it shuts the rest down (default zero). For protocols
    /// whose clients finish a request and leave: a restart then cuts none of them.
    pub fn drain_grace(mut self, grace: Duration) -> Self {
        self.drain_grace = grace;
        self
    }

    /// How a graceful stop ends each connection still open after the grace, on its
    /// loop. By default `shutdown` (flush, then FIN). A protocol that can announce its
    /// end does it here and closes by itself once its work is done (HTTP/2: GOAWAY,
    /// then the in-flight streams finish); whatever is still open at the stop timeout
    /// is closed forcibly, as always. (`on_drain` runs earlier, when the stop begins.)
    pub fn drain_shutdown<F>(mut self, f: F) -> Self
    where
        F: Fn(&mut TcpConnection) + Send + Sync + 'static,
    {
        self.drain = Some(Arc::new(f));
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

impl TcpServer {
    /// Starts configuring a server listening on `addr` (IPv4 or IPv6; port 0 picks a
    /// free port, see [`TcpServer::local_addr`]).
    pub fn builder(addr: impl std::net::ToSocketAddrs) -> TcpServerBuilder {
        TcpServerBuilder::new(addr)
    }

    fn from_builder(b: TcpServerBuilder) -> io::Result<TcpServer> {
        b.callbacks.owner.check()?;
        let loops = match &b.shared_loops {
            Some(shared) => shared.len().max(1),
            None => b.threads.max(1),
        };
        let listeners = if b.inherited.is_empty() {
            let count = if b.accept_per_loop { loops } else { 1 };
            crate::server::listen::bind(b.addr?, count, b.reuse_port, b.backlog)?
        } else {
            crate::server::listen::adopt(b.inherited)?
        };
        let local_addr = listeners[0].local_addr()?;
        let service = Arc::new(Service::new(
            b.name.clone(),
            b.callbacks,
            b.options,
            b.layer,
        ));
        let base = EventLoop::new(&format!("{}-main", b.name))?;
        let pool = match b.shared_loops {
            Some(loops) => Workers::Shared(loops),
            None if b.threads == 0 => Workers::Own(LoopPool::none()),
            None => Workers::Own(LoopPool::start(&b.name, b.threads)?),
        };
        let workers = worker_loops(&pool, &base);
        let _ = service.loops.set(workers.clone());
        let accepting = if b.accept_per_loop {
            workers
        } else {
            vec![base.handle()]
        };
        let copies = listeners
            .iter()
            .map(std::net::TcpListener::try_clone)
            .collect::<io::Result<_>>()?;
        let shared = Arc::new(ServerShared::new(
            service.clone(),
            base.handle(),
            accepting,
            copies,
            b.stop_timeout,
            b.drain_grace,
            b.drain,
        ));
        Ok(TcpServer {
            listeners,
            local_addr,
            intake: Arc::new(Intake {
                service,
                proxy: b.proxy.map(Arc::new),
            }),
            pool,
            base,
            max_connections: b.max_connections,
            accept_per_loop: b.accept_per_loop,
            shared,
        })
    }
}
