//! `TcpConnection`: one TCP connection, owned by the loop it was handed to.
//!
//! Thread rule: a connection lives in its loop's slab and is touched only on that
//! loop's thread: callbacks, tasks and timers get `&mut TcpConnection` there. Other
//! threads use a [`crate::ConnHandle`], which queues work to the loop and can never
//! reach a newer connection that reused the slot.
//!
//! Life: decided by one state machine, [`Lifecycle`] (`lifecycle.rs`); this file holds
//! the connection's data and its public API. The read path is `read.rs`, the
//! write path `write.rs`, and `events.rs` turns the machine's effects into
//! actions (callbacks, timers, shutdown, release).

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use mio::net::TcpStream;

use crate::buffer::Buffer;
use crate::conn::callbacks::Callbacks;
use crate::conn::extensions::Extensions;
use crate::conn::lifecycle::{Effects, Event, Lifecycle, PauseBy, Phase, WriteSide};
use crate::conn::proxy_info::ProxyInfo;
use crate::conn::service::{LivePlace, Service};
use crate::layer::tls_info::TlsInfo;
use crate::layer::Layer;
use crate::reactor::loop_ctx::LoopLocal;
use crate::reactor::slab::SlotId;
use crate::reactor::timer_queue::TimerId;
use crate::stats::CloseCause;

/// What every connection of one server or client shares.
pub(crate) type ConnService = Service<TcpConnection>;

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

/// Where a connection is in its life, as the application sees it.
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

/// One TCP connection, owned by its loop: callbacks, tasks and timers get
/// `&mut TcpConnection` on that loop's thread; other threads use a
/// [`ConnHandle`](crate::ConnHandle). Its life (handshake, up, half-closed, closed) is
/// one state machine; [`TcpConnection::state`] shows where it is.
pub struct TcpConnection {
    pub(crate) id: ConnId,
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    pub(crate) life: Lifecycle,
    pub(crate) service: Arc<ConnService>,
    /// The service's callbacks, shared by this loop's connections of the service
    /// (an `Rc`, so calling one costs no atomic operation: see `server/intake.rs`).
    pub(crate) callbacks: Rc<Callbacks<TcpConnection>>,
    pub(crate) local: Rc<LoopLocal>,
    /// Plaintext read, waiting for the application.
    pub(crate) input: Buffer,
    /// Bytes (ciphertext with a layer) waiting for the socket.
    pub(crate) output: Buffer,
    /// Ciphertext read, waiting for the layer (used only with a layer).
    pub(crate) wire_in: Buffer,
    pub(crate) layer: Option<Box<dyn Layer>>,
    extensions: Extensions,
    pub(crate) alive: Option<Arc<AtomicBool>>,
    pub(crate) error: Option<io::Error>,
    pub(crate) io: IoFlags,
    pub(crate) timers: ConnTimers,
    pub(crate) last_activity: Instant,
    /// What closed this connection, for the server's counters.
    pub(crate) tally: crate::stats::ConnTally,
    /// What the PROXY protocol header said, if there was one (see `proxy_protocol`).
    pub(crate) proxy: Option<Box<ProxyInfo>>,
    /// Its place in the service's live count, given back at release (or, if the
    /// connection is dropped unreleased, by a panic, on drop).
    pub(crate) place: Option<LivePlace<TcpConnection>>,
}

/// I/O bookkeeping (not the connection's life: that is `life`).
#[derive(Default)]
pub(crate) struct IoFlags {
    /// The event said the peer hung up: read on to EOF even after a short read.
    pub(crate) read_hup: bool,
    /// Read again later in this loop iteration (budget spent, or reading resumed).
    pub(crate) read_again: bool,
    pub(crate) above_high_water: bool,
    /// The queued size that crossed the high-water mark, for its callback. Never zero
    /// (it is above the mark), so the option costs no tag: 8 bytes, not 16, on every
    /// connection.
    pub(crate) high_water_pending: Option<std::num::NonZeroUsize>,
    pub(crate) write_complete_pending: bool,
    /// `apply` is carrying out effects: a nested event's effects wait in `deferred`.
    pub(crate) acting: bool,
    pub(crate) deferred: Effects,
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
        callbacks: Rc<Callbacks<TcpConnection>>,
        layer: Option<Box<dyn Layer>>,
        local: Rc<LoopLocal>,
        place: LivePlace<TcpConnection>,
    ) -> Self {
        let service = place.service().clone();
        let life = Lifecycle::new(layer.is_some(), callbacks.half_close.is_some());
        TcpConnection {
            id,
            stream,
            peer,
            life,
            service,
            callbacks,
            local,
            input: Buffer::new(),
            output: Buffer::new(),
            wire_in: Buffer::new(),
            layer,
            extensions: Extensions::default(),
            alive: None,
            error: None,
            io: IoFlags::default(),
            timers: ConnTimers::default(),
            last_activity: Instant::now(),
            tally: Default::default(),
            proxy: None,
            place: Some(place),
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

    /// The proxy's address, when the connection came through the PROXY protocol (then
    /// [`TcpConnection::peer_addr`] is the original client's).
    pub fn proxy_addr(&self) -> Option<SocketAddr> {
        self.proxy.as_ref().map(|p| p.proxy)
    }

    /// Everything the connection's PROXY protocol header said, if it had one.
    pub fn proxy_info(&self) -> Option<&ProxyInfo> {
        self.proxy.as_deref()
    }

    /// Our end's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }

    /// Where the connection is in its life.
    pub fn state(&self) -> ConnState {
        match (self.life.phase(), self.life.write_side()) {
            (Phase::Handshaking, _) => ConnState::Handshaking,
            (Phase::Connected, WriteSide::Open) => ConnState::Connected,
            (Phase::Connected, _) => ConnState::Disconnecting,
            (Phase::Closed, _) => ConnState::Disconnected,
        }
    }

    /// Whether the connection is up and our side open. In the connection callback
    /// this tells an up call (`true`) from a down call (`false`).
    pub fn is_connected(&self) -> bool {
        self.state() == ConnState::Connected
    }

    /// Whether the peer has half-closed (EOF, or TLS close_notify).
    pub fn is_peer_closed(&self) -> bool {
        self.life.peer_closed()
    }

    /// Whether the connection has closed (it is released when the current callback
    /// returns). Sends are dropped from then on.
    pub fn is_closed(&self) -> bool {
        self.life.is_closed()
    }

    /// Why the connection failed, if it did (an I/O error, or the layer's error: for
    /// TLS it carries OpenSSL's reasons). Useful in the down callback.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// The negotiated TLS session, if the connection has a TLS layer and its
    /// handshake completed.
    pub fn tls_info(&self) -> Option<TlsInfo> {
        self.layer.as_ref()?.tls_info()
    }

    /// The connection's layer (TLS), if any: for a layer's own extension traits
    /// (`net-ssl` reaches OpenSSL's session through it).
    pub fn layer(&self) -> Option<&dyn Layer> {
        self.layer.as_deref()
    }

    /// Typed state attached to the connection (one value per type).
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Typed state attached to the connection, mutable.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// Bytes waiting in the output buffer (ciphertext with TLS).
    pub fn output_len(&self) -> usize {
        self.output.readable_bytes()
    }

    /// Stops reading from the socket (backpressure); see [`TcpConnection::start_reading`].
    pub fn stop_reading(&mut self) {
        self.apply(Event::Pause(PauseBy::App));
    }

    /// Resumes reading, at once: bytes that arrived meanwhile are read now.
    pub fn start_reading(&mut self) {
        self.apply(Event::Resume(PauseBy::App));
    }

    /// Whether reading is paused (by the application or by the high-water policy).
    pub fn is_reading_paused(&self) -> bool {
        self.life.is_paused()
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
        let open = self.life.accepts_sends();
        if !open {
            log::debug!("{self}: send of {len} bytes after close, dropped");
        }
        open
    }

    /// Half-closes our side once the output buffer is flushed (TLS: after sending
    /// close_notify). Reading goes on until the peer closes too, bounded by the close
    /// delay. Sends after this are dropped. During the handshake: closes.
    pub fn shutdown(&mut self) {
        self.apply(Event::Shutdown);
    }

    /// Closes now; pending output is discarded. The down callback runs once the
    /// current callback returns.
    pub fn force_close(&mut self) {
        self.apply(Event::Close(CloseCause::Forced));
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
            .field("life", &self.life)
            .field("input", &self.input)
            .field("output", &self.output)
            .finish()
    }
}
