//! `TcpServer`: listeners, acceptors and a pool of worker loops.
//!
//! Thread rule: `run` turns the calling thread into the main reactor. In the default
//! mode it owns the listener and only accepts, handing each connection round-robin to
//! a worker (muduo); in the per-loop mode ([`crate::TcpServerBuilder::accept_per_loop`]) each
//! worker accepts on its own `SO_REUSEPORT` listener and the main loop only waits for
//! the stop. Each connection belongs to the loop that took it in. A [`ServerHandle`]
//! stops the server from any thread (see `drain.rs`: stop accepting, grace, shut down,
//! deadline, force), reads its counters, and can hand its listeners to a new process.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::reactor::event_loop::EventLoop;
use crate::reactor::loop_ctx::LoopCtx;
use crate::reactor::loop_handle::LoopHandle;
use crate::server::acceptor::{Acceptor, Handoff};
use crate::server::drain::ServerShared;
use crate::server::intake::Intake;
use crate::server::workers::Workers;
use crate::stats::ServerStats;

/// A TCP server: listeners, acceptors and worker loops; configure it with
/// [`TcpServer::builder`]. [`TcpServer::run`] turns the calling thread into the main
/// reactor (or [`TcpServer::start`] runs it on a thread of its own); each connection
/// belongs to the worker loop that took it in. A [`ServerHandle`] stops the server
/// gracefully from any thread (stop accepting, drain grace, shut down, stop timeout,
/// force), reads its counters, and can hand its listeners to a new process.
pub struct TcpServer {
    pub(crate) listeners: Vec<std::net::TcpListener>,
    pub(crate) local_addr: SocketAddr,
    pub(crate) intake: Arc<Intake>,
    pub(crate) pool: Workers,
    pub(crate) base: EventLoop,
    pub(crate) max_connections: usize,
    pub(crate) accept_per_loop: bool,
    pub(crate) shared: Arc<ServerShared>,
}

impl TcpServer {
    /// The address the server is bound to (with the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle to stop the server or reach its loops from any thread.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            loops: worker_loops(&self.pool, &self.base),
            local_addr: self.local_addr,
            shared: self.shared.clone(),
        }
    }

    /// Runs the server on a new thread (named after the server) and returns its handle.
    pub fn start(self) -> io::Result<ServerHandle> {
        let handle = self.handle();
        std::thread::Builder::new()
            .name(format!("{}-main", self.intake.service.name))
            .spawn(move || {
                if let Err(e) = self.run() {
                    log::error!("server stopped with an error: {e}");
                }
            })?;
        Ok(handle)
    }

    /// Runs the main reactor on the calling thread until [`ServerHandle::stop`] has
    /// drained the server, then joins the workers and returns.
    pub fn run(self) -> io::Result<()> {
        let TcpServer {
            listeners,
            local_addr,
            intake,
            mut pool,
            base,
            max_connections,
            accept_per_loop,
            shared,
        } = self;
        let name = intake.service.name.clone();
        log::info!(
            "{name}: listening on {local_addr} with {} worker loops, {} listener(s), {}",
            pool.loops().len(),
            listeners.len(),
            if accept_per_loop {
                "each loop accepting for itself"
            } else {
                "the main loop accepting"
            }
        );
        let mut registered = Ok(());
        let result = base.run_with(|ctx: &mut LoopCtx| {
            let workers = worker_loops_of(&pool, ctx);
            for (j, listener) in listeners.into_iter().enumerate() {
                let listener = mio::net::TcpListener::from_std(listener);
                let (intake, shared) = (intake.clone(), shared.clone());
                if accept_per_loop {
                    let lp = &workers[j % workers.len()];
                    lp.queue_in_loop(move |ctx| {
                        let a = Acceptor::new(listener, intake, Handoff::Local, max_connections);
                        if let Err(e) = register(ctx, &shared, a) {
                            log::error!("{}: cannot accept on this loop: {e}", shared.service.name);
                            shared.base.quit();
                        }
                    });
                } else {
                    let handoff = Handoff::RoundRobin {
                        loops: workers.clone(),
                        next: 0,
                    };
                    let a = Acceptor::new(listener, intake, handoff, max_connections);
                    if let Err(e) = register(ctx, &shared, a) {
                        registered = Err(e);
                        ctx.quit();
                    }
                }
            }
        });
        // Quitting a loop closes what it still owns (shared loops stay: the drain
        // closed this server's connections on them).
        pool.stop();
        shared.mark_done();
        log::info!("{name}: stopped");
        registered.and(result)
    }
}

/// Registers an acceptor on `ctx`'s loop, unless the server is already stopping.
fn register(ctx: &mut LoopCtx, shared: &ServerShared, acceptor: Acceptor) -> io::Result<()> {
    if shared.is_stopping() {
        return Ok(());
    }
    let id =
        ctx.add_handler(|registry, token| acceptor.register(registry, token).map(|a| a as Box<_>))?;
    shared.acceptor_registered(ctx, id);
    Ok(())
}

/// Stops a [`TcpServer`], reads its counters and reaches its loops, from any thread.
/// Cheap to clone.
#[derive(Clone)]
pub struct ServerHandle {
    loops: Vec<LoopHandle>,
    local_addr: SocketAddr,
    shared: Arc<ServerShared>,
}

impl ServerHandle {
    /// Stops the server gracefully: stop accepting, let connections end by themselves
    /// during the drain grace (if set), shut the rest down, force-close what is still
    /// open at the stop timeout. Waits until the server has stopped (bounded) and
    /// returns whether it did. Any number of calls, from any thread, share one stop.
    ///
    /// Called on one of the server's own loop threads (from a callback), it only
    /// starts the stop and returns `false`: waiting there would hold up the very loop
    /// that has to close its connections.
    pub fn stop(&self) -> bool {
        self.shared.stop()
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Number of live connections (accepted and not yet released).
    pub fn connection_count(&self) -> usize {
        self.shared.service.live()
    }

    /// The server's counters, summed over its loops now (see [`ServerStats`]). Cheap:
    /// a few dozen relaxed loads; call it as often as an exporter scrapes.
    pub fn stats(&self) -> ServerStats {
        let service = &self.shared.service;
        service.stats.snapshot(service.live() as u64)
    }

    /// Copies (new descriptors) of the server's listening sockets, to hand to a new
    /// process (see `muon::handover`) before this one stops: the sockets then stay
    /// open and keep their queued connections. An error once the server is stopping.
    pub fn listeners(&self) -> io::Result<Vec<std::net::TcpListener>> {
        self.shared.listener_copies()
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
pub(crate) fn worker_loops(pool: &Workers, base: &EventLoop) -> Vec<LoopHandle> {
    if pool.loops().is_empty() {
        vec![base.handle()]
    } else {
        pool.loops().to_vec()
    }
}

/// The same, from inside the running main loop.
fn worker_loops_of(pool: &Workers, base: &LoopCtx) -> Vec<LoopHandle> {
    if pool.loops().is_empty() {
        vec![base.handle()]
    } else {
        pool.loops().to_vec()
    }
}
