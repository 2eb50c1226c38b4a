//! The server's one graceful stop, callable from any thread.
//!
//! 1. Stop accepting: every acceptor leaves its loop and closes its listener (the
//!    loops confirm; a listener handed to another process stays open there).
//! 2. Tell every connection that is up (its `on_drain` callback: HTTP answers with
//!    `Connection: close` from now on, a WebSocket sends close 1001), then the grace
//!    (default none): wait for connections to end by themselves, for protocols whose
//!    clients finish a request and leave.
//! 3. Shut down the rest on every loop: an idle connection sends its FIN at once, a busy
//!    one flushes its output (and TLS close_notify) first; or, with `drain_shutdown`, let
//!    the protocol end it (HTTP/2: close once the in-flight streams finish).
//! 4. Wait, on the live-connection condition variable (no polling), until none is left
//!    or the stop timeout passes; force-close what is left and wait for its release.
//! 5. Quit the main loop: `TcpServer::run` then joins the workers and returns.
//!
//! Called on one of the server's own loop threads, the stop runs on a thread of its
//! own (waiting there would hold up the loop that has to close its connections).

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::conn::broadcast::on_every_connection;
use crate::conn::callbacks::ConnectionCallback;
use crate::conn::connection::{ConnService, TcpConnection};
use crate::reactor::deadline::{deadline_after, deadline_in};
use crate::reactor::loop_ctx::LoopCtx;
use crate::reactor::loop_handle::LoopHandle;
use crate::reactor::slab::SlotId;

/// How long the loops get to confirm that they stopped accepting, and to release
/// force-closed connections.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

/// What a server's handles and its running `run` share.
pub(crate) struct ServerShared {
    pub(crate) service: Arc<ConnService>,
    /// The main loop (it accepts in the default mode and waits for quit in any mode).
    pub(crate) base: LoopHandle,
    /// The loops with acceptors: the main loop, or every worker in the per-loop mode.
    pub(crate) accepting: Vec<LoopHandle>,
    /// Registered acceptors: (their loop, their slot).
    acceptors: Mutex<Vec<(usize, SlotId)>>,
    /// Copies of the listening sockets, for handing them to another process; closed
    /// when the server stops accepting.
    listeners: Mutex<Vec<TcpListener>>,
    stopping: AtomicBool,
    done: Mutex<bool>,
    done_cond: Condvar,
    pub(crate) stop_timeout: Duration,
    pub(crate) drain_grace: Duration,
    /// How each connection is ended after the grace (`TcpServerBuilder::drain_shutdown`);
    /// `shutdown` when unset.
    drain_step: Option<ConnectionCallback<TcpConnection>>,
}

fn loop_key(lp: &LoopHandle) -> usize {
    Arc::as_ptr(&lp.shared) as usize
}

impl ServerShared {
    pub(crate) fn new(
        service: Arc<ConnService>,
        base: LoopHandle,
        accepting: Vec<LoopHandle>,
        listeners: Vec<TcpListener>,
        stop_timeout: Duration,
        drain_grace: Duration,
        drain_step: Option<ConnectionCallback<TcpConnection>>,
    ) -> Self {
        ServerShared {
            service,
            base,
            accepting,
            acceptors: Mutex::new(Vec::new()),
            listeners: Mutex::new(listeners),
            stopping: AtomicBool::new(false),
            done: Mutex::new(false),
            done_cond: Condvar::new(),
            stop_timeout,
            drain_grace,
            drain_step,
        }
    }

    /// Whether a stop has begun (an acceptor registering late then stays out).
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Records an acceptor registered on `ctx`'s loop.
    pub(crate) fn acceptor_registered(&self, ctx: &LoopCtx, id: SlotId) {
        self.acceptors.lock().push((loop_key(&ctx.handle()), id));
    }

    /// Copies of the listening sockets (for a hand-over), unless the server stopped
    /// accepting.
    pub(crate) fn listener_copies(&self) -> std::io::Result<Vec<TcpListener>> {
        let listeners = self.listeners.lock();
        if self.is_stopping() || listeners.is_empty() {
            return Err(std::io::Error::other("the server is stopping"));
        }
        listeners.iter().map(TcpListener::try_clone).collect()
    }

    /// `run` has returned: wake whoever waits in `stop`.
    pub(crate) fn mark_done(&self) {
        *self.done.lock() = true;
        self.done_cond.notify_all();
    }

    /// Stops gracefully (see the module docs). From outside the server's loops it
    /// waits until the server has stopped (bounded) and returns whether it did; on a
    /// loop thread it only starts the stop and returns `false`.
    pub(crate) fn stop(self: &Arc<Self>) -> bool {
        let on_loop = self.base.is_in_loop_thread()
            || self.service.loops().iter().any(|l| l.is_in_loop_thread());
        if !self.stopping.swap(true, Ordering::AcqRel) {
            if on_loop {
                let me = self.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("{}-stop", self.service.name))
                    .spawn(move || me.drain());
                if let Err(e) = spawned {
                    log::error!("{}: cannot start the stop thread: {e}", self.service.name);
                    self.base.quit();
                }
            } else {
                self.drain();
            }
        }
        if on_loop {
            return false;
        }
        let waits = (self.drain_grace)
            .saturating_add(self.stop_timeout)
            .saturating_add(2 * CONFIRM_TIMEOUT);
        let deadline = deadline_in(waits);
        let mut done = self.done.lock();
        while !*done {
            if self.done_cond.wait_until(&mut done, deadline).timed_out() {
                break;
            }
        }
        *done
    }

    fn drain(self: &Arc<Self>) {
        let name = &self.service.name;
        let start = Instant::now();
        self.stop_accepting();
        log::info!(
            "{name}: stopped accepting; draining {} connections",
            self.service.live()
        );
        // Queued before the shutdown below on every loop (FIFO): what a protocol
        // says on its drain callback goes out before the FIN.
        on_every_connection(&self.service, Arc::new(|c| c.drain_begins()));
        if !self.drain_grace.is_zero() {
            self.service
                .wait_all_closed(deadline_after(start, self.drain_grace));
        }
        let step = self
            .drain_step
            .clone()
            .unwrap_or_else(|| Arc::new(|c: &mut TcpConnection| c.shutdown()));
        on_every_connection(&self.service, step);
        let left = self.service.wait_all_closed(deadline_in(self.stop_timeout));
        if left > 0 {
            log::warn!("{name}: {left} connections still open at the stop deadline; closing them");
            on_every_connection(&self.service, Arc::new(|c| c.stop_now()));
            self.service
                .wait_all_closed(Instant::now() + CONFIRM_TIMEOUT);
        }
        self.base.quit();
    }

    /// Takes every acceptor off its loop (closing its listener) and waits, bounded,
    /// until each accepting loop confirmed.
    fn stop_accepting(self: &Arc<Self>) {
        self.listeners.lock().clear();
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut asked = 0;
        for lp in &self.accepting {
            let (tx, me, key) = (tx.clone(), self.clone(), loop_key(lp));
            if lp.queue_in_loop(move |ctx| {
                for id in me.acceptors_on(key) {
                    ctx.remove_handler(id);
                }
                let _ = tx.send(());
            }) {
                asked += 1;
            }
        }
        let deadline = Instant::now() + CONFIRM_TIMEOUT;
        for _ in 0..asked {
            if rx.recv_deadline(deadline).is_err() {
                log::warn!(
                    "{}: a loop did not confirm it stopped accepting",
                    self.service.name
                );
                break;
            }
        }
    }

    /// Takes the acceptors registered on the loop `key` out of the list. Registration
    /// tasks run before the removal task on the same loop (its queue is FIFO), and
    /// `stopping` keeps later ones out, so the list is complete here.
    fn acceptors_on(&self, key: usize) -> Vec<SlotId> {
        let mut all = self.acceptors.lock();
        let (mine, rest) = all.drain(..).partition(|(k, _)| *k == key);
        *all = rest;
        mine.into_iter().map(|(_, id)| id).collect()
    }
}
