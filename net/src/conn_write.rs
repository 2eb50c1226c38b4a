//! The write path of a [`TcpConnection`] and its closing rules.
//!
//! Write: `send` writes straight to the socket when nothing is queued; the rest waits
//! in the output buffer for a writable event. Every write uses `MSG_NOSIGNAL`: a peer
//! that vanished is an `EPIPE` error on this connection, never a SIGPIPE.
//!
//! Deferred effects: what a callback asks for (close, shutdown) and the callbacks that
//! follow from a write (write complete, high water) run in [`TcpConnection::settle`],
//! after the running callback returns, so user code is never re-entered.

use std::io;
use std::time::Instant;

use mio::Registry;

use crate::conn_read::KEEP_CAPACITY;
use crate::connection::ConnState;
use crate::socket;
use crate::TcpConnection;

impl TcpConnection {
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
                    Ok(n) => {
                        self.service.stats.bytes_out(self.id.loop_index, n);
                        written += n
                    }
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

    /// Plain connection, nothing queued: writes `buf` straight to the socket and, if
    /// the socket is full, adopts `buf`'s storage as the output buffer.
    pub(crate) fn write_buffer(&mut self, buf: &mut crate::Buffer) {
        while !buf.is_empty() {
            match socket::send(&self.stream, buf.peek()) {
                Ok(n) => {
                    self.service.stats.bytes_out(self.id.loop_index, n);
                    buf.retrieve(n)
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    buf.retrieve_all();
                    return self.fail(e, "write");
                }
            }
        }
        self.touch();
        if buf.is_empty() {
            self.flags.write_complete_pending = true;
            return;
        }
        std::mem::swap(&mut self.output, buf);
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
                Ok(n) => {
                    self.service.stats.bytes_out(self.id.loop_index, n);
                    self.output.retrieve(n)
                }
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
                if let Some(cb) = self.callbacks().write_complete.as_ref() {
                    if self.state != ConnState::Handshaking {
                        self.call_user(|c| cb(c));
                        continue;
                    }
                }
            }
            if let Some(queued) = self.flags.high_water_pending.take() {
                if let Some(cb) = self.callbacks().high_water.as_ref() {
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
        self.tally.close(crate::stats::CloseCause::Error);
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
            if let Some(cb) = self.callbacks().connection.as_ref() {
                self.call_user(|c| cb(c));
            }
        }
        let failed_handshake = self.layer.is_some() && !self.flags.up_delivered;
        (self.service.stats).released(self.id.loop_index, &self.tally, failed_handshake);
        if let Some(hook) = self.service.release_hook.clone() {
            hook(self);
        }
        self.service.closed();
    }
}
