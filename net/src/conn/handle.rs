//! Reaching connections: [`ConnHandle`] from any thread, and broadcasts
//! ([`TcpConnection::for_each_sibling`], [`LoopCtx::for_each_connection`]).
//!
//! Ownership: a handle holds the loop's handle, the connection's id (slot + generation)
//! and a flag the connection clears when it closes. Every operation is a task queued
//! to the owning loop, which looks the connection up by id: a handle kept after its
//! connection closed finds nothing there, even if a new connection took the slot.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::conn::connection::ConnService;
use crate::conn::connection::{ConnId, TcpConnection};
use crate::reactor::loop_ctx::LoopCtx;
use crate::reactor::loop_handle::LoopHandle;

/// A `Clone + Send` handle to a connection: every operation is a task queued to the
/// owning loop, which looks the connection up by id, so a handle kept after its
/// connection closed finds nothing, even if a new connection took the slot.
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

impl TcpConnection {
    /// A handle for sending to or closing this connection from any thread.
    pub fn handle(&mut self) -> ConnHandle {
        let open = !self.is_closed();
        let alive = self
            .alive
            .get_or_insert_with(|| Arc::new(AtomicBool::new(open)))
            .clone();
        ConnHandle::new(self.id, self.loop_handle(), alive)
    }

    /// A handle to the loop that owns this connection.
    pub fn loop_handle(&self) -> LoopHandle {
        LoopHandle {
            shared: self.local.shared.clone(),
        }
    }

    /// Runs `f` on every connection of the same server (or client) that is up, on
    /// each connection's own loop: one task per loop, no lock. `f` also runs on this
    /// connection. A chat server's broadcast is one call:
    ///
    /// ```no_run
    /// # fn f(conn: &mut net::TcpConnection, frame: Vec<u8>) {
    /// let frame = std::sync::Arc::new(frame);
    /// conn.for_each_sibling(move |peer| {
    ///     peer.send(&frame);
    /// });
    /// # }
    /// ```
    pub fn for_each_sibling<F>(&self, f: F)
    where
        F: Fn(&mut TcpConnection) + Send + Sync + 'static,
    {
        crate::conn::broadcast::on_every_connection(
            &self.service,
            Arc::new(move |c: &mut TcpConnection| {
                if c.life.delivers() {
                    f(c)
                }
            }),
        );
    }

    /// Whether this connection belongs to `service`.
    pub(crate) fn belongs_to(&self, service: &Arc<ConnService>) -> bool {
        Arc::ptr_eq(&self.service, service)
    }
}

impl LoopCtx {
    /// Runs `f` on every connection of this loop that is up (a broadcast visits each
    /// loop with one task and sends from here, without any lock). Connections still in
    /// their handshake are skipped: the application has not seen them yet.
    pub fn for_each_connection(&mut self, mut f: impl FnMut(&mut TcpConnection)) {
        self.visit_connections(|conn| conn.life.delivers(), &mut f);
    }

    /// Runs `f` on every connection of this loop for which `wanted` holds, up or still
    /// in its handshake.
    pub(crate) fn visit_connections(
        &mut self,
        wanted: impl Fn(&TcpConnection) -> bool,
        mut f: impl FnMut(&mut TcpConnection),
    ) {
        // By index, without collecting ids: a broadcast allocates nothing here. `f`
        // may close connections (their slots empty) but cannot add any.
        for index in 0..self.slot_bound() {
            let Some((_, conn)) = self.connection_at(index) else {
                continue;
            };
            let Some(conn) = conn.as_any_mut().downcast_mut::<TcpConnection>() else {
                continue;
            };
            if wanted(conn) {
                let id = conn.id();
                self.with_connection(id, &mut f);
            }
        }
    }
}
