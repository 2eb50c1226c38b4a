//! `UdpServer`: one `SO_REUSEPORT` UDP socket per worker loop, no hand-off thread.
//!
//! Thread rule: every loop owns its socket and runs the callback for the datagrams the
//! kernel steered to it (flows are spread by a hash of their 4-tuple, so one flow
//! stays on one loop). Other threads send through a [`UdpSender`]; a
//! [`UdpServerHandle`] stops the server and reads its counters.
//!
//! Stop: every endpoint answers what already reached its socket, flushes its outbox
//! (bounded by the stop timeout; what is left is counted as `drops.stopped`), and
//! closes; then the loops quit and their threads are joined.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::ctx::OnDatagram;
use super::endpoint::{Endpoint, EndpointConfig};
use super::link::Link;
use super::outbox::OutDatagram;
use super::sender::{SendPath, UdpSender};
use super::shared::{UdpShared, REGISTER_TIMEOUT};
use super::stats::{UdpCounters, UdpStats};
use crate::reactor::loop_handle::LoopHandle;
use crate::reactor::loop_pool::LoopPool;

/// A UDP server: configure with [`UdpServer::builder`], then [`UdpServer::start`] or
/// [`UdpServer::run`]. See the module docs.
///
/// ```no_run
/// let server = net::udp::UdpServer::builder("127.0.0.1:0")
///     .name("udp-echo")
///     .threads(2)
///     .on_datagram(|ctx, datagram, _peer, _local| {
///         ctx.reply(datagram);
///     })
///     .build()?;
/// let handle = server.start()?;
/// println!("serving on {}", handle.local_addr());
/// handle.stop();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpServer {
    pub(crate) shared: Arc<UdpShared>,
    pub(crate) sockets: Vec<std::net::UdpSocket>,
    pub(crate) inboxes: Vec<crossbeam_channel::Receiver<OutDatagram>>,
    pub(crate) config: EndpointConfig,
}

impl UdpServer {
    /// The address the sockets are bound to (with the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Registers every loop's socket and returns once all are serving.
    pub fn start(self) -> io::Result<UdpServerHandle> {
        let UdpServer {
            shared,
            sockets,
            inboxes,
            config,
        } = self;
        let config = Arc::new(config);
        let errors: Arc<Mutex<Vec<io::Error>>> = Arc::default();
        for ((socket, inbox), link) in sockets.into_iter().zip(inboxes).zip(&shared.path.links) {
            let (shared, link2, config, errors) =
                (shared.clone(), link.clone(), config.clone(), errors.clone());
            link.lp.queue_in_loop(move |ctx| {
                let made = Endpoint::new(socket, inbox, shared.clone(), link2.clone(), &config)
                    .and_then(|e| {
                        ctx.add_handler(|registry, token| {
                            e.register(registry, token).map(|e| e as Box<_>)
                        })
                    });
                match made {
                    Ok(slot) => {
                        let _ = link2.slot.set(slot);
                    }
                    Err(e) => {
                        errors.lock().push(e);
                        // Nothing to drain here: the stop that follows must not wait
                        // for this loop.
                        shared.endpoint_closed();
                    }
                }
                shared.endpoint_registered();
            });
        }
        let all = shared.path.links.len();
        let ok = shared.wait_for(&shared.registered, all, Instant::now() + REGISTER_TIMEOUT);
        let handle = UdpServerHandle { shared };
        if let Some(e) = errors.lock().pop() {
            handle.stop();
            return Err(e);
        }
        if !ok {
            handle.stop();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "UDP loops did not start",
            ));
        }
        log::info!(
            "{}: UDP on {} with {} loop(s)",
            handle.shared.name,
            handle.shared.local_addr,
            all
        );
        Ok(handle)
    }

    /// Starts the server and blocks until it has been stopped (from another thread
    /// or a callback, through a handle).
    pub fn run(self) -> io::Result<()> {
        let handle = self.start()?;
        let mut done = handle.shared.done.lock();
        while !*done {
            handle.shared.done_cond.wait(&mut done);
        }
        Ok(())
    }

    pub(crate) fn assemble(
        name: String,
        local_addr: SocketAddr,
        sockets: Vec<std::net::UdpSocket>,
        pool: LoopPool,
        on_datagram: Arc<OnDatagram>,
        stop_timeout: Duration,
        config: EndpointConfig,
    ) -> UdpServer {
        let loops: Vec<LoopHandle> = pool.loops().to_vec();
        let mut links = Vec::new();
        let mut inboxes = Vec::new();
        for (i, lp) in loops.into_iter().enumerate() {
            let (tx, rx) = crossbeam_channel::bounded(config.queue_limit.max(1));
            links.push(Arc::new(Link::new(i, lp, tx)));
            inboxes.push(rx);
        }
        let path = Arc::new(SendPath {
            counters: Arc::new(UdpCounters::new(links.len())),
            links,
            stopping: AtomicBool::new(false),
        });
        let shared = Arc::new(UdpShared {
            name,
            local_addr,
            path,
            on_datagram,
            stop_timeout,
            registered: Mutex::new(0),
            closed: Mutex::new(0),
            changed: Condvar::new(),
            pool: Mutex::new(Some(pool)),
            done: Mutex::new(false),
            done_cond: Condvar::new(),
        });
        UdpServer {
            shared,
            sockets,
            inboxes,
            config,
        }
    }
}

/// Stops a [`UdpServer`], reads its counters, gives senders. `Clone + Send`.
#[derive(Clone)]
pub struct UdpServerHandle {
    pub(crate) shared: Arc<UdpShared>,
}

impl UdpServerHandle {
    /// Stops the server: each loop answers what already reached its socket, flushes
    /// its replies (within the stop timeout; what is left is counted in
    /// `drops.stopped`), closes its socket; then the loops end. Waits for all that and
    /// returns whether every socket drained in time. Called on one of the server's
    /// loops (from a callback), it starts the stop on another thread and returns
    /// `false` at once.
    pub fn stop(&self) -> bool {
        self.shared.stop()
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// The counters, summed over the loops now. Cheap: relaxed loads.
    pub fn stats(&self) -> UdpStats {
        self.shared.path.counters.snapshot()
    }

    /// A handle to send datagrams through the server's sockets from any thread.
    pub fn sender(&self) -> UdpSender {
        UdpSender {
            path: self.shared.path.clone(),
        }
    }

    /// The loops, in index order (one socket each).
    pub fn loops(&self) -> Vec<LoopHandle> {
        self.shared
            .path
            .links
            .iter()
            .map(|l| l.lp.clone())
            .collect()
    }
}
