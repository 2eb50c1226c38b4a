//! [`RustlsLayer`]: rustls's unbuffered API as a [`net::Layer`].
//!
//! The connection does every system call; rustls reads records from the ciphertext the
//! connection read, and writes records into the connection's output buffer. The layer
//! keeps only what cannot be handed on yet: the tail of a record that has not fully
//! arrived (at most one record, or one handshake message, rustls bounds both) and the
//! plaintext the application sent before the handshake completed.

use std::any::Any;
use std::io;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};

use net::{Buffer, Layer, LayerRead, CHEAP_PREPEND};
use rustls::client::UnbufferedClientConnection;
use rustls::server::UnbufferedServerConnection;

use crate::drive::{drive, encode_queued, Job, Seen, Stop};
use crate::error::RustlsError;
use crate::sni;

/// A drained `incoming` larger than this is given back (as the connection does with
/// its own buffers).
const KEEP_CAPACITY: usize = 256 * 1024;

/// The largest TLS record on the wire: 16 KiB of plaintext plus what a cipher may add
/// (RFC 8446, 5.2), plus the header.
const MAX_RECORD: usize = 16 * 1024 + 256 + 5;

/// The room made behind a partial record before a read when less than a whole record
/// is free there (see [`Layer::read_buffer`] below).
const READ_ROOM: usize = 2 * MAX_RECORD;

/// The rustls connection of one side.
pub(crate) enum Side {
    Server(Box<UnbufferedServerConnection>),
    Client(Box<UnbufferedClientConnection>),
}

/// The reading direction once the session is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadSide {
    Open,
    /// The peer's close_notify arrived; nothing after it is read.
    PeerClosed,
}

/// The writing direction once the session is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteSide {
    Open,
    /// Our close_notify is queued; nothing more is sent.
    CloseSent,
}

/// The layer's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Handshake in progress; application writes wait in `pending`.
    Handshaking,
    /// Handshake done; application data flows in the open directions.
    Established { read: ReadSide, write: WriteSide },
    /// The stream ended without close_notify after the handshake. No more TLS I/O.
    Truncated,
    /// rustls reported an error (its alert, if any, was sent). No more TLS I/O.
    Failed,
}

/// The TLS layer of one connection (client or server side), on rustls.
///
/// Built by [`crate::RustlsAcceptor`] (server) or [`crate::RustlsClientFactory`]
/// (client) through [`net::LayerFactory`].
pub struct RustlsLayer {
    side: Side,
    peer: Option<SocketAddr>,
    state: State,
    /// Ciphertext rustls has not consumed yet: the start of a record (or of a
    /// handshake message spread over records) still arriving. Kept here rather than
    /// in the connection's wire buffer because a write must hand rustls the same
    /// bytes it saw last; the connection reads straight into it
    /// ([`Layer::read_buffer`]), so no byte read is copied over.
    incoming: Buffer,
    /// How many bytes `incoming` held when the last read was processed: at least a
    /// record's worth means the peer streams large records (see `read_buffer`).
    last_fill: usize,
    /// Plaintext written before the handshake completed.
    pending: Buffer,
    /// Server: the name the client asked for (SNI). Client: the name it sent.
    server_name: Option<String>,
}

impl RustlsLayer {
    pub(crate) fn new(side: Side, peer: Option<SocketAddr>, server_name: Option<String>) -> Self {
        RustlsLayer {
            side,
            peer,
            state: State::Handshaking,
            incoming: Buffer::new(),
            last_fill: 0,
            pending: Buffer::new(),
            server_name,
        }
    }

    /// Whether this is the client side.
    pub fn is_client(&self) -> bool {
        matches!(self.side, Side::Client(_))
    }

    /// The peer address given when the layer was made.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Whether the handshake has completed (and the stream has not failed since).
    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Established { .. })
    }

    /// Whether the peer sent close_notify.
    pub fn peer_closed(&self) -> bool {
        matches!(
            self.state,
            State::Established {
                read: ReadSide::PeerClosed,
                ..
            }
        )
    }

    /// The server name: on the server the one the client asked for (SNI), on the
    /// client the one it sent.
    pub fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// rustls's state shared by both sides (version, suite, ALPN, peer certificates).
    pub fn common_state(&self) -> &rustls::CommonState {
        match &self.side {
            Side::Server(c) => c,
            Side::Client(c) => c,
        }
    }

    fn drive(
        &mut self,
        plain: &mut Buffer,
        wire_out: &mut Buffer,
        job: Job<'_>,
    ) -> Result<(Stop, Seen), rustls::Error> {
        let handshaking = self.state == State::Handshaking;
        let (side, incoming) = (&mut self.side, &mut self.incoming);
        // A panic inside rustls (a bug there, or a misuse here) must cost this
        // connection only, not the worker loop and every connection on it.
        let result = catch_unwind(AssertUnwindSafe(|| match side {
            Side::Server(c) => {
                if handshaking {
                    sni::begin();
                }
                let r = drive(c.as_mut(), incoming, plain, wire_out, job);
                let name = if handshaking { sni::take() } else { None };
                (r, name)
            }
            Side::Client(c) => (drive(c.as_mut(), incoming, plain, wire_out, job), None),
        }));
        match result {
            Ok((r, name)) => {
                if name.is_some() {
                    self.server_name = name;
                }
                r
            }
            Err(panic) => {
                // No alert after a panic: rustls's state is not to be trusted.
                self.state = State::Failed;
                Err(rustls::Error::General(format!(
                    "rustls panicked: {}",
                    panic_message(&*panic)
                )))
            }
        }
    }

    /// Marks the layer failed, lets rustls's alert (if it queued one) go out, and
    /// names the role and the peer in the error.
    fn fail(&mut self, err: RustlsError, wire_out: &mut Buffer) -> io::Error {
        if self.state != State::Failed {
            self.state = State::Failed;
            let (side, incoming) = (&mut self.side, &mut self.incoming);
            // After an error rustls queues its alert; send it so the peer learns why.
            let _ = catch_unwind(AssertUnwindSafe(|| match side {
                Side::Server(c) => encode_queued(c.as_mut(), incoming, wire_out),
                Side::Client(c) => encode_queued(c.as_mut(), incoming, wire_out),
            }));
        }
        self.incoming = Buffer::new();
        self.pending = Buffer::new();
        let role = if self.is_client() { "client" } else { "server" };
        let prefix = match self.peer {
            Some(peer) => format!("TLS {role} (peer {peer})"),
            None => format!("TLS {role}"),
        };
        let err = err.context(prefix);
        log::debug!("{err}");
        err.into()
    }

    fn read_step(
        &mut self,
        plain: &mut Buffer,
        wire_out: &mut Buffer,
        eof: bool,
    ) -> Result<LayerRead, RustlsError> {
        let mut out = LayerRead::default();
        let was_handshaking = self.state == State::Handshaking;
        let step = if was_handshaking {
            "handshake failed"
        } else {
            "read failed"
        };
        let (stop, seen) = self
            .drive(plain, wire_out, Job::NONE)
            .map_err(|e| RustlsError::rustls(step, e))?;
        if was_handshaking && !self.common_state().is_handshaking() {
            self.state = State::Established {
                read: ReadSide::Open,
                write: WriteSide::Open,
            };
            out.handshake_done = true;
            // The handshake's messages sized this buffer; an idle connection keeps
            // none (as the connection does with its own buffers).
            if self.incoming.is_empty() {
                self.incoming = Buffer::new();
            }
        }
        if seen.peer_closed {
            if let State::Established { read, .. } = &mut self.state {
                *read = ReadSide::PeerClosed;
            }
            out.peer_closed = true;
        }
        if self.is_established() && !self.pending.is_empty() && stop != Stop::Closed {
            self.flush_pending(wire_out)?;
        }
        if eof && !out.peer_closed && !self.peer_closed() {
            match self.state {
                State::Established { .. } => {
                    // Whatever decrypted before the EOF was delivered above; a record
                    // cut short by the EOF is dropped with the rest of the stream.
                    self.state = State::Truncated;
                    self.incoming = Buffer::new();
                    out.truncated = true;
                }
                _ => {
                    return Err(RustlsError::msg(
                        "the peer closed the connection during the handshake",
                    ))
                }
            }
        }
        Ok(out)
    }

    /// Encrypts the plaintext kept while the handshake ran.
    fn flush_pending(&mut self, wire_out: &mut Buffer) -> Result<(), RustlsError> {
        let pending = std::mem::take(&mut self.pending);
        self.encrypt(pending.peek(), false, wire_out)
    }

    /// Encrypts `plain` (and queues close_notify if `close`) into `wire_out`.
    fn encrypt(
        &mut self,
        plain: &[u8],
        close: bool,
        wire_out: &mut Buffer,
    ) -> Result<(), RustlsError> {
        // rustls yields records only from `incoming`, which holds no complete record
        // between calls, so nothing is decrypted here; a scratch buffer takes the
        // impossible case rather than dropping it.
        let mut scratch = Buffer::new();
        let (_, seen) = self
            .drive(&mut scratch, wire_out, Job { send: plain, close })
            .map_err(|e| RustlsError::rustls("write failed", e))?;
        if !scratch.is_empty() {
            return Err(RustlsError::msg(
                "rustls produced application data during a write",
            ));
        }
        if !seen.job_done {
            return Err(RustlsError::msg(
                "the TLS session no longer accepts application data",
            ));
        }
        Ok(())
    }
}

impl Layer for RustlsLayer {
    fn start(&mut self, wire_out: &mut Buffer) -> io::Result<()> {
        if !self.is_client() || self.state != State::Handshaking {
            return Ok(());
        }
        let mut scratch = Buffer::new();
        match self.drive(&mut scratch, wire_out, Job::NONE) {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(RustlsError::rustls("starting the handshake", e), wire_out)),
        }
    }

    fn read(
        &mut self,
        wire_in: &mut Buffer,
        plain: &mut Buffer,
        wire_out: &mut Buffer,
        eof: bool,
    ) -> io::Result<LayerRead> {
        match self.state {
            State::Truncated => {
                wire_in.retrieve_all();
                return Ok(LayerRead {
                    truncated: true,
                    ..LayerRead::default()
                });
            }
            State::Failed => {
                wire_in.retrieve_all();
                return Err(self.fail(RustlsError::msg("read after a TLS failure"), wire_out));
            }
            State::Established {
                read: ReadSide::PeerClosed,
                ..
            } => {
                // Nothing may follow close_notify; ignore whatever does.
                wire_in.retrieve_all();
                return Ok(LayerRead {
                    peer_closed: true,
                    ..LayerRead::default()
                });
            }
            _ => {}
        }
        // The connection read into `incoming` (`read_buffer`); anything in `wire_in`
        // came another way and follows what is there.
        if !wire_in.is_empty() {
            if self.incoming.is_empty() {
                std::mem::swap(&mut self.incoming, wire_in);
            } else {
                self.incoming.append(wire_in.peek());
                wire_in.retrieve_all();
            }
        }
        self.last_fill = self.incoming.readable_bytes();
        let result = self.read_step(plain, wire_out, eof);
        if self.incoming.is_empty() && self.incoming.capacity() > KEEP_CAPACITY {
            // One burst must not leave every idle connection holding its buffer.
            self.incoming = Buffer::new();
        }
        result.map_err(|e| self.fail(e, wire_out))
    }

    fn read_buffer(&mut self) -> Option<&mut Buffer> {
        match self.state {
            State::Handshaking
            | State::Established {
                read: ReadSide::Open,
                ..
            } => {}
            // Whatever arrives now is discarded by `read`: the connection's buffer.
            _ => return None,
        }
        let buf = &mut self.incoming;
        if buf.is_empty() || buf.writable_bytes() >= MAX_RECORD {
            return Some(buf);
        }
        // A record still arriving with little room behind it. Move its start to the
        // front, so the read gets the room before it (`Buffer::read_from` would otherwise
        // spill the rest to its stack area, copy it over and grow the buffer).
        let tail = buf.readable_bytes();
        let room_once_moved =
            buf.writable_bytes() + buf.prependable_bytes().saturating_sub(CHEAP_PREPEND);
        if self.last_fill < MAX_RECORD {
            // Small reads (small messages, or a peer trickling bytes): grow only with
            // what arrives, so a slow peer costs what it sent.
            buf.ensure_writable(room_once_moved);
        } else if room_once_moved >= READ_ROOM {
            // A stream of large records: room for two, so the start of the next partial
            // record, copied forward next time, is small beside what was read.
            buf.ensure_writable(READ_ROOM);
        } else {
            // Sized once for any record start (`Buffer` itself would double).
            let mut bigger = Buffer::with_capacity(tail.max(MAX_RECORD) + READ_ROOM);
            bigger.append(buf.peek());
            *buf = bigger;
        }
        Some(buf)
    }

    fn write(&mut self, plain: &[u8], wire_out: &mut Buffer) -> io::Result<()> {
        match self.state {
            State::Failed | State::Truncated => Err(self.fail(
                RustlsError::msg("write after the TLS stream ended"),
                wire_out,
            )),
            State::Handshaking => {
                self.pending.append(plain);
                Ok(())
            }
            State::Established {
                write: WriteSide::CloseSent,
                ..
            } => Err(self.fail(
                RustlsError::msg("write after close_notify was sent"),
                wire_out,
            )),
            State::Established { .. } => self
                .encrypt(plain, false, wire_out)
                .map_err(|e| self.fail(e, wire_out)),
        }
    }

    fn close(&mut self, wire_out: &mut Buffer) -> io::Result<()> {
        let State::Established {
            write: write @ WriteSide::Open,
            read,
        } = self.state
        else {
            return Ok(());
        };
        let _ = write;
        let pending = std::mem::take(&mut self.pending);
        self.state = State::Established {
            read,
            write: WriteSide::CloseSent,
        };
        self.encrypt(pending.peek(), true, wire_out)
            .map_err(|e| self.fail(e.context("sending close_notify"), wire_out))
    }

    fn tls_info(&self) -> Option<net::TlsInfo> {
        self.is_established().then(|| self.session_info())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "a non-string panic payload"
    }
}

impl std::fmt::Debug for RustlsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RustlsLayer")
            .field("client", &self.is_client())
            .field("peer", &self.peer)
            .field("state", &self.state)
            .field("incoming", &self.incoming.readable_bytes())
            .field("pending", &self.pending.readable_bytes())
            .finish()
    }
}
