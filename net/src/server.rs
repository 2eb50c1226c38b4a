//! `TcpServer`: a listener on the main reactor plus a pool of worker loops.
//!
//! Thread rule: `run` turns the calling thread into the main reactor (it owns the
//! listener and only accepts); each connection belongs to the worker loop it was
//! handed to. A [`ServerHandle`] stops the server from any thread: the main reactor
//! stops accepting, every connection is shut down gracefully (output flushed, TLS
//! close_notify sent), stragglers are closed at the deadline, and the workers join.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use parking_lot::{Condvar, Mutex};
use socket2::{Domain, Socket, Type};

use crate::acceptor::Acceptor;
use crate::service::Service;
use crate::slab::SlotId;
use crate::{EventLoop, LoopCtx, LoopHandle, LoopPool, ServerStats, TcpServerBuilder};

/// A TCP server. See the module docs; configure with [`TcpServer::builder`].
pub struct TcpServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    service: Arc<Service>,
    pool: LoopPool,
    base: EventLoop,
    max_connections: usize,
    stop_timeout: Duration,
    stopped: Arc<Stopped>,
}

#[derive(Default)]
struct Stopped {
    done: Mutex<bool>,
    cond: Condvar,
    /// The acceptor's slot on the main loop, for a stop that keeps the loop running.
    acceptor: Mutex<Option<SlotId>>,
}

impl TcpServer {
    /// Starts configuring a server listening on `addr` (IPv4 or IPv6; port 0 picks a
    /// free port, see [`TcpServer::local_addr`]).
    pub fn builder(addr: impl std::net::ToSocketAddrs) -> TcpServerBuilder {
        TcpServerBuilder::new(addr)
    }

    pub(crate) fn from_builder(b: TcpServerBuilder) -> io::Result<TcpServer> {
        let addr = b.addr?;
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        if b.reuse_port {
            socket.set_reuse_port(true)?;
        }
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(b.backlog)?;
        let listener = TcpListener::from_std(socket.into());
        let local_addr = listener.local_addr()?;
        let service = Arc::new(Service::new(
            b.name.clone(),
            b.callbacks,
            b.options,
            b.layer,
        ));
        let base = EventLoop::new(&format!("{}-main", b.name))?;
        let pool = if b.threads == 0 {
            LoopPool::none()
        } else {
            LoopPool::start(&b.name, b.threads)?
        };
        let _ = service.loops.set(worker_loops(&pool, &base));
        Ok(TcpServer {
            listener,
            local_addr,
            service,
            pool,
            base,
            max_connections: b.max_connections,
            stop_timeout: b.stop_timeout,
            stopped: Arc::default(),
        })
    }

    /// The address the server is bound to (with the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle to stop the server or reach its loops from any thread.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            base: self.base.handle(),
            loops: worker_loops(&self.pool, &self.base),
            serves_on_main: self.pool.loops().is_empty(),
            service: self.service.clone(),
            local_addr: self.local_addr,
            stopped: self.stopped.clone(),
            stop_timeout: self.stop_timeout,
        }
    }

    /// Runs the server on a new thread (named after the server) and returns its handle.
    pub fn start(self) -> io::Result<ServerHandle> {
        let handle = self.handle();
        std::thread::Builder::new()
            .name(format!("{}-main", self.service.name))
            .spawn(move || {
                if let Err(e) = self.run() {
                    log::error!("server stopped with an error: {e}");
                }
            })?;
        Ok(handle)
    }

    /// Runs the main reactor on the calling thread until [`ServerHandle::stop`], then
    /// stops gracefully (see the module docs) and returns.
    pub fn run(self) -> io::Result<()> {
        let TcpServer {
            listener,
            service,
            mut pool,
            base,
            max_connections,
            stop_timeout,
            stopped,
            ..
        } = self;
        log::info!(
            "{}: listening on {} with {} worker loops",
            service.name,
            listener.local_addr()?,
            pool.loops().len()
        );
        let acceptor = Acceptor::new(
            listener,
            service.clone(),
            worker_loops(&pool, &base),
            max_connections,
        );
        let mut registered = Ok(());
        let result = base.run_with(|ctx: &mut LoopCtx| {
            match ctx.add_handler(|registry, token| {
                acceptor.register(registry, token).map(|a| a as Box<_>)
            }) {
                Ok(id) => *stopped.acceptor.lock() = Some(id),
                Err(e) => {
                    registered = Err(e);
                    ctx.quit();
                }
            }
        });
        // The listener closed with the main loop: no new connections from here on.
        let deadline = Instant::now() + stop_timeout;
        for lp in pool.loops() {
            let service = service.clone();
            lp.queue_in_loop(move |ctx| {
                ctx.for_each_connection(|conn| {
                    if Arc::ptr_eq(&conn.service, &service) {
                        conn.shutdown();
                    }
                })
            });
        }
        let left = service.wait_all_closed(deadline);
        if left > 0 {
            log::warn!(
                "{}: {left} connections still open at the stop deadline; closing them",
                service.name
            );
        }
        // Quitting a loop closes what it still owns.
        pool.stop();
        let mut done = stopped.done.lock();
        *done = true;
        stopped.cond.notify_all();
        log::info!("{}: stopped", service.name);
        registered.and(result)
    }
}

/// Stops a [`TcpServer`] and reaches its loops, from any thread. Cheap to clone.
#[derive(Clone)]
pub struct ServerHandle {
    base: LoopHandle,
    loops: Vec<LoopHandle>,
    /// No worker loops: the main loop owns the connections too.
    serves_on_main: bool,
    service: Arc<Service>,
    local_addr: SocketAddr,
    stopped: Arc<Stopped>,
    stop_timeout: Duration,
}

impl ServerHandle {
    /// Stops the server gracefully and waits (bounded by the stop timeout plus a
    /// margin) until it has stopped. Returns whether it stopped in time.
    ///
    /// Called on one of the server's own loop threads (from a callback), it only
    /// asks for the stop and returns `false`: waiting there would hold up the very
    /// loop that has to close its connections.
    pub fn stop(&self) -> bool {
        if self.serves_on_main {
            self.stop_on_main();
        } else {
            self.base.quit();
        }
        if self.base.is_in_loop_thread() || self.loops.iter().any(|l| l.is_in_loop_thread()) {
            return false;
        }
        let deadline = Instant::now() + self.stop_timeout + Duration::from_secs(5);
        let mut done = self.stopped.done.lock();
        while !*done {
            if self
                .stopped
                .cond
                .wait_until(&mut done, deadline)
                .timed_out()
            {
                break;
            }
        }
        *done
    }

    /// Without worker loops the main loop must keep running while its connections
    /// shut down: stop accepting, shut every connection down, quit once none is left
    /// or the stop timeout passed (the loop then closes what remains).
    fn stop_on_main(&self) {
        let (service, stopped) = (self.service.clone(), self.stopped.clone());
        let deadline = Instant::now() + self.stop_timeout;
        self.base.queue_in_loop(move |ctx| {
            if let Some(id) = stopped.acceptor.lock().take() {
                ctx.remove_handler(id);
            }
            ctx.for_each_connection(|conn| {
                if Arc::ptr_eq(&conn.service, &service) {
                    conn.shutdown();
                }
            });
            ctx.run_every(Duration::from_millis(10), move |ctx| {
                if service.live() == 0 || Instant::now() >= deadline {
                    ctx.quit();
                }
            });
        });
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server's counters, summed over its loops now (see [`ServerStats`]). Cheap:
    /// a few dozen relaxed loads; call it as often as an exporter scrapes.
    pub fn stats(&self) -> ServerStats {
        self.service.stats.snapshot(self.service.live() as u64)
    }

    /// Number of live connections (accepted and not yet released).
    pub fn connection_count(&self) -> usize {
        self.service.live()
    }

    /// The worker loops, in index order.
    pub fn loops(&self) -> &[LoopHandle] {
        &self.loops
    }

    /// Queues `f` to every worker loop (a broadcast: each loop then sends to its own
    /// connections, with no lock). Returns how many loops took it.
    pub fn for_each_loop<F>(&self, f: F) -> usize
    where
        F: Fn(&mut LoopCtx) + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        self.loops
            .iter()
            .filter(|lp| {
                let f = f.clone();
                lp.queue_in_loop(move |ctx| f(ctx))
            })
            .count()
    }
}

/// The loops that own connections: the workers, or the main loop when there are none.
fn worker_loops(pool: &LoopPool, base: &EventLoop) -> Vec<LoopHandle> {
    if pool.loops().is_empty() {
        vec![base.handle()]
    } else {
        pool.loops().to_vec()
    }
}
