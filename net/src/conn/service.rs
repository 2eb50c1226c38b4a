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
