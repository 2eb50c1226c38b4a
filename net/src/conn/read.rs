//! The read path of a [`TcpConnection`]: socket → (layer) → input buffer → the
//! message callback.
//!
//! `readv` into the input buffer (plain), the wire buffer (layer), or the layer's own
//! buffer (a layer that keeps unconsumed ciphertext: `Layer::read_buffer`) until the socket
//! is drained, a short read proves it drained, or the per-event budget is spent (then
//! the loop comes back to it after serving the others). With a layer, the ciphertext
//! goes through `Layer::read` into the input buffer. What happened (handshake done,
//! peer closed, failure) goes to the state machine through `apply`; this file only
//! moves bytes.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Instant;

use crate::buffer::SPILL;
use crate::conn::connection::TcpConnection;
use crate::conn::lifecycle::Event;
use crate::stats::HandshakeFailure;

/// Bytes one readiness event may read before the loop serves other connections.
const READ_BUDGET: usize = 256 * 1024;

impl TcpConnection {
    pub(crate) fn handle_read(&mut self) {
        let fd = self.stream.as_raw_fd();
        let mut total = 0;
        while self.life.reads() {
            let buf = match self.layer.as_mut() {
                // A layer that keeps its unconsumed ciphertext gets the bytes straight
                // behind it (see `Layer::read_buffer`).
                Some(layer) => match layer.read_buffer() {
                    Some(own) => own,
                    None => &mut self.wire_in,
                },
                None => &mut self.input,
            };
            let writable = buf.writable_bytes();
            let room = if writable < SPILL {
                writable + SPILL
            } else {
                writable
            };
            let n = match buf.read_from(fd) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return self.fail(e, "read"),
            };
            total += n;
            self.service.stats.bytes_in(self.id.loop_index, n);
            if n > 0 && self.service.options.idle.counts_reads() {
                self.last_activity = Instant::now();
            }
            // Deliver after every read: the input buffer stays the size of one read,
            // and a callback that pauses or closes takes effect before the next one.
            if !self.process_read(n == 0) || n == 0 {
                return;
            }
            // A short read drained the socket; edge-triggered epoll reports the next
            // arrival. After a hang-up we read on to the EOF.
            if n < room && !self.io.read_hup {
                return;
            }
            if total >= READ_BUDGET {
                self.io.read_again = true;
                return;
            }
        }
    }

    /// Passes what one read brought (or the EOF) through the layer to the
    /// application. Returns whether the connection can read on.
    fn process_read(&mut self, eof: bool) -> bool {
        if eof && !self.life.was_connected() {
            // Port scanners and health checks do this; not a protocol failure.
            log::info!("{self}: peer closed before the handshake completed");
            self.error = Some(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "peer closed before the handshake completed",
            ));
            self.apply(Event::PeerClosed);
            return false;
        }
        let mut peer_closed = eof;
        if self.layer.is_some() {
            match self.layer_read(eof) {
                Some(closed) => peer_closed = closed,
                None => return false,
            }
        }
        if !self.input.is_empty() {
            self.deliver_input();
        }
        if peer_closed {
            self.apply(Event::PeerClosed);
            return false;
        }
        !self.life.is_closed()
    }

    /// Runs the layer over the wire bytes. Returns whether the peer closed, or `None`
    /// if the connection failed.
    fn layer_read(&mut self, eof: bool) -> Option<bool> {
        let layer = self.layer.as_mut()?;
        let result = layer.read(&mut self.wire_in, &mut self.input, &mut self.output, eof);
        // Handshake replies and alerts go out whatever happened. Sending them can
        // fail (the peer reset): the machine is then closed, and the "handshake done"
        // below has no effect — a connection that never came up produces no callback.
        self.flush_output();
        match result {
            Ok(r) => {
                if r.handshake_done {
                    self.apply(Event::HandshakeDone);
                }
                if r.truncated {
                    log::info!("{self}: peer closed without close_notify (truncated stream)");
                }
                self.wire_in.release_if_drained();
                Some(r.peer_closed || r.truncated || eof)
            }
            Err(e) => {
                if !self.life.was_connected() {
                    self.tally.handshake_failed(HandshakeFailure::Protocol);
                }
                let what = if self.life.was_connected() {
                    "tls"
                } else {
                    "handshake"
                };
                self.fail(e, what);
                None
            }
        }
    }

    fn deliver_input(&mut self) {
        let callbacks = self.callbacks.clone();
        let (Some(cb), true) = (&callbacks.message, self.life.delivers()) else {
            // Not up (or closed in this very event): nobody may see these bytes.
            self.input.retrieve_all();
            return;
        };
        // The callback gets the connection and its input at once: lend the buffer out.
        let mut input = std::mem::take(&mut self.input);
        self.call_user(|c| cb(c, &mut input));
        input.release_if_drained();
        self.input = input;
    }
}
