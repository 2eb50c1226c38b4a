//! `UdpShared`: what a UDP server's loops, handles and `run` share, and the one stop.
//!
//! Stop: set the flag, poke every endpoint (each answers what already reached its
//! socket, flushes within the stop timeout, closes and reports), wait for all of them
//! (condition variable, bounded), then quit and join the loops.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::ctx::OnDatagram;
use super::sender::SendPath;
use crate::reactor::deadline::deadline_after;
use crate::reactor::loop_pool::LoopPool;

/// How long `start` waits for every loop to register its socket.
pub(crate) const REGISTER_TIMEOUT: Duration = Duration::from_secs(5);

/// What a server's loops, handles and senders share.
pub(crate) struct UdpShared {
    pub(crate) name: String,
    pub(crate) local_addr: SocketAddr,
    pub(crate) path: Arc<SendPath>,
    pub(crate) on_datagram: Arc<OnDatagram>,
    pub(crate) stop_timeout: Duration,
    /// Endpoints registered, then closed by the stop.
    pub(crate) registered: Mutex<usize>,
    pub(crate) closed: Mutex<usize>,
    pub(crate) changed: Condvar,
    pub(crate) pool: Mutex<Option<LoopPool>>,
    pub(crate) done: Mutex<bool>,
    pub(crate) done_cond: Condvar,
}

impl UdpShared {
    pub(crate) fn endpoint_closed(&self) {
        *self.closed.lock() += 1;
        self.changed.notify_all();
    }

    pub(crate) fn endpoint_registered(&self) {
        *self.registered.lock() += 1;
        self.changed.notify_all();
    }

    /// Waits until `count` reaches `target` or `deadline` passes.
    pub(crate) fn wait_for(&self, count: &Mutex<usize>, target: usize, deadline: Instant) -> bool {
        let mut n = count.lock();
        while *n < target {
            if self.changed.wait_until(&mut n, deadline).timed_out() {
                return *n >= target;
            }
        }
        true
    }

    pub(crate) fn stop(self: &Arc<Self>) -> bool {
        let on_own_loop = self.path.links.iter().any(|l| l.lp.is_in_loop_thread());
        if on_own_loop {
            let me = self.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("{}-stop", self.name))
                .spawn(move || me.stop());
            if let Err(e) = spawned {
                log::error!("{}: cannot start the stop thread: {e}", self.name);
            }
            return false;
        }
        if self.path.stopping.swap(true, Ordering::AcqRel) {
            return self.wait_done(self.stop_timeout.saturating_add(REGISTER_TIMEOUT));
        }
        log::info!("{}: stopping", self.name);
        for link in &self.path.links {
            link.poke();
        }
        let deadline = deadline_after(
            Instant::now(),
            self.stop_timeout.saturating_add(Duration::from_secs(1)),
        );
        let drained = self.wait_for(&self.closed, *self.registered.lock(), deadline);
        if !drained {
            log::warn!("{}: not every UDP socket drained in time", self.name);
        }
        if let Some(mut pool) = self.pool.lock().take() {
            pool.stop();
        }
        *self.done.lock() = true;
        self.done_cond.notify_all();
        log::info!("{}: stopped", self.name);
        drained
    }

    pub(crate) fn wait_done(&self, timeout: Duration) -> bool {
        let deadline = deadline_after(Instant::now(), timeout);
        let mut done = self.done.lock();
        while !*done {
            if self.done_cond.wait_until(&mut done, deadline).timed_out() {
                return *done;
            }
        }
        true
    }
}
