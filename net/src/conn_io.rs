//! The read and write paths of a [`TcpConnection`], and its closing rules.
//!
//! Read: `readv` into the input buffer (plain) or the wire buffer (layer) until the
//! socket is drained, a short read proves it drained, or the per-event budget is
//! spent (then the loop comes back to it after serving the others). With a layer, the
//! ciphertext goes through `Layer::read` into the input buffer. Then the message
//! callback; then EOF handling.
//!
//! Write: `send` writes straight to the socket when nothing is queued; the rest waits
//! in the output buffer for a writable event. Every write uses `MSG_NOSIGNAL`: a peer
//! that vanished is an `EPIPE` error on this connection, never a SIGPIPE.
//!
//! Deferred effects: what a callback asks for (close, shutdown) and the callbacks that
//! follow from a write (write complete, high water) run in [`TcpConnection::settle`],
//! after the running callback returns, so user code is never re-entered.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Instant;

use mio::event::Event;
use mio::Registry;

use crate::buffer::SPILL;
use crate::connection::ConnState;
use crate::socket;
use crate::TcpConnection;

/// Bytes one readiness event may read before the loop serves other connections.
const READ_BUDGET: usize = 256 * 1024;

/// Buffers larger than this are given back once they drain.
const KEEP_CAPACITY: usize = 256 * 1024;

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
        if let Some(cb) = self.service.callbacks.connection.clone() {
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
        if self.flags.closed
            || self.flags.close_requested
            || self.flags.peer_closed
            || self.is_reading_paused()
        {
            return;
        }
        let fd = self.stream.as_raw_fd();
        let mut total = 0;
        let mut eof = false;
        loop {
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
            match buf.read_from(fd) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    total += n;
                    // A short read drained the socket; edge-triggered epoll reports
                    // the next arrival. After a hang-up we read on to the EOF.
                    if n < room && !self.flags.read_hup {
                        break;
                    }
                    if total >= READ_BUDGET {
                        self.flags.read_again = true;
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.fail(e, "read");
                    return;
                }
            }
        }
        if total > 0 && self.service.options.idle_timeout.is_some() {
            self.last_activity = Instant::now();
        }
        let mut peer_closed = eof;
        if eof && !self.flags.up_delivered {
            // Port scanners and health checks do this; not a protocol failure.
            log::info!("{self}: peer closed before the handshake completed");
            self.error = Some(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "peer closed before the handshake completed",
            ));
            self.force_close();
            return;
        }
        if self.layer.is_some() && (total > 0 || eof) {
            match self.layer_read(eof) {
                Some(closed) => peer_closed = closed,
                None => return,
            }
        }
        if !self.input.is_empty() && self.flags.up_delivered {
            self.deliver_input();
        }
        if peer_closed {
            self.on_peer_closed();
        }
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
        let Some(cb) = self.service.callbacks.message.clone() else {
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
        if !self.flags.up_delivered {
            log::debug!("{self}: peer closed during the handshake");
            self.force_close();
            return;
        }
        self.arm_close_timer();
        match self.service.callbacks.half_close.clone() {
            Some(cb) => {
                self.call_user(|c| cb(c));
            }
            None => self.shutdown(),
        }
    }

    fn arm_close_timer(&mut self) {
        if self.timers.close.is_some() {
            return;
        }
        let delay = self.service.options.close_delay;
        self.timers.close = Some(self.run_after(delay, move |conn| {
            conn.timers.close = None;
            log::debug!("{conn}: close delay of {delay:?} passed; closing");
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
                conn.error = Some(io::Error::new(io::ErrorKind::TimedOut, "idle timeout"));
                conn.force_close();
            } else {
                conn.arm_idle_timer(idle);
            }
        }));
    }

    /// Encodes (with a layer) and queues or writes `data`.
    pub(crate) fn write_bytes(&mut self, data: &[u8]) {
        if let Some(layer) = self.layer.as_mut() {
            if let Err(e) = layer.write(data, &mut self.output) {
                self.fail(e, "tls write");
                return;
            }
            self.flush_output();
        } else if self.output.is_empty() {
            let mut written = 0;
            while written < data.len() {
                match socket::send(&self.stream, &data[written..]) {
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.fail(e, "write");
                        return;
                    }
                }
            }
            if written == data.len() {
                self.flags.write_complete_pending = true;
                self.touch();
                return;
            }
            self.output.append(&data[written..]);
        } else {
            self.output.append(data);
        }
        self.check_high_water();
    }

    fn check_high_water(&mut self) {
        let queued = self.output.readable_bytes();
        let mark = self.service.options.high_water_mark;
        if queued > mark && !self.flags.above_high_water {
            self.flags.above_high_water = true;
            self.flags.high_water_pending = Some(queued);
            if self.service.options.pause_reading_above_high_water {
                self.flags.paused_by_high_water = true;
            }
        }
    }

    /// Writes the output buffer until it drains or the socket is full.
    pub(crate) fn flush_output(&mut self) {
        let had = self.output.readable_bytes();
        while !self.output.is_empty() {
            match socket::send(&self.stream, self.output.peek()) {
                Ok(n) => self.output.retrieve(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.fail(e, "write");
                    return;
                }
            }
        }
        let left = self.output.readable_bytes();
        if left < had {
            self.touch();
        }
        if self.flags.above_high_water && left <= self.service.options.high_water_mark / 2 {
            self.flags.above_high_water = false;
            if self.flags.paused_by_high_water {
                self.flags.paused_by_high_water = false;
                self.flags.read_again = true;
            }
        }
        if left == 0 && had > 0 {
            self.flags.write_complete_pending = true;
            if self.output.capacity() > KEEP_CAPACITY {
                self.output.shrink(0);
            }
        } else if left > 0 {
            self.check_high_water();
        }
    }

    fn touch(&mut self) {
        if self.service.options.idle_timeout.is_some() {
            self.last_activity = Instant::now();
        }
    }

    /// Applies what callbacks asked for, and runs the callbacks that follow from it,
    /// until nothing changes.
    pub(crate) fn settle(&mut self) {
        loop {
            if self.flags.closed {
                return;
            }
            if self.flags.close_requested {
                self.close_now();
                return;
            }
            if self.flags.write_complete_pending && self.output.is_empty() {
                self.flags.write_complete_pending = false;
                if let Some(cb) = self.service.callbacks.write_complete.clone() {
                    if self.state != ConnState::Handshaking {
                        self.call_user(|c| cb(c));
                        continue;
                    }
                }
            }
            if let Some(queued) = self.flags.high_water_pending.take() {
                if let Some(cb) = self.service.callbacks.high_water.clone() {
                    self.call_user(|c| cb(c, queued));
                    continue;
                }
            }
            if self.flags.shutdown_requested && !self.flags.write_closed && self.output.is_empty() {
                if !self.flags.layer_closed {
                    self.flags.layer_closed = true;
                    if let Some(layer) = self.layer.as_mut() {
                        if let Err(e) = layer.close(&mut self.output) {
                            log::debug!("{self}: close_notify not sent: {e}");
                        }
                        self.flush_output();
                        continue;
                    }
                }
                self.flags.write_closed = true;
                if let Err(e) = self.stream.shutdown(std::net::Shutdown::Write) {
                    log::debug!("{self}: shutdown(write): {e}");
                }
                self.arm_close_timer();
            }
            // Both directions are done: nothing more can happen on this connection.
            if self.flags.write_closed && self.flags.peer_closed {
                self.close_now();
            }
            return;
        }
    }

    /// Records an I/O or layer failure and closes.
    pub(crate) fn fail(&mut self, e: io::Error, what: &str) {
        match e.kind() {
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
                log::debug!("{self}: {what}: {e}")
            }
            // The layer's error already says "handshake failed" and why.
            _ if what == "handshake" => log::warn!("{self}: {e}"),
            _ => log::warn!("{self}: {what} failed: {e}"),
        }
        self.error = Some(e);
        self.close_now();
    }

    fn close_now(&mut self) {
        if self.flags.closed {
            return;
        }
        self.flags.closed = true;
        self.flags.close_requested = true;
        self.state = ConnState::Disconnected;
        self.mark_dead();
        let timers = std::mem::take(&mut self.timers);
        for t in [timers.handshake, timers.close, timers.idle]
            .into_iter()
            .flatten()
        {
            self.cancel_timer(t);
        }
    }

    pub(crate) fn deregister(&mut self, registry: &Registry) {
        if let Err(e) = registry.deregister(&mut self.stream) {
            log::debug!("{self}: deregister: {e}");
        }
    }

    /// Whether the up callback ran (the handshake, if any, completed).
    pub(crate) fn came_up(&self) -> bool {
        self.flags.up_delivered
    }

    /// Runs the down callback (if the up callback ran) and releases the connection.
    pub(crate) fn finish(&mut self) {
        self.close_now();
        if self.flags.up_delivered {
            if let Some(cb) = self.service.callbacks.connection.clone() {
                self.call_user(|c| cb(c));
            }
        }
        if let Some(hook) = self.service.release_hook.clone() {
            hook(self);
        }
        self.service.closed();
    }
}
