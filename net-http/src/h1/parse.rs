//! Parsing requests from the input, dispatching them to handlers, and refusing the
//! ones that break a limit or a framing rule.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use net::{Buffer, TcpConnection};

use super::reading::{Dropped, Hold};
use super::{BodyKind, BodyRead, HttpConn, Outgoing, Slot};
use crate::chunked::ChunkedDecoder;
use crate::error::HttpError;
use crate::handler::{Ctx, Reply};
use crate::head::{parse_head, Framing, Head};
use crate::limits::Limits;
use crate::request::Request;
use crate::response::Response;
use crate::router::Route;
use crate::ws;

impl HttpConn {
    /// Parses and dispatches requests from `buf` until it runs out, parsing must
    /// pause, or the connection is done with requests.
    pub(super) fn parse(&mut self, conn: &mut TcpConnection, buf: &mut Buffer, is_stash: bool) {
        loop {
            if self.reading.is_done() || conn.is_closed() {
                buf.retrieve_all();
                return;
            }
            if let Some(body) = self.reading.body_mut() {
                match read_body(body, buf, &self.app.limits) {
                    Ok(true) => {
                        if let Some(b) = self.reading.body_done() {
                            self.dispatch(conn, b.seq, b.request, b.upgrade);
                        }
                        continue;
                    }
                    Ok(false) => return,
                    Err(e) => {
                        self.fail(conn, e);
                        buf.retrieve_all();
                        return;
                    }
                }
            }
            if buf.is_empty() {
                return;
            }
            // Pipelined requests wait while as many as allowed wait for answers, or
            // while the answers already queued are above the high-water mark: a client
            // that sends requests and reads nothing cannot make us queue more.
            if self.slots.len() >= self.app.limits.max_pipelined {
                self.reading.hold(Hold::PipelineFull);
            } else if conn.output_len() >= self.app.limits.stream_high_water {
                self.reading.hold(Hold::OutputFull);
            }
            if self.reading.is_held() {
                if !is_stash {
                    self.stash.append(buf.peek());
                    buf.retrieve_all();
                }
                conn.stop_reading();
                return;
            }
            match parse_head(
                buf.peek(),
                &mut self.scanned,
                &self.app.limits,
                conn.peer_addr(),
            ) {
                Ok(None) => {
                    if self.reading.head_bytes(Instant::now()) {
                        self.ensure_tick(conn);
                    }
                    return;
                }
                Ok(Some((head, n))) => {
                    buf.retrieve(n);
                    self.start_request(conn, head);
                    // Answers that are ready go out now, so the output check above
                    // sees them before the next request is dispatched. An upgrade
                    // waits for `pump`: it takes the stash, which may be lent out here.
                    if !self.upgrade_queued() {
                        self.write_ready(conn);
                    }
                }
                Err(e) => {
                    self.fail(conn, e);
                    buf.retrieve_all();
                    return;
                }
            }
        }
    }

    /// The peer ended its stream: what is complete is still answered; a request cut
    /// short is dropped, with its answer slot.
    pub(super) fn peer_ended(&mut self) {
        if let Dropped::Body(b) = self.reading.peer_ended() {
            let is_last = b.seq.checked_sub(self.send_seq).map(|i| i + 1);
            if is_last == Some(self.slots.len() as u64) {
                self.slots.pop_back();
            }
        }
    }

    /// Whether a 101 is among the answers waiting to go out.
    fn upgrade_queued(&self) -> bool {
        (self.slots.iter()).any(|s| matches!(s.out, Some(Outgoing::Upgrade(..))))
    }

    /// Parses what the stash holds (after a pause, or a partial request in it).
    pub(super) fn drain_stash(&mut self, conn: &mut TcpConnection) {
        let mut stash = std::mem::take(&mut self.stash);
        self.parse(conn, &mut stash, true);
        debug_assert!(self.stash.is_empty());
        self.stash = stash;
    }

    pub(super) fn start_request(&mut self, conn: &mut TcpConnection, head: Head) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.app.metrics.request(head.request.method());
        self.slots.push_back(Slot {
            head_only: head.request.method() == "HEAD",
            minor: head.request.minor_version(),
            keep_alive: head.keep_alive,
            out: None,
        });
        let close = !head.keep_alive;
        let kind = match head.framing {
            Framing::None => {
                self.reading.head_parsed(close, None);
                self.dispatch(conn, seq, head.request, head.upgrade_websocket);
                return;
            }
            Framing::Length(n) if n > self.app.limits.max_body_bytes as u64 => {
                self.refuse(
                    conn,
                    HttpError::new(413, "request body too large"),
                    Some(seq),
                );
                return;
            }
            Framing::Length(n) => BodyKind::Length(n),
            Framing::Chunked => BodyKind::Chunked(ChunkedDecoder::new()),
        };
        let body = BodyRead {
            seq,
            request: head.request,
            upgrade: head.upgrade_websocket,
            kind,
        };
        self.reading
            .head_parsed(close, Some((body, head.expect_continue)));
    }

    pub(super) fn dispatch(
        &mut self,
        conn: &mut TcpConnection,
        seq: u64,
        request: Request,
        upgrade: bool,
    ) {
        let app = self.app.clone();
        let out = match app.router.find(request.method(), request.path(), upgrade) {
            Route::NotFound => Response::status(404),
            Route::MethodNotAllowed(allow) => Response::status(405).header("Allow", allow),
            Route::WebSocket(handler) => match ws::handshake::check(&request, upgrade) {
                Ok(accept) => {
                    self.reading.hold(Hold::Upgrade);
                    self.fill(seq, Outgoing::Upgrade(handler.clone(), accept));
                    return;
                }
                Err(refusal) => refusal,
            },
            Route::Handler(h) => {
                let mut ctx = Ctx {
                    conn,
                    seq,
                    responder_taken: false,
                    deliver: super::deliver,
                };
                match catch_unwind(AssertUnwindSafe(|| h(request, &mut ctx))) {
                    Ok(Reply::Now(r)) => r,
                    Ok(Reply::Later) if ctx.responder_taken => return,
                    Ok(Reply::Later) => {
                        log::error!("{}: handler replied Later without a responder", ctx.conn);
                        Response::status(500)
                    }
                    Err(_) => {
                        log::error!("{}: handler panicked; answering 500", ctx.conn);
                        Response::status(500)
                    }
                }
            }
        };
        self.fill(seq, Outgoing::Response(out));
    }

    /// Refuses the request whose body is being read, or else the next one: the
    /// error status, then close.
    pub(super) fn fail(&mut self, conn: &mut TcpConnection, e: HttpError) {
        let seq = self.reading.finish().map(|b| b.seq);
        self.refuse(conn, e, seq);
    }

    /// Answers request `seq` (or a new one when `None`) with `e`'s status and closes
    /// after it; nothing after it is parsed.
    pub(super) fn refuse(&mut self, conn: &mut TcpConnection, e: HttpError, seq: Option<u64>) {
        log::warn!("{conn}: refused a request: {e}; closing after the answer");
        self.app.metrics.refused();
        let resp = Response::status(e.status).close();
        match seq {
            Some(seq) => self.fill(seq, Outgoing::Response(resp)),
            None => {
                self.slots.push_back(Slot {
                    head_only: false,
                    minor: 1,
                    keep_alive: false,
                    out: Some(Outgoing::Response(resp)),
                });
                self.next_seq += 1;
            }
        }
        self.reading.finish();
    }

    pub(super) fn fill(&mut self, seq: u64, out: Outgoing) {
        let Some(slot) = seq
            .checked_sub(self.send_seq)
            .and_then(|i| self.slots.get_mut(i as usize))
        else {
            log::debug!("answer to request #{seq} arrived after its connection moved on");
            return;
        };
        if slot.out.is_none() {
            slot.out = Some(out);
        }
    }
}

/// Moves body bytes from `buf` into the request; `Ok(true)` when it is complete.
fn read_body(b: &mut BodyRead, buf: &mut Buffer, limits: &Limits) -> Result<bool, HttpError> {
    match &mut b.kind {
        BodyKind::Length(left) => {
            let n = buf
                .readable_bytes()
                .min(usize::try_from(*left).unwrap_or(usize::MAX));
            if b.request.body.capacity() == 0 {
                b.request
                    .body
                    .reserve(usize::try_from(*left).unwrap_or(0).min(64 * 1024));
            }
            b.request.body.extend_from_slice(&buf.peek()[..n]);
            buf.retrieve(n);
            *left -= n as u64;
            Ok(*left == 0)
        }
        BodyKind::Chunked(d) => {
            let n = d.decode(
                buf.peek(),
                &mut b.request.body,
                limits.max_body_bytes,
                limits.max_header_bytes,
            )?;
            buf.retrieve(n);
            Ok(d.is_done())
        }
    }
}
