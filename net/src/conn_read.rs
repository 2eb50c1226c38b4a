//! The read path of a [`TcpConnection`]: start, handshake, reads, EOF, timers. The
//! write path and the closing rules are in `conn_write.rs`.
//!
//! Read: `readv` into the input buffer (plain) or the wire buffer (layer) until the
//! socket is drained, a short read proves it drained, or the per-event budget is
//! spent (then the loop comes back to it after serving the others). With a layer, the
//! ciphertext goes through `Layer::read` into the input buffer. Then the message
//! callback; then EOF handling.
//!
//! Deferred effects: what a callback asks for (close, shutdown) is applied by
//! [`TcpConnection::settle`] (in `conn_write.rs`) after the running callback returns,
//! so user code is never re-entered.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Instant;

use mio::event::Event;

use crate::buffer::SPILL;
use crate::connection::ConnState;
use crate::TcpConnection;

/// Bytes one readiness event may read before the loop serves other connections.
const READ_BUDGET: usize = 256 * 1024;

/// Buffers larger than this are given back once they drain.
pub(crate) const KEEP_CAPACITY: usize = 256 * 1024;

impl TcpConnection {
    /// Starts the connection on its loop: the layer's handshake (with its timeout), or
    /// straight to `Connected`.
    pub(crate) fn start(&mut self) {
        if let Some(idle) = self.service.options.idle_timeout {
            self.arm_idle_timer(idle);
        }
        let Some(layer) = self.layer.as_mut() else {
            self.established();
            return;
        };
        if let Err(e) = layer.start(&mut self.output) {
            self.fail(e, "handshake start");
            return;
        }
        if let Some(timeout) = self
            .service
            .layer
            .as_ref()
            .and_then(|f| f.handshake_timeout())
        {
            self.timers.handshake = Some(self.run_after(timeout, move |conn| {
                conn.timers.handshake = None;
                if conn.state == ConnState::Handshaking {
                    conn.tally.close(crate::stats::CloseCause::HandshakeTimeout);
                    log::warn!("{conn}: handshake timed out after {timeout:?}; closing");
                    conn.error = Some(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("handshake timed out after {timeout:?}"),
                    ));
                    conn.force_close();
                }
            }));
        }
        self.flush_output();
    }

    fn established(&mut self) {
        if let Some(t) = self.timers.handshake.take() {
            self.cancel_timer(t);
        }
        // The handshake's messages sized these buffers; an idle connection should not
        // keep that memory (a few KiB each, times every connection).
        if self.output.is_empty() {
            self.output.shrink(0);
        }
        if self.wire_in.is_empty() {
            self.wire_in.shrink(0);
        }
        if self.state == ConnState::Handshaking {
            self.state = ConnState::Connected;
        }
        self.flags.up_delivered = true;
        if self.layer.is_some() {
            self.service.stats.handshake_ok(self.id.loop_index);
        }
        if let Some(cb) = self.callbacks().connection.as_ref() {
            self.call_user(|c| cb(c));
        }
    }

    pub(crate) fn handle_event(&mut self, event: &Event) {
        if event.is_read_closed() || event.is_error() {
            self.flags.read_hup = true;
        }
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            self.handle_read();
        }
        if event.is_writable() && !self.flags.closed && !self.output.is_empty() {
            self.flush_output();
        }
        self.settle();
    }

    /// The loop resumes a read cut short by the budget, or unpaused.
    pub(crate) fn continue_read(&mut self) {
        self.handle_read();
        self.settle();
    }

    pub(crate) fn take_read_again(&mut self) -> bool {
        std::mem::take(&mut self.flags.read_again)
    }

    fn handle_read(&mut self) {
        let fd = self.stream.as_raw_fd();
        let mut total = 0;
        loop {
            if self.flags.closed
                || self.flags.close_requested
                || self.flags.peer_closed
                || self.is_reading_paused()
            {
                return;
            }
            let buf = if self.layer.is_some() {
                &mut self.wire_in
            } else {
                &mut self.input
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
            if n > 0 && self.service.options.idle_timeout.is_some() {
                self.last_activity = Instant::now();
            }
            // Deliver after every read: the input buffer stays the size of one read,
            // and a callback that pauses or closes takes effect before the next one.
            if !self.process_read(n == 0) || n == 0 {
                return;
            }
            // A short read drained the socket; edge-triggered epoll reports the next
            // arrival. After a hang-up we read on to the EOF.
            if n < room && !self.flags.read_hup {
                return;
            }
            if total >= READ_BUDGET {
                self.flags.read_again = true;
                return;
            }
        }
    }

    /// Passes what one read brought (or the EOF) through the layer to the
    /// application. Returns whether the connection can read on.
    fn process_read(&mut self, eof: bool) -> bool {
        if eof && !self.flags.up_delivered {
            // Port scanners and health checks do this; not a protocol failure.
            log::info!("{self}: peer closed before the handshake completed");
            self.tally.close(crate::stats::CloseCause::PeerEof);
            self.error = Some(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "peer closed before the handshake completed",
            ));
            self.force_close();
            return false;
        }
        let mut peer_closed = eof;
        if self.layer.is_some() {
            match self.layer_read(eof) {
                Some(closed) => peer_closed = closed,
                None => return false,
            }
        }
        if !self.input.is_empty() && self.flags.up_delivered {
            self.deliver_input();
        }
        if peer_closed {
            self.on_peer_closed();
            return false;
        }
        true
    }

    /// Runs the layer over the wire bytes. Returns whether the peer closed, or `None`
    /// if the connection failed.
    fn layer_read(&mut self, eof: bool) -> Option<bool> {
        let layer = self.layer.as_mut()?;
        let result = layer.read(&mut self.wire_in, &mut self.input, &mut self.output, eof);
        // Handshake replies and alerts go out whatever happened.
        self.flush_output();
        match result {
            Ok(r) => {
                if r.handshake_done {
                    self.established();
                }
                if r.truncated {
                    log::info!("{self}: peer closed without close_notify (truncated stream)");
                }
                if self.wire_in.is_empty() && self.wire_in.capacity() > KEEP_CAPACITY {
                    self.wire_in.shrink(0);
                }
                Some(r.peer_closed || r.truncated || eof)
            }
            Err(e) => {
                if !self.flags.up_delivered {
                    self.tally
                        .handshake_failed(crate::stats::HandshakeFailure::Protocol);
                }
                let what = if self.flags.up_delivered {
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
        let Some(cb) = self.callbacks().message.as_ref() else {
            self.input.retrieve_all();
            return;
        };
        // The callback gets the connection and its input at once: lend the buffer out.
        let mut input = std::mem::take(&mut self.input);
        self.call_user(|c| cb(c, &mut input));
        if input.is_empty() && input.capacity() > KEEP_CAPACITY {
            input.shrink(0);
        }
        self.input = input;
    }

    /// The peer half-closed: the application may still reply; then we close, bounded
    /// by the close delay.
    fn on_peer_closed(&mut self) {
        if self.flags.peer_closed {
            return;
        }
        self.flags.peer_closed = true;
        self.tally.close(crate::stats::CloseCause::PeerEof);
        if !self.flags.up_delivered {
            log::debug!("{self}: peer closed during the handshake");
            self.force_close();
            return;
        }
        self.arm_close_timer();
        match self.callbacks().half_close.as_ref() {
            Some(cb) => {
                self.call_user(|c| cb(c));
            }
            None => self.shutdown(),
        }
    }

    pub(crate) fn arm_close_timer(&mut self) {
        if self.timers.close.is_some() {
            return;
        }
        let delay = self.service.options.close_delay;
        self.timers.close = Some(self.run_after(delay, move |conn| {
            conn.timers.close = None;
            log::debug!("{conn}: close delay of {delay:?} passed; closing");
            conn.tally
                .close(crate::stats::CloseCause::CloseDelayTimeout);
            conn.force_close();
        }));
    }

    fn arm_idle_timer(&mut self, idle: std::time::Duration) {
        let at = self.last_activity + idle;
        let delay = at.saturating_duration_since(Instant::now());
        self.timers.idle = Some(self.run_after(delay, move |conn| {
            conn.timers.idle = None;
            if conn.last_activity.elapsed() >= idle {
                log::info!("{conn}: idle for {idle:?}; closing");
                conn.tally.close(crate::stats::CloseCause::IdleTimeout);
                conn.error = Some(io::Error::new(io::ErrorKind::TimedOut, "idle timeout"));
                conn.force_close();
            } else {
                conn.arm_idle_timer(idle);
            }
        }));
    }
}
