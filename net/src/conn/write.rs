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
use crate::conn::read::KEEP_CAPACITY;
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
            self.io.high_water_pending = Some(queued);
            if self.service.options.pause_reading_above_high_water {
                self.apply(Event::Pause(PauseBy::HighWater));
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
        if self.io.above_high_water && left <= self.service.options.high_water_mark / 2 {
            self.io.above_high_water = false;
            self.apply(Event::Resume(PauseBy::HighWater));
        }
        if left == 0 && had > 0 {
            self.io.write_complete_pending = true;
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
}
