//! What all connections of one server (or one client) share: callbacks, options, the
//! layer factory, the loops and the live-connection count.
//!
//! Ownership: one `Arc<Service>` per server or client, cloned into each connection.
//! Read-only after construction except the live count (a mutex + condvar, touched once
//! per connection open and close, never per message). Generic over the connection
//! type `C` (always `TcpConnection`) so that this file does not depend on it.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use crate::conn::callbacks::{Callbacks, ConnectionCallback};
use crate::conn::options::ConnOptions;
use crate::layer::LayerFactory;
use crate::reactor::loop_handle::LoopHandle;
use crate::stats::{CloseCause, HandshakeFailure};

pub(crate) struct Service<C> {
    pub(crate) name: String,
    pub(crate) callbacks: Callbacks<C>,
    pub(crate) options: ConnOptions,
    pub(crate) layer: Option<Arc<dyn LayerFactory>>,
    /// Runs when any connection is released, whether or not it came up (a client
    /// learns of failed handshakes this way).
    pub(crate) release_hook: Option<ConnectionCallback<C>>,
    /// The loops this service's connections live on (set once they exist).
    pub(crate) loops: OnceLock<Vec<LoopHandle>>,
    /// Per-loop counters (see `stats.rs`).
    pub(crate) stats: crate::stats::Counters,
    live: Mutex<usize>,
    all_closed: Condvar,
}

impl<C> Service<C> {
    pub(crate) fn new(
        name: String,
        callbacks: Callbacks<C>,
        options: ConnOptions,
        layer: Option<Arc<dyn LayerFactory>>,
    ) -> Self {
        Service {
            name,
            callbacks,
            options,
            layer,
            release_hook: None,
            loops: OnceLock::new(),
            stats: Default::default(),
            live: Mutex::new(0),
            all_closed: Condvar::new(),
        }
    }

    pub(crate) fn loops(&self) -> &[crate::reactor::loop_handle::LoopHandle] {
        self.loops.get().map(Vec::as_slice).unwrap_or_default()
    }

    /// Counts one more live connection; the returned place gives it back when dropped
    /// (see [`LivePlace`]). `loop_index` is the loop the connection goes to.
    pub(crate) fn admit(self: &Arc<Self>, loop_index: u32) -> LivePlace<C> {
        *self.live.lock() += 1;
        LivePlace {
            service: self.clone(),
            loop_index,
            given_back: false,
        }
    }

    fn closed(&self) {
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

/// One connection's place in its service's live count (`connection_count()`,
/// `stats().active`), from accept or connect until the connection is released.
///
/// The count is given back structurally: whoever holds the place (the task that hands
/// a socket to a loop, the PROXY header reader, the connection itself) gives it back
/// by dropping it, so an error or a panic anywhere between accept and release (in a
/// layer factory, a layer's start, a timer computation) cannot leave the count high.
/// A place dropped before its connection was released counts as a connection that
/// failed before it started ([`LivePlace::fail`] says why; a plain drop says "other
/// error").
pub(crate) struct LivePlace<C> {
    service: Arc<Service<C>>,
    loop_index: u32,
    given_back: bool,
}

impl<C> LivePlace<C> {
    /// The service whose count this place is in.
    pub(crate) fn service(&self) -> &Arc<Service<C>> {
        &self.service
    }

    /// The connection failed before it started (for `reason`, closed for `cause`).
    pub(crate) fn fail(mut self, reason: HandshakeFailure, cause: CloseCause) {
        self.give_back(reason, cause);
    }

    /// The connection was released (its close already counted by the caller).
    pub(crate) fn release(mut self) {
        self.given_back = true;
        self.service.closed();
    }

    fn give_back(&mut self, reason: HandshakeFailure, cause: CloseCause) {
        if !std::mem::replace(&mut self.given_back, true) {
            (self.service.stats).failed_before_start(self.loop_index, reason, cause);
            self.service.closed();
        }
    }
}

impl<C> Drop for LivePlace<C> {
    fn drop(&mut self) {
        self.give_back(HandshakeFailure::Other, CloseCause::Error);
    }
}
