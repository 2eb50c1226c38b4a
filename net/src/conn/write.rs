//! The write path of a [`TcpConnection`]: application → (layer) → socket.
//!
//! Write: `send` writes straight to the socket when nothing is queued; the rest waits
//! in the output buffer for a writable event. Every write uses `MSG_NOSIGNAL`: a peer
//! that vanished is an `EPIPE` error on this connection, never a SIGPIPE.
//!
//! The callbacks that follow from a write (write complete, high water) are noted here
//! and run by `settle` (`events.rs`) after the running callback returns, so user
//! code is never re-entered. Crossing the high-water mark pauses reading (and draining
//! to half of it resumes) through the state machine.

use std::io;
use std::time::Instant;

use crate::conn::connection::TcpConnection;
use crate::conn::lifecycle::{Event, PauseBy};
use crate::socket;

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
            let written = match self.send_until_full(data) {
                Ok(n) => n,
                Err(e) => return self.fail(e, "write"),
            };
            if written == data.len() {
                self.io.write_complete_pending = true;
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
    pub(crate) fn write_buffer(&mut self, buf: &mut crate::buffer::Buffer) {
        match self.send_until_full(buf.peek()) {
            Ok(n) => buf.retrieve(n),
            Err(e) => {
                buf.retrieve_all();
                return self.fail(e, "write");
            }
        }
        self.touch();
        if buf.is_empty() {
            self.io.write_complete_pending = true;
            return;
        }
        std::mem::swap(&mut self.output, buf);
        self.check_high_water();
    }

    fn check_high_water(&mut self) {
        let queued = self.output.readable_bytes();
        let mark = self.service.options.high_water_mark;
        if queued > mark && !self.io.above_high_water {
            self.io.above_high_water = true;
            self.io.high_water_pending = std::num::NonZeroUsize::new(queued);
            if self.service.options.pause_reading_above_high_water {
                self.apply(Event::Pause(PauseBy::HighWater));
            }
        }
    }

    /// Writes the output buffer until it drains or the socket is full.
    pub(crate) fn flush_output(&mut self) {
        let had = self.output.readable_bytes();
        let output = std::mem::take(&mut self.output);
        let sent = self.send_until_full(output.peek());
        self.output = output;
        match sent {
            Ok(n) => self.output.retrieve(n),
            Err(e) => return self.fail(e, "write"),
        }
        let left = self.output.readable_bytes();
        if left < had {
            self.touch();
        }
        if self.io.above_high_water && left <= self.service.options.high_water_mark / 2 {
            self.io.above_high_water = false;
            self.apply(Event::Resume(PauseBy::HighWater));
        }
        if left == 0 && had > 0 {
            self.io.write_complete_pending = true;
            self.output.release_if_drained();
        } else if left > 0 {
            self.check_high_water();
        }
    }

    /// Writes `bytes` to the socket until they are all gone or it is full (the one
    /// send loop of the write path); how many went out.
    fn send_until_full(&self, bytes: &[u8]) -> io::Result<usize> {
        let mut written = 0;
        while written < bytes.len() {
            match socket::send(&self.stream, &bytes[written..]) {
                Ok(n) => {
                    self.service.stats.bytes_out(self.id.loop_index, n);
                    written += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(written)
    }

    fn touch(&mut self) {
        if self.service.options.idle.counts_writes() {
            self.last_activity = Instant::now();
        }
    }
}
