//! `TcpConnection`: one TCP connection, owned by the loop it was handed to.
//!
//! Thread rule: a connection lives in its loop's slab and is touched only on that
//! loop's thread: callbacks, tasks and timers get `&mut TcpConnection` there. Other
//! threads use a [`ConnHandle`], which queues work to the loop and can never reach a
//! newer connection that reused the slot.
//!
//! Life: `Handshaking` (only with a layer) → `Connected` → `Disconnecting` (our
//! shutdown requested) → `Disconnected`. The up callback fires on entering
//! `Connected`, the down callback once on `Disconnected`, and only if the up callback
//! fired. The read and write paths are in `conn_io.rs`.

use std::any::Any;
use std::io;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;

use crate::conn_handle::ConnHandle;
use crate::layer::Layer;
use crate::loop_ctx::LoopLocal;
use crate::service::Service;
use crate::slab::SlotId;
use crate::timer_queue::TimerId;
use crate::util::panic_message;
use crate::{Buffer, LoopHandle};

/// Identifies a connection: its loop and its slot (with the slot's generation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId {
    pub(crate) loop_index: u32,
    pub(crate) slot: SlotId,
}

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}-{}.{}",
            self.loop_index, self.slot.index, self.slot.generation
        )
    }
}

impl ConnId {
    /// The index (in its pool) of the loop that owns the connection.
    pub fn loop_index(&self) -> usize {
        self.loop_index as usize
    }
}

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// The layer's handshake is in progress; the application has not seen it yet.
    Handshaking,
    /// Up: the application may send and receives messages.
    Connected,
    /// Our side is shutting down: pending output is flushed, then we half-close.
    Disconnecting,
    /// Closed; the socket is released once the current callback returns.
    Disconnected,
}

/// One TCP connection. See the module docs for ownership and states.
pub struct TcpConnection {
    pub(crate) id: ConnId,
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    pub(crate) state: ConnState,
    pub(crate) service: Arc<Service>,
    pub(crate) local: Rc<LoopLocal>,
    /// Plaintext read, waiting for the application.
    pub(crate) input: Buffer,
    /// Bytes (ciphertext with a layer) waiting for the socket.
    pub(crate) output: Buffer,
    /// Ciphertext read, waiting for the layer (used only with a layer).
    pub(crate) wire_in: Buffer,
    pub(crate) layer: Option<Box<dyn Layer>>,
    context: Option<Box<dyn Any>>,
    alive: Option<Arc<AtomicBool>>,
    pub(crate) error: Option<io::Error>,
    pub(crate) flags: Flags,
    pub(crate) timers: ConnTimers,
    pub(crate) last_activity: Instant,
    /// What closed this connection, for the server's counters.
    pub(crate) tally: crate::stats::ConnTally,
    /// What the PROXY protocol header said, if there was one (see `proxy_protocol`).
    pub(crate) proxy: Option<Box<crate::ProxyInfo>>,
}

#[derive(Default)]
pub(crate) struct Flags {
    pub(crate) up_delivered: bool,
    pub(crate) peer_closed: bool,
    /// The event said the peer hung up: read on to EOF even after a short read.
    pub(crate) read_hup: bool,
    pub(crate) shutdown_requested: bool,
    pub(crate) layer_closed: bool,
    pub(crate) write_closed: bool,
    pub(crate) close_requested: bool,
    pub(crate) closed: bool,
    pub(crate) paused_by_user: bool,
    pub(crate) paused_by_high_water: bool,
    pub(crate) above_high_water: bool,
    pub(crate) high_water_pending: Option<usize>,
    pub(crate) write_complete_pending: bool,
    pub(crate) read_again: bool,
}

#[derive(Default)]
pub(crate) struct ConnTimers {
    pub(crate) handshake: Option<TimerId>,
    pub(crate) close: Option<TimerId>,
    pub(crate) idle: Option<TimerId>,
}

impl TcpConnection {
    pub(crate) fn new(
        id: ConnId,
        stream: TcpStream,
        peer: SocketAddr,
        service: Arc<Service>,
        layer: Option<Box<dyn Layer>>,
        local: Rc<LoopLocal>,
    ) -> Self {
        TcpConnection {
            id,
            stream,
            peer,
            state: ConnState::Handshaking,
            service,
            local,
            input: Buffer::new(),
            output: Buffer::new(),
            wire_in: Buffer::new(),
            layer,
            context: None,
            alive: None,
            error: None,
            flags: Flags::default(),
            timers: ConnTimers::default(),
            last_activity: Instant::now(),
            tally: Default::default(),
            proxy: None,
        }
    }

    /// This connection's id.
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// The name of the server or client this connection belongs to.
    pub fn service_name(&self) -> &str {
        &self.service.name
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// Our end's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }

    /// Where the connection is in its life.
    pub fn state(&self) -> ConnState {
        self.state
    }

    /// Whether the connection is up (`Connected`). In the connection callback this
    /// tells an up call (`true`) from a down call (`false`).
    pub fn is_connected(&self) -> bool {
        self.state == ConnState::Connected
    }

    /// Whether the peer has half-closed (EOF, or TLS close_notify).
    pub fn is_peer_closed(&self) -> bool {
        self.flags.peer_closed
    }

    /// Why the connection failed, if it did (an I/O error, or the layer's error: for
    /// TLS it carries OpenSSL's reasons). Useful in the down callback.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// The connection's layer (TLS), if any; `net-ssl` reads TLS details through it.
    pub fn layer(&self) -> Option<&dyn Layer> {
        self.layer.as_deref()
    }

    /// A handle for sending to or closing this connection from any thread.
    pub fn handle(&mut self) -> ConnHandle {
        let alive = self
            .alive
            .get_or_insert_with(|| Arc::new(AtomicBool::new(self.state != ConnState::Disconnected)))
            .clone();
        ConnHandle::new(self.id, self.loop_handle(), alive)
    }

    /// A handle to the loop that owns this connection.
    pub fn loop_handle(&self) -> LoopHandle {
        LoopHandle {
            shared: self.local.shared.clone(),
        }
    }

    /// Attaches typed user state to the connection, replacing any earlier one.
    pub fn set_context<T: Any>(&mut self, context: T) {
        self.context = Some(Box::new(context));
    }

    /// The user state, if it is a `T`.
    pub fn context<T: Any>(&self) -> Option<&T> {
        self.context.as_ref()?.downcast_ref()
    }

    /// The user state, mutable, if it is a `T`.
    pub fn context_mut<T: Any>(&mut self) -> Option<&mut T> {
        self.context.as_mut()?.downcast_mut()
    }

    /// Takes the user state out, if it is a `T`.
    pub fn take_context<T: Any>(&mut self) -> Option<T> {
        match self.context.take()?.downcast::<T>() {
            Ok(b) => Some(*b),
            Err(other) => {
                self.context = Some(other);
                None
            }
        }
    }

    /// Bytes waiting in the output buffer (ciphertext with TLS).
    pub fn output_len(&self) -> usize {
        self.output.readable_bytes()
    }

    /// Stops reading from the socket (backpressure); see [`TcpConnection::start_reading`].
    pub fn stop_reading(&mut self) {
        self.flags.paused_by_user = true;
    }

    /// Resumes reading, at once: bytes that arrived meanwhile are read now.
    pub fn start_reading(&mut self) {
        if self.flags.paused_by_user {
            self.flags.paused_by_user = false;
            self.flags.read_again = true;
        }
    }

    /// Whether reading is paused (by the application or by the high-water policy).
    pub fn is_reading_paused(&self) -> bool {
        self.flags.paused_by_user || self.flags.paused_by_high_water
    }

    /// Sends `data`. Written straight to the socket when nothing is queued, otherwise
    /// appended to the output buffer and flushed when the socket is writable. Through
    /// a layer, the bytes are encrypted first (and held until the handshake is done).
    ///
    /// Returns `false` (and drops the bytes) once our side is shutting down or closed.
    pub fn send(&mut self, data: &[u8]) -> bool {
        if !self.can_send(data.len()) {
            return false;
        }
        self.write_bytes(data);
        true
    }

    /// Sends every readable byte of `buf` and empties it. When nothing is queued and
    /// the socket takes only part, the rest is not copied: `buf`'s storage becomes the
    /// output buffer (an echo or a proxy moves bytes without a userland copy).
    pub fn send_buffer(&mut self, buf: &mut Buffer) -> bool {
        if !self.can_send(buf.readable_bytes()) {
            buf.retrieve_all();
            return false;
        }
        if self.layer.is_some() || !self.output.is_empty() {
            self.write_bytes(buf.peek());
            buf.retrieve_all();
        } else {
            self.write_buffer(buf);
        }
        true
    }

    fn can_send(&self, len: usize) -> bool {
        let open = matches!(self.state, ConnState::Connected | ConnState::Handshaking)
            && !self.flags.close_requested;
        if !open {
            log::debug!("{self}: send of {len} bytes after close, dropped");
        }
        open
    }

    /// Half-closes our side once the output buffer is flushed (TLS: after sending
    /// close_notify). Reading goes on until the peer closes too, bounded by the close
    /// delay. Sends after this are dropped.
    pub fn shutdown(&mut self) {
        match self.state {
            // Nothing of the application's went out yet: just close.
            ConnState::Handshaking => self.force_close(),
            ConnState::Connected => {
                self.tally.close(crate::stats::CloseCause::Shutdown);
                self.state = ConnState::Disconnecting;
                self.flags.shutdown_requested = true;
            }
            ConnState::Disconnecting | ConnState::Disconnected => {}
        }
    }

    /// Closes now; pending output is discarded. The down callback runs once the
    /// current callback returns.
    pub fn force_close(&mut self) {
        if self.state != ConnState::Disconnected {
            self.tally.close(crate::stats::CloseCause::Forced);
            self.flags.close_requested = true;
        }
    }

    /// Closes after `delay` (unless it closed before).
    pub fn force_close_with_delay(&mut self, delay: Duration) {
        self.run_after(delay, |conn| conn.force_close());
    }

    /// Runs `callback` on this connection after `delay`, if it is still open then.
    pub fn run_after<F>(&mut self, delay: Duration, mut callback: F) -> TimerId
    where
        F: FnMut(&mut TcpConnection) + 'static,
    {
        let id = self.id;
        self.local.add_timer(
            Instant::now() + delay,
            None,
            Box::new(move |ctx| {
                ctx.with_connection(id, &mut callback);
            }),
        )
    }

    /// Cancels a timer set with [`TcpConnection::run_after`].
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.local.cancel(id)
    }

    /// Whether the connection has closed (it is released when the current callback
    /// returns).
    pub fn is_closed(&self) -> bool {
        self.flags.closed
    }

    /// Whether a close was asked for or happened: sends are dropped from here on.
    pub fn is_closing(&self) -> bool {
        self.flags.close_requested || self.flags.closed
    }

    /// Runs `f` on every open connection of the same server (or client), on each
    /// connection's own loop: one task per loop, no lock. `f` also runs on this
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
        crate::service_broadcast::on_every_connection(&self.service, Arc::new(f));
    }

    /// The service's callbacks, borrowed apart from `self` so that one can be called
    /// with `&mut self`. Saves cloning an `Arc` per message, whose reference count
    /// would bounce between the cores of every loop serving the same server.
    pub(crate) fn callbacks<'a>(&self) -> &'a crate::Callbacks {
        // SAFETY: `self.service` is set when the connection is made and never
        // replaced, and it is dropped only with the connection. Callers use the
        // reference within one method call on `self` (the connection is alive then,
        // and so is the `Service` its `Arc` keeps), and never store it.
        unsafe { &(*Arc::as_ptr(&self.service)).callbacks }
    }

    /// Runs `f` with `self`, catching a panic: a panicking callback closes its
    /// connection, with an error log, and the loop goes on.
    pub(crate) fn call_user<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> Option<R> {
        match catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(r) => Some(r),
            Err(p) => {
                log::error!(
                    "{self}: callback panicked: {}; closing the connection",
                    panic_message(&*p)
                );
                self.error = Some(io::Error::other("callback panicked"));
                self.force_close();
                None
            }
        }
    }

    pub(crate) fn mark_dead(&mut self) {
        if let Some(alive) = &self.alive {
            alive.store(false, Ordering::Release);
        }
    }
}

impl std::fmt::Display for TcpConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{} {}", self.service.name, self.id, self.peer)
    }
}

impl std::fmt::Debug for TcpConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpConnection")
            .field("id", &self.id)
            .field("peer", &self.peer)
            .field("state", &self.state)
            .field("input", &self.input)
            .field("output", &self.output)
            .finish()
    }
}
