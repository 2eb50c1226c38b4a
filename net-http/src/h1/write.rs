//! Writing answers in request order: responses, streamed bodies with backpressure,
//! the interim 100, and the switch to WebSocket.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use net::TcpConnection;

use super::reading::Hold;
use super::writing::{Streaming, Writing};
use super::{HttpConn, Outgoing, Slot};
use crate::chunked::{encode_chunk, LAST_CHUNK};
use crate::response::Response;
use crate::response::{bodiless, write_head, Body, OutFraming};
use crate::ws;

impl HttpConn {
    /// Writes what can go out in order, resumes paused parsing, and settles timers.
    pub(super) fn pump(&mut self, conn: &mut TcpConnection) {
        loop {
            self.write_ready(conn);
            if conn.is_closed() || self.writing.is_upgraded() {
                return;
            }
            let (queued, max) = (self.slots.len(), self.app.limits.max_pipelined);
            let output_low = conn.output_len() < self.app.limits.stream_high_water;
            let released = self.reading.release(|why| match why {
                Hold::PipelineFull => queued < max && output_low,
                Hold::OutputFull => output_low && queued < max,
                Hold::Upgrade => false,
            });
            if let Some(peer_ended) = released {
                conn.start_reading();
                self.drain_stash(conn);
                if peer_ended {
                    self.peer_ended();
                }
                continue;
            }
            break;
        }
        let answered = self.slots.is_empty() && !self.writing.is_streaming();
        if answered && !self.reading.is_held() {
            if self.reading.is_done() {
                conn.shutdown();
                return;
            }
            self.reading.went_idle(Instant::now());
        }
        self.ensure_tick(conn);
    }

    pub(super) fn write_ready(&mut self, conn: &mut TcpConnection) {
        loop {
            if self.writing.is_streaming() && !self.pull_stream(conn) {
                return;
            }
            let Some(front) = self.slots.front_mut() else {
                return;
            };
            if front.out.is_none() {
                // The request being read is the next to answer: the client waits for
                // a 100 Continue before it sends the body.
                let reading_front = self.reading.body().map(|b| b.seq) == Some(self.send_seq);
                if reading_front && self.reading.take_continue() {
                    conn.send(b"HTTP/1.1 100 Continue\r\n\r\n");
                    self.app.metrics.response(100);
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
            self.reading.finish();
            self.slots.clear();
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
                self.writing = Writing::Streaming(Streaming {
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
    /// when the body is finished (or the connection closed under it).
    pub(super) fn pull_stream(&mut self, conn: &mut TcpConnection) -> bool {
        let high_water = self.app.limits.stream_high_water;
        let Writing::Streaming(s) = &mut self.writing else {
            return true;
        };
        let finished = pull(s, conn, high_water);
        if finished {
            self.writing = Writing::InOrder;
        }
        finished
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
        self.writing = Writing::Upgraded;
        let was_held = self.reading.is_held();
        self.reading.finish();
        self.slots.clear();
        if let Some((id, _)) = self.tick.take() {
            conn.cancel_timer(id);
        }
        if was_held {
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

/// Pulls chunks of `s` into the connection while its output is below `high_water`;
/// `true` when the body is finished (or the connection closed under it).
fn pull(s: &mut Streaming, conn: &mut TcpConnection, high_water: usize) -> bool {
    // A source that keeps answering empty chunks would spin the loop: a few are
    // skipped, more is a bug in the source and closes the connection.
    let mut empty_in_a_row = 0;
    while conn.output_len() < high_water {
        if conn.is_closed() {
            return true;
        }
        let chunk = match catch_unwind(AssertUnwindSafe(|| s.source.next_chunk())) {
            Ok(c) => c,
            Err(_) => {
                log::error!("{conn}: body source panicked; closing");
                conn.force_close();
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
            return true;
        };
        if chunk.is_empty() {
            empty_in_a_row += 1;
            if empty_in_a_row > 64 {
                log::error!("{conn}: body source keeps returning empty chunks; closing");
                conn.force_close();
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
