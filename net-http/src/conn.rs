//! The per-connection HTTP/1.1 codec: parses requests from the input buffer, runs
//! handlers, writes responses in request order, and hands an upgraded connection to
//! the WebSocket codec.
//!
//! Ownership: the state lives in the connection's context (`ConnSlot`); every entry
//! point (message, write-complete, half-close, timer, a responder's task) takes it out,
//! works with `&mut TcpConnection` beside it, and puts it back. All on the loop.
//!
//! Bounds: the request head by `max_header_bytes`, the body by `max_body_bytes`, the
//! requests parsed ahead of their responses by `max_pipelined` (then reading pauses and
//! what was read waits in `stash`), a streamed body by the high-water mark.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use net::{Buffer, TcpConnection, TimerId};

use crate::chunked::{encode_chunk, ChunkedDecoder, LAST_CHUNK};
use crate::error::HttpError;
use crate::handler::{Ctx, Reply};
use crate::head::{parse_head, Framing, Head};
use crate::response::{bodiless, write_head, Body, BodySource, OutFraming};
use crate::router::Route;
use crate::service::App;
use crate::ws::{self, WsState};
use crate::{Request, Response};

/// The connection context holding the codec (taken out while it works).
pub(crate) struct ConnSlot(Option<HttpConn>);

/// A request whose head is parsed and whose body is arriving.
struct BodyRead {
    seq: u64,
    request: Request,
    upgrade: bool,
    kind: BodyKind,
}

enum BodyKind {
    Length(u64),
    Chunked(ChunkedDecoder),
}

/// What goes out for one request, once known.
enum Outgoing {
    Response(Response),
    Upgrade(Arc<dyn ws::WsHandler>, String),
}

/// One request awaiting its turn on the wire.
struct Slot {
    head_only: bool,
    minor: u8,
    keep_alive: bool,
    out: Option<Outgoing>,
}

struct Streaming {
    source: Box<dyn BodySource>,
    framing: OutFraming,
    remaining: Option<u64>,
}

pub(crate) struct HttpConn {
    app: Arc<App>,
    /// Input held while parsing is paused, or a partial request left from it.
    stash: Buffer,
    scanned: usize,
    body: Option<BodyRead>,
    slots: VecDeque<Slot>,
    next_seq: u64,
    send_seq: u64,
    streaming: Option<Streaming>,
    continue_for: Option<u64>,
    /// No request after the current ones: close once they are answered.
    last_request_seen: bool,
    /// Parsing is paused (pipeline full or upgrade pending) and reading stopped.
    hold: bool,
    upgrade_pending: bool,
    peer_done: bool,
    head_started: Option<Instant>,
    last_rx: Instant,
    idle_since: Option<Instant>,
    served: u64,
    tick: Option<(TimerId, Instant)>,
    scratch: Vec<u8>,
    ws: Option<WsState>,
}

/// Runs `f` with the codec state and the connection, if this is an HTTP connection.
fn with_state<R>(
    conn: &mut TcpConnection,
    f: impl FnOnce(&mut HttpConn, &mut TcpConnection) -> R,
) -> Option<R> {
    let mut st = conn.context_mut::<ConnSlot>()?.0.take()?;
    let r = f(&mut st, conn);
    if let Some(slot) = conn.context_mut::<ConnSlot>() {
        slot.0 = Some(st);
    }
    Some(r)
}

/// Whether `conn` is a WebSocket of ours that may still be sent to.
pub(crate) fn is_open_websocket(conn: &TcpConnection) -> bool {
    conn.context::<ConnSlot>()
        .and_then(|s| s.0.as_ref())
        .and_then(|st| st.ws.as_ref())
        .is_some_and(|ws| !ws.close_sent)
}

pub(crate) fn on_up(conn: &mut TcpConnection, app: &Arc<App>) {
    let now = Instant::now();
    app.metrics.http_opened(1);
    conn.set_context(ConnSlot(Some(HttpConn {
        app: app.clone(),
        stash: Buffer::new(),
        scanned: 0,
        body: None,
        slots: VecDeque::new(),
        next_seq: 0,
        send_seq: 0,
        streaming: None,
        continue_for: None,
        last_request_seen: false,
        hold: false,
        upgrade_pending: false,
        peer_done: false,
        head_started: None,
        last_rx: now,
        idle_since: Some(now),
        served: 0,
        tick: None,
        scratch: Vec::new(),
        ws: None,
    })));
    with_state(conn, |st, conn| st.ensure_tick(conn));
}

pub(crate) fn on_down(conn: &mut TcpConnection) {
    with_state(conn, |st, conn| {
        if let Some(ws) = st.ws.as_mut() {
            st.app.metrics.ws_opened(-1);
            if !ws.close_notified {
                ws.close_notified = true;
                ws.close_sent = true;
                let handler = ws.handler.clone();
                let metrics = st.app.metrics.clone();
                let mut wc = ws::WsConn {
                    conn,
                    state: ws,
                    metrics: &metrics,
                };
                let _ = catch_unwind(AssertUnwindSafe(|| handler.on_close(&mut wc, None)));
            }
        } else {
            st.app.metrics.http_opened(-1);
        }
    });
    conn.take_context::<ConnSlot>();
}

pub(crate) fn on_message(conn: &mut TcpConnection, input: &mut Buffer) {
    let handled = with_state(conn, |st, conn| {
        st.last_rx = Instant::now();
        if st.hold || !st.stash.is_empty() {
            st.stash.append(input.peek());
            input.retrieve_all();
            if !st.hold {
                st.drain_stash(conn);
            }
        } else if st.ws.is_some() {
            st.ws_input(conn, input);
        } else {
            st.parse(conn, input, false);
        }
        st.pump(conn);
    });
    if handled.is_none() {
        input.retrieve_all();
    }
}

pub(crate) fn on_write_complete(conn: &mut TcpConnection) {
    with_state(conn, |st, conn| {
        if st.streaming.is_some() || st.hold {
            st.pump(conn);
        }
    });
}

pub(crate) fn on_half_close(conn: &mut TcpConnection) {
    with_state(conn, |st, conn| {
        st.peer_done = true;
        if st.ws.is_some() {
            // A WebSocket peer that ends its stream without a close frame.
            conn.shutdown();
            return;
        }
        if let Some(b) = st.body.take() {
            // The request whose body was arriving can never complete.
            if st.slots.len() as u64 == b.seq - st.send_seq + 1 {
                st.slots.pop_back();
            }
            st.last_request_seen = true;
        }
        st.head_started = None;
        st.pump(conn);
    });
}

/// A responder's answer, on the loop.
pub(crate) fn deliver(conn: &mut TcpConnection, seq: u64, response: Response) {
    with_state(conn, |st, conn| {
        st.fill(seq, Outgoing::Response(response));
        st.pump(conn);
    });
}

fn on_tick(conn: &mut TcpConnection) {
    with_state(conn, |st, conn| {
        st.tick = None;
        let now = Instant::now();
        match st.deadline() {
            Some(d) if d <= now => {
                if st.head_started.is_some() || st.body.is_some() {
                    st.fail(conn, HttpError::new(408, "request not received in time"));
                    st.pump(conn);
                } else {
                    log::debug!("{conn}: idle keep-alive connection closed");
                    st.last_request_seen = true;
                    conn.shutdown();
                }
            }
            _ => st.ensure_tick(conn),
        }
    });
}

impl HttpConn {
    /// Parses and dispatches requests from `buf` until it runs out, parsing must
    /// pause, or the connection is done with requests.
    fn parse(&mut self, conn: &mut TcpConnection, buf: &mut Buffer, is_stash: bool) {
        loop {
            if self.last_request_seen && self.body.is_none() || conn.is_closing() {
                buf.retrieve_all();
                return;
            }
            if self.ws.is_some() {
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
    fn drain_stash(&mut self, conn: &mut TcpConnection) {
        let mut stash = std::mem::take(&mut self.stash);
        if self.ws.is_some() {
            self.ws_input(conn, &mut stash);
        } else {
            self.parse(conn, &mut stash, true);
        }
        debug_assert!(self.stash.is_empty());
        self.stash = stash;
    }

    fn start_request(&mut self, conn: &mut TcpConnection, head: Head) {
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
    fn read_body(&mut self, buf: &mut Buffer) -> Result<bool, HttpError> {
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

    fn dispatch(&mut self, conn: &mut TcpConnection, seq: u64, request: Request, upgrade: bool) {
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
    fn fail(&mut self, conn: &mut TcpConnection, e: HttpError) {
        let seq = self.body.take().map(|b| b.seq);
        self.refuse(conn, e, seq);
    }

    /// Answers request `seq` (or a new one when `None`) with `e`'s status and closes
    /// after it; nothing after it is parsed.
    fn refuse(&mut self, conn: &mut TcpConnection, e: HttpError, seq: Option<u64>) {
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

    fn fill(&mut self, seq: u64, out: Outgoing) {
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

    /// Writes what can go out in order, resumes paused parsing, and settles timers.
    fn pump(&mut self, conn: &mut TcpConnection) {
        loop {
            self.write_ready(conn);
            if conn.is_closing() {
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
        if self.slots.is_empty() && self.streaming.is_none() && self.ws.is_none() && !self.hold {
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

    fn write_ready(&mut self, conn: &mut TcpConnection) {
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

    fn write_response(&mut self, conn: &mut TcpConnection, slot: &Slot, resp: Response) {
        let keep_alive = slot.keep_alive && !resp.close;
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
    fn pull_stream(&mut self, conn: &mut TcpConnection) -> bool {
        let high_water = self.app.limits.stream_high_water;
        let Some(s) = self.streaming.as_mut() else {
            return true;
        };
        while conn.output_len() < high_water {
            if conn.is_closing() {
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

    fn upgrade(&mut self, conn: &mut TcpConnection, handler: Arc<dyn ws::WsHandler>, accept: &str) {
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        self.app.metrics.response(101);
        conn.send(head.as_bytes());
        self.upgrade_pending = false;
        self.slots.clear();
        self.idle_since = None;
        self.head_started = None;
        self.app.metrics.http_opened(-1);
        self.app.metrics.ws_opened(1);
        let mut state = WsState::new(handler.clone(), self.app.limits.ws_max_message_bytes);
        let metrics = self.app.metrics.clone();
        let mut wc = ws::WsConn {
            conn,
            state: &mut state,
            metrics: &metrics,
        };
        if catch_unwind(AssertUnwindSafe(|| handler.on_open(&mut wc))).is_err() {
            log::error!("{conn}: WebSocket on_open panicked; closing");
            conn.force_close();
        }
        self.ws = Some(state);
        if let Some((id, _)) = self.tick.take() {
            conn.cancel_timer(id);
        }
    }

    /// Feeds WebSocket bytes to the reader and its events to the handler.
    fn ws_input(&mut self, conn: &mut TcpConnection, buf: &mut Buffer) {
        let metrics = self.app.metrics.clone();
        let Some(st) = self.ws.as_mut() else {
            return;
        };
        let handler = st.handler.clone();
        loop {
            if st.close_sent || conn.is_closing() {
                // After our close frame only the peer's close matters, and nothing
                // of it needs an answer.
                buf.retrieve_all();
                return;
            }
            let event = match st.reader.next(buf) {
                Ok(Some(e)) => e,
                Ok(None) => return,
                Err(fail) => {
                    log::info!("{conn}: WebSocket failed: {} ({})", fail.reason, fail.code);
                    ws::send_close(conn, st, Some(fail.code), fail.reason);
                    notify_close(conn, st, &handler, &metrics, Some(fail.code));
                    return;
                }
            };
            match event {
                ws::Event::Message(m) => {
                    metrics.ws_message_in();
                    let mut wc = ws::WsConn {
                        conn,
                        state: st,
                        metrics: &metrics,
                    };
                    if catch_unwind(AssertUnwindSafe(|| handler.on_message(&mut wc, m))).is_err() {
                        log::error!("{conn}: WebSocket handler panicked; closing with 1011");
                        ws::send_close(conn, st, Some(1011), "internal error");
                        notify_close(conn, st, &handler, &metrics, Some(1011));
                    }
                }
                ws::Event::Ping(payload) => ws::send_pong(conn, &payload),
                ws::Event::Pong => {}
                ws::Event::Close(code, _reason) => {
                    ws::send_close(conn, st, code, "");
                    notify_close(conn, st, &handler, &metrics, code);
                }
            }
        }
    }

    /// The time by which something must have happened, if anything must.
    fn deadline(&self) -> Option<Instant> {
        let limits = &self.app.limits;
        if self.ws.is_some() {
            return None;
        }
        if let Some(t) = self.head_started {
            return Some(t + limits.header_read_timeout);
        }
        if self.body.is_some() {
            return Some(self.last_rx + limits.header_read_timeout);
        }
        let idle = if self.served == 0 {
            limits.header_read_timeout
        } else {
            limits.keep_alive_timeout
        };
        self.idle_since.map(|t| t + idle)
    }

    /// Makes sure a timer fires no later than the current deadline. One timer per
    /// connection: when it fires early (the deadline moved on) it re-arms itself.
    fn ensure_tick(&mut self, conn: &mut TcpConnection) {
        let Some(deadline) = self.deadline() else {
            return;
        };
        if self.tick.is_some_and(|(_, due)| due <= deadline) {
            return;
        }
        if let Some((id, _)) = self.tick.take() {
            conn.cancel_timer(id);
        }
        let delay = deadline.saturating_duration_since(Instant::now());
        let id = conn.run_after(delay, on_tick);
        self.tick = Some((id, deadline));
    }
}

fn notify_close(
    conn: &mut TcpConnection,
    st: &mut WsState,
    handler: &Arc<dyn ws::WsHandler>,
    metrics: &Arc<crate::Metrics>,
    code: Option<u16>,
) {
    if st.close_notified {
        return;
    }
    st.close_notified = true;
    let mut wc = ws::WsConn {
        conn,
        state: st,
        metrics,
    };
    let _ = catch_unwind(AssertUnwindSafe(|| handler.on_close(&mut wc, code)));
}
