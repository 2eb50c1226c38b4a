//! Writing answers in request order: responses, streamed bodies with backpressure,
//! the interim 100, and the switch to WebSocket.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use net::TcpConnection;

use super::{HttpConn, Outgoing, Slot, Streaming};
use crate::chunked::{encode_chunk, LAST_CHUNK};
use crate::response::Response;
use crate::response::{bodiless, write_head, Body, OutFraming};
use crate::ws;

impl HttpConn {
    /// Writes what can go out in order, resumes paused parsing, and settles timers.
    pub(super) fn pump(&mut self, conn: &mut TcpConnection) {
        loop {
            self.write_ready(conn);
            if conn.is_closed() || self.upgraded {
                return;
            }
            if self.hold
                && !self.upgrade_pending
                && self.slots.len() < self.app.limits.max_pipelined
            {
                self.hold = false;
                conn.start_reading();
                self.drain_stash(conn);
                continue;
            }
            break;
        }
        if self.peer_done && !self.hold {
            // No more bytes will come: a request still arriving can never complete.
            if let Some(b) = self.body.take() {
                if b.seq.checked_sub(self.send_seq).map(|i| i + 1) == Some(self.slots.len() as u64)
                {
                    self.slots.pop_back();
                }
                self.last_request_seen = true;
            }
            self.head_started = None;
        }
        if self.slots.is_empty() && self.streaming.is_none() && !self.hold {
            if self.last_request_seen || self.peer_done {
                conn.shutdown();
                return;
            }
            if self.body.is_none() && self.head_started.is_none() && self.idle_since.is_none() {
                self.idle_since = Some(Instant::now());
            }
        }
        self.ensure_tick(conn);
    }

    pub(super) fn write_ready(&mut self, conn: &mut TcpConnection) {
        loop {
            if self.streaming.is_some() && !self.pull_stream(conn) {
                return;
            }
            let Some(front) = self.slots.front_mut() else {
                return;
            };
            if front.out.is_none() {
                if self.continue_for == Some(self.send_seq) {
                    conn.send(b"HTTP/1.1 100 Continue\r\n\r\n");
                    self.app.metrics.response(100);
                    self.continue_for = None;
                }
                return;
            }
            let Some(mut slot) = self.slots.pop_front() else {
                return;
            };
            self.send_seq += 1;
            self.served += 1;
            match slot.out.take() {
                Some(Outgoing::Response(resp)) => self.write_response(conn, &slot, resp),
                Some(Outgoing::Upgrade(handler, accept)) => {
                    self.upgrade(conn, handler, &accept);
                    return;
                }
                None => {}
            }
        }
    }

    pub(super) fn write_response(&mut self, conn: &mut TcpConnection, slot: &Slot, resp: Response) {
        let keep_alive = slot.keep_alive && !resp.close && !self.closes_for_drain();
        self.app.metrics.response(resp.status);
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        let framing = write_head(&resp, slot.minor, keep_alive, &mut out);
        if !keep_alive || framing == OutFraming::Close {
            // Whatever was pipelined behind this response will not be answered.
            self.last_request_seen = true;
            self.slots.clear();
            self.body = None;
            self.hold = false;
            self.upgrade_pending = false;
        }
        let no_body = slot.head_only || bodiless(resp.status);
        match resp.body {
            Body::Bytes(b) if !no_body && b.len() > 16 * 1024 => {
                conn.send(&out);
                conn.send(&b);
            }
            Body::Bytes(b) if !no_body => {
                out.extend_from_slice(&b);
                conn.send(&out);
            }
            Body::Stream { len, source } if !no_body => {
                conn.send(&out);
                self.streaming = Some(Streaming {
                    source,
                    framing,
                    remaining: len,
                });
            }
            _ => {
                conn.send(&out);
            }
        }
        if out.capacity() <= 64 * 1024 {
            self.scratch = out;
        }
    }

    /// Pulls a streamed body while the output is below the high-water mark; `true`
    /// when the body is finished.
    pub(super) fn pull_stream(&mut self, conn: &mut TcpConnection) -> bool {
        let high_water = self.app.limits.stream_high_water;
        let Some(s) = self.streaming.as_mut() else {
            return true;
        };
        // A source that keeps answering empty chunks would spin the loop: a few are
        // skipped, more is a bug in the source and closes the connection.
        let mut empty_in_a_row = 0;
        while conn.output_len() < high_water {
            if conn.is_closed() {
                self.streaming = None;
                return true;
            }
            let chunk = match catch_unwind(AssertUnwindSafe(|| s.source.next_chunk())) {
                Ok(c) => c,
                Err(_) => {
                    log::error!("{conn}: body source panicked; closing");
                    conn.force_close();
                    self.streaming = None;
                    return true;
                }
            };
            let Some(mut chunk) = chunk else {
                if s.framing == OutFraming::Chunked {
                    conn.send(LAST_CHUNK);
                }
                if s.remaining.is_some_and(|r| r > 0) {
                    log::error!("{conn}: streamed body shorter than its Content-Length; closing");
                    conn.force_close();
                }
                if s.framing == OutFraming::Close {
                    conn.shutdown();
                }
                self.streaming = None;
                return true;
            };
            if chunk.is_empty() {
                empty_in_a_row += 1;
                if empty_in_a_row > 64 {
                    log::error!("{conn}: body source keeps returning empty chunks; closing");
                    conn.force_close();
                    self.streaming = None;
                    return true;
                }
                continue;
            }
            empty_in_a_row = 0;
            if let Some(left) = s.remaining.as_mut() {
                if chunk.len() as u64 > *left {
                    log::error!("{conn}: streamed body longer than its Content-Length; cut");
                    chunk.truncate(*left as usize);
                }
                *left -= chunk.len() as u64;
            }
            if s.framing == OutFraming::Chunked {
                let mut framed = Vec::with_capacity(chunk.len() + 12);
                encode_chunk(&chunk, &mut framed);
                conn.send(&framed);
            } else {
                conn.send(&chunk);
            }
        }
        false
    }

    /// Answers 101 and hands the connection over to the WebSocket codec, with the
    /// bytes that followed the upgrade request.
    pub(super) fn upgrade(
        &mut self,
        conn: &mut TcpConnection,
        handler: Arc<dyn ws::WsHandler>,
        accept: &str,
    ) {
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        self.app.metrics.response(101);
        conn.send(head.as_bytes());
        self.upgraded = true;
        self.upgrade_pending = false;
        self.slots.clear();
        if let Some((id, _)) = self.tick.take() {
            conn.cancel_timer(id);
        }
        if std::mem::take(&mut self.hold) {
            conn.start_reading();
        }
        self.app.metrics.http_opened(-1);
        let mut leftover = std::mem::take(&mut self.stash);
        let metrics = self.app.metrics.clone();
        let hub = &self.app.hub;
        ws::take_over(conn, handler, &self.app.limits, metrics, hub, &mut leftover);
        if self.draining() {
            // Upgraded while the server stops: it goes away at once.
            ws::on_drain(conn);
        }
    }
}
