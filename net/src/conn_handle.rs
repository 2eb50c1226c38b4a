//! `ConnHandle`: reaches a connection from any thread.
//!
//! Ownership: a handle holds the loop's handle, the connection's id (slot + generation)
//! and a flag the connection clears when it closes. Every operation is a task queued
//! to the owning loop, which looks the connection up by id: a handle kept after its
//! connection closed finds nothing there, even if a new connection took the slot.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::{ConnId, LoopHandle, TcpConnection};

/// A `Clone + Send` handle to a connection. See the module docs.
///
/// ```no_run
/// # fn f(conn: &mut net::TcpConnection) {
/// let handle = conn.handle();
/// std::thread::spawn(move || {
///     if !handle.send(b"from another thread".to_vec()) {
///         eprintln!("connection already closed");
///     }
/// });
/// # }
/// ```
#[derive(Clone)]
pub struct ConnHandle {
    id: ConnId,
    loop_handle: LoopHandle,
    alive: Arc<AtomicBool>,
}

impl ConnHandle {
    pub(crate) fn new(id: ConnId, loop_handle: LoopHandle, alive: Arc<AtomicBool>) -> Self {
        ConnHandle {
            id,
            loop_handle,
            alive,
        }
    }

    /// The connection's id.
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// Whether the connection was open when last seen (it may close at any moment).
    pub fn is_connected(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    /// Queues `data` to be sent on the connection's loop. Returns `false` if the
    /// connection is known to be closed (nothing is queued then).
    pub fn send(&self, data: impl Into<Vec<u8>>) -> bool {
        let data = data.into();
        self.with_connection(move |conn| {
            conn.send(&data);
        })
    }

    /// Half-closes our side after pending output is flushed (see
    /// [`TcpConnection::shutdown`]).
    pub fn shutdown(&self) -> bool {
        self.with_connection(|conn| conn.shutdown())
    }

    /// Closes the connection, discarding pending output.
    pub fn force_close(&self) -> bool {
        self.with_connection(|conn| conn.force_close())
    }

    /// Closes the connection after `delay`.
    pub fn force_close_with_delay(&self, delay: Duration) -> bool {
        self.with_connection(move |conn| conn.force_close_with_delay(delay))
    }

    /// Runs `f` on the connection's loop with the connection, if it is still open
    /// there. Returns `false` if it is known to be closed.
    pub fn with_connection<F>(&self, f: F) -> bool
    where
        F: FnOnce(&mut TcpConnection) + Send + 'static,
    {
        if !self.is_connected() {
            return false;
        }
        let id = self.id;
        self.loop_handle.queue_in_loop(move |ctx| {
            if ctx.with_connection(id, f).is_none() {
                log::debug!("connection {id} closed before a queued operation ran");
            }
        })
    }
}

impl std::fmt::Debug for ConnHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnHandle")
            .field("id", &self.id)
            .field("connected", &self.is_connected())
            .finish()
    }
}
