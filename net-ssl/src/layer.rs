//! [`TlsLayer`]: OpenSSL as a [`net::Layer`], over the in-memory [`MemIo`] transport.
//!
//! The connection does every system call; this layer only turns ciphertext into
//! plaintext and back. OpenSSL's "want read" is a state the layer waits in until the
//! connection brings more bytes; "want write" cannot happen because the outbound side
//! accepts everything. The connection's buffers are lent to OpenSSL by swapping them
//! into the [`MemIo`] around each OpenSSL call, so no byte is copied twice.

use std::any::Any;
use std::io;
use std::net::SocketAddr;

use net::{Buffer, Layer, LayerRead};
use openssl::ssl::{self, ErrorCode, Ssl, SslRef, SslStream};

use crate::error::TlsError;
use crate::error_queue::with_clean_error_queue;
use crate::mem_io::MemIo;

/// Room made in the plaintext buffer before each `SSL_read`: one full TLS record.
const READ_CHUNK: usize = 16 * 1024 + 512;
/// The least room offered to one `SSL_read`.
const MIN_READ: usize = 256;

/// OpenSSL's library code for SSL routines (`ERR_LIB_SSL`).
const ERR_LIB_SSL: i32 = 20;
/// `SSL_R_UNEXPECTED_EOF_WHILE_READING` (OpenSSL 3): EOF without close_notify.
const SSL_R_UNEXPECTED_EOF_WHILE_READING: i32 = 294;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Handshake in progress.
    Handshaking,
    /// Handshake done; application data flows.
    Established,
    /// The stream ended: an error, or EOF without close_notify. No more OpenSSL I/O.
    Dead,
}

/// What an `ssl::Error` from an OpenSSL I/O call means for the layer.
enum Outcome {
    /// Wait for more inbound bytes.
    NeedInput,
    /// Call again now (post-handshake message processed, nothing to return yet).
    Again,
    /// The peer sent close_notify.
    PeerClosed,
    /// End of stream without close_notify.
    Truncated,
    /// A real failure.
    Fatal,
}

/// The TLS layer of one connection (client or server side).
///
/// Built by [`crate::TlsAcceptor`] (server) or [`crate::TlsClientFactory`] (client)
/// through [`net::LayerFactory`]; [`TlsLayer::server`] and [`TlsLayer::client`] build one
/// from a hand-made [`Ssl`].
pub struct TlsLayer {
    stream: SslStream<MemIo>,
    is_client: bool,
    peer: Option<SocketAddr>,
    state: State,
    /// Plaintext written before the handshake completed (or that OpenSSL could not take).
    pending: Buffer,
    peer_closed: bool,
    truncated: bool,
    close_sent: bool,
}

impl TlsLayer {
    /// A server-side layer (waits for the ClientHello).
    pub fn server(ssl: Ssl, peer: Option<SocketAddr>) -> Result<TlsLayer, TlsError> {
        TlsLayer::new(ssl, false, peer)
    }

    /// A client-side layer (writes the ClientHello in [`Layer::start`]). SNI and
    /// hostname verification must already be configured on `ssl`.
    pub fn client(ssl: Ssl, peer: Option<SocketAddr>) -> Result<TlsLayer, TlsError> {
        TlsLayer::new(ssl, true, peer)
    }

    fn new(mut ssl: Ssl, is_client: bool, peer: Option<SocketAddr>) -> Result<TlsLayer, TlsError> {
        if is_client {
            ssl.set_connect_state();
        } else {
            ssl.set_accept_state();
        }
        let stream = SslStream::new(ssl, MemIo::new())
            .map_err(|e| TlsError::stack("creating the TLS stream", e))?;
        Ok(TlsLayer {
            stream,
            is_client,
            peer,
            state: State::Handshaking,
            pending: Buffer::new(),
            peer_closed: false,
            truncated: false,
            close_sent: false,
        })
    }

    /// The OpenSSL session object, for queries this type does not wrap.
    pub fn ssl(&self) -> &SslRef {
        self.stream.ssl()
    }

    /// Whether this is the client side.
    pub fn is_client(&self) -> bool {
        self.is_client
    }

    /// The peer address given when the layer was made.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Whether the handshake has completed (and the stream has not failed since).
    pub fn is_established(&self) -> bool {
        self.state == State::Established
    }

    /// Whether the peer sent close_notify.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// Lends the connection's buffers to OpenSSL, runs `f` on a clean OpenSSL error
    /// queue (see `error_queue.rs`), and takes the buffers back.
    fn with_io<R>(
        &mut self,
        wire_in: Option<&mut Buffer>,
        wire_out: &mut Buffer,
        f: impl FnOnce(&mut TlsLayer) -> R,
    ) -> R {
        with_clean_error_queue(|| self.with_io_unchecked(wire_in, wire_out, f))
    }

    fn with_io_unchecked<R>(
        &mut self,
        wire_in: Option<&mut Buffer>,
        wire_out: &mut Buffer,
        f: impl FnOnce(&mut TlsLayer) -> R,
    ) -> R {
        let io = self.stream.get_mut();
        io.swap_outbound(wire_out);
        match wire_in {
            Some(wire_in) => {
                io.swap_inbound(wire_in);
                let r = f(self);
                let io = self.stream.get_mut();
                io.swap_inbound(wire_in);
                io.swap_outbound(wire_out);
                r
            }
            None => {
                let r = f(self);
                self.stream.get_mut().swap_outbound(wire_out);
                r
            }
        }
    }

    /// Classifies an error from an OpenSSL I/O call.
    fn outcome(&self, e: &ssl::Error) -> Outcome {
        match e.code() {
            ErrorCode::WANT_READ => match e.io_error() {
                Some(io) if io.kind() == io::ErrorKind::WouldBlock => Outcome::NeedInput,
                // No transport error behind it: OpenSSL processed a post-handshake
                // message (session ticket, key update) and wants to be called again.
                None => Outcome::Again,
                Some(_) => Outcome::Fatal,
            },
            // MemIo accepts every write, so this cannot happen; waiting (rather than
            // retrying at once) rules out a busy loop if it ever did.
            ErrorCode::WANT_WRITE => Outcome::NeedInput,
            ErrorCode::ZERO_RETURN => Outcome::PeerClosed,
            ErrorCode::SYSCALL | ErrorCode::SSL => {
                let io = self.stream.get_ref();
                let at_eof = io.is_eof() && io.inbound().is_empty();
                let eof_reason = match (e.code(), e.ssl_error()) {
                    (ErrorCode::SYSCALL, None) => e.io_error().is_none(),
                    (_, Some(stack)) => stack.errors().iter().any(|x| {
                        x.library_code() == ERR_LIB_SSL
                            && x.reason_code() == SSL_R_UNEXPECTED_EOF_WHILE_READING
                    }),
                    _ => false,
                };
                if at_eof && eof_reason {
                    Outcome::Truncated
                } else {
                    Outcome::Fatal
                }
            }
            _ => Outcome::Fatal,
        }
    }

    /// Marks the layer dead and adds the role, the peer and the verification result.
    fn fail(&mut self, err: TlsError) -> io::Error {
        self.state = State::Dead;
        let role = if self.is_client { "client" } else { "server" };
        let prefix = match self.peer {
            Some(peer) => format!("TLS {role} (peer {peer})"),
            None => format!("TLS {role}"),
        };
        let err = err
            .with_verify_result(self.ssl().verify_result())
            .context(prefix);
        log::debug!("{err}");
        err.into()
    }

    /// Drives the handshake as far as the inbound bytes allow. Returns whether it
    /// completed during this call.
    fn handshake(&mut self) -> Result<bool, TlsError> {
        loop {
            match self.stream.do_handshake() {
                Ok(()) => {
                    self.state = State::Established;
                    self.flush_pending()?;
                    return Ok(true);
                }
                Err(e) => match self.outcome(&e) {
                    Outcome::NeedInput => return Ok(false),
                    Outcome::Again => continue,
                    _ => return Err(TlsError::ssl("handshake failed", e)),
                },
            }
        }
    }

    /// Writes the plaintext kept while the handshake ran.
    fn flush_pending(&mut self) -> Result<(), TlsError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        self.encrypt(pending.peek())
    }

    /// Encrypts all of `plain` into the outbound buffer (records of up to 16 KiB).
    fn encrypt(&mut self, plain: &[u8]) -> Result<(), TlsError> {
        let mut done = 0;
        while done < plain.len() {
            match self.stream.ssl_write(&plain[done..]) {
                Ok(n) => done += n,
                Err(e) => match self.outcome(&e) {
                    // OpenSSL must read first: keep the rest for after the next read.
                    Outcome::NeedInput => {
                        self.pending.append(&plain[done..]);
                        return Ok(());
                    }
                    Outcome::Again => continue,
                    _ => return Err(TlsError::ssl("write failed", e)),
                },
            }
        }
        Ok(())
    }

    /// Reads every plaintext byte available into `plain`.
    fn drain(&mut self, plain: &mut Buffer, out: &mut LayerRead) -> Result<(), TlsError> {
        loop {
            let io = self.stream.get_ref();
            if io.inbound().is_empty() && !io.is_eof() && self.stream.ssl().pending() == 0 {
                return Ok(());
            }
            // Plaintext never exceeds the ciphertext still to decrypt plus what OpenSSL
            // holds decrypted, so size the room by that: a connection of small
            // messages keeps a small input buffer instead of 16 KiB.
            let bound = io.inbound().readable_bytes() + self.stream.ssl().pending();
            plain.ensure_writable(bound.clamp(MIN_READ, READ_CHUNK));
            match self.stream.ssl_read(plain.writable_slice()) {
                Ok(n) => plain.has_written(n),
                Err(e) => match self.outcome(&e) {
                    Outcome::NeedInput => return Ok(()),
                    Outcome::Again => continue,
                    Outcome::PeerClosed => {
                        self.peer_closed = true;
                        out.peer_closed = true;
                        return Ok(());
                    }
                    Outcome::Truncated => {
                        self.truncated = true;
                        self.state = State::Dead;
                        out.truncated = true;
                        return Ok(());
                    }
                    Outcome::Fatal => return Err(TlsError::ssl("read failed", e)),
                },
            }
        }
    }

    fn read_step(&mut self, plain: &mut Buffer) -> Result<LayerRead, TlsError> {
        let mut out = LayerRead::default();
        if self.state == State::Handshaking {
            out.handshake_done = self.handshake()?;
            if !out.handshake_done {
                return Ok(out);
            }
        } else if !self.pending.is_empty() {
            // A write waited for OpenSSL to read something first.
            self.flush_pending()?;
        }
        self.drain(plain, &mut out)?;
        if !self.pending.is_empty() {
            self.flush_pending()?;
        }
        Ok(out)
    }
}

impl Layer for TlsLayer {
    fn start(&mut self, wire_out: &mut Buffer) -> io::Result<()> {
        if !self.is_client || self.state != State::Handshaking {
            return Ok(());
        }
        match self.with_io(None, wire_out, |me| me.handshake()) {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(e)),
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
            State::Dead if self.truncated => {
                wire_in.retrieve_all();
                return Ok(LayerRead {
                    truncated: true,
                    ..LayerRead::default()
                });
            }
            State::Dead => return Err(self.fail(TlsError::msg("read after a TLS failure"))),
            _ if self.peer_closed => {
                // Nothing may follow close_notify; ignore whatever does.
                wire_in.retrieve_all();
                return Ok(LayerRead {
                    peer_closed: true,
                    ..LayerRead::default()
                });
            }
            _ => {}
        }
        if eof {
            self.stream.get_mut().set_eof(true);
        }
        match self.with_io(Some(wire_in), wire_out, |me| me.read_step(plain)) {
            Ok(out) => Ok(out),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn write(&mut self, plain: &[u8], wire_out: &mut Buffer) -> io::Result<()> {
        match self.state {
            State::Dead => Err(self.fail(TlsError::msg("write after the TLS stream ended"))),
            State::Handshaking => {
                self.pending.append(plain);
                Ok(())
            }
            State::Established if !self.pending.is_empty() => {
                // Keep the order: earlier bytes still wait for OpenSSL.
                self.pending.append(plain);
                Ok(())
            }
            State::Established => match self.with_io(None, wire_out, |me| me.encrypt(plain)) {
                Ok(()) => Ok(()),
                Err(e) => Err(self.fail(e)),
            },
        }
    }

    fn close(&mut self, wire_out: &mut Buffer) -> io::Result<()> {
        if self.state != State::Established || self.close_sent {
            return Ok(());
        }
        self.close_sent = true;
        let result = self.with_io(None, wire_out, |me| {
            me.flush_pending()?;
            match me.stream.shutdown() {
                Ok(_) => Ok(()),
                Err(e) => match me.outcome(&e) {
                    // close_notify is out; we do not wait for the peer's.
                    Outcome::NeedInput | Outcome::Again => Ok(()),
                    _ => Err(TlsError::ssl("sending close_notify failed", e)),
                },
            }
        });
        result.map_err(|e| self.fail(e))
    }

    fn tls_info(&self) -> Option<net::TlsInfo> {
        self.is_established().then(|| self.session_info())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl std::fmt::Debug for TlsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsLayer")
            .field("client", &self.is_client)
            .field("peer", &self.peer)
            .field("state", &self.state)
            .field("pending", &self.pending.readable_bytes())
            .finish()
    }
}
