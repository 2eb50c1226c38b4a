//! Parsing requests from the input, dispatching them to handlers, and refusing the
//! ones that break a limit or a framing rule.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use net::{Buffer, TcpConnection};

use super::{BodyKind, BodyRead, HttpConn, Outgoing, Slot};
use crate::chunked::ChunkedDecoder;
use crate::error::HttpError;
use crate::handler::{Ctx, Reply};
use crate::head::{parse_head, Framing, Head};
use crate::request::Request;
use crate::response::Response;
use crate::router::Route;
use crate::ws;

impl HttpConn {
    /// Parses and dispatches requests from `buf` until it runs out, parsing must
    /// pause, or the connection is done with requests.
    pub(super) fn parse(&mut self, conn: &mut TcpConnection, buf: &mut Buffer, is_stash: bool) {
        loop {
            if self.last_request_seen && self.body.is_none() || conn.is_closed() {
                buf.retrieve_all();
                return;
            }
            if self.upgraded {
                return;
            }
            if self.body.is_some() {
                match self.read_body(buf) {
                    Ok(true) => {
                        if let Some(b) = self.body.take() {
                            if self.continue_for == Some(b.seq) {
                                self.continue_for = None;
                            }
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
                self.head_started = None;
                return;
            }
            if self.upgrade_pending || self.slots.len() >= self.app.limits.max_pipelined {
                if !is_stash {
                    self.stash.append(buf.peek());
                    buf.retrieve_all();
                }
                conn.stop_reading();
                self.hold = true;
                return;
            }
            match parse_head(
                buf.peek(),
                &mut self.scanned,
                &self.app.limits,
                conn.peer_addr(),
            ) {
                Ok(None) => {
                    if self.head_started.is_none() {
                        self.head_started = Some(Instant::now());
                        self.idle_since = None;
                        self.ensure_tick(conn);
                    }
                    return;
                }
                Ok(Some((head, n))) => {
                    buf.retrieve(n);
                    self.head_started = None;
                    self.start_request(conn, head);
                }
                Err(e) => {
                    self.fail(conn, e);
                    buf.retrieve_all();
                    return;
                }
            }
        }
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
        self.idle_since = None;
        self.app.metrics.request(head.request.method());
        self.slots.push_back(Slot {
            head_only: head.request.method() == "HEAD",
            minor: head.request.minor_version(),
            keep_alive: head.keep_alive,
            out: None,
        });
        if !head.keep_alive {
            self.last_request_seen = true;
        }
        let kind = match head.framing {
            Framing::None => {
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
        if head.expect_continue {
            self.continue_for = Some(seq);
        }
        self.body = Some(BodyRead {
            seq,
            request: head.request,
            upgrade: head.upgrade_websocket,
            kind,
        });
    }

    /// Moves body bytes from `buf` into the request; `Ok(true)` when it is complete.
    pub(super) fn read_body(&mut self, buf: &mut Buffer) -> Result<bool, HttpError> {
        let limits = &self.app.limits;
        let Some(b) = self.body.as_mut() else {
            return Ok(true);
        };
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
                    self.upgrade_pending = true;
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
        let seq = self.body.take().map(|b| b.seq);
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
        self.head_started = None;
        self.continue_for = None;
        self.last_request_seen = true;
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
