//! HTTP/2 (RFC 9113) on the connection's loop: the `h2` crate does framing, HPACK,
//! stream states, SETTINGS, flow control, PING and GOAWAY; this codec feeds it the
//! connection's bytes (the [`wire`] buffers), polls it with a no-op waker after every
//! event that can move it (bytes in, output drained, a responder's answer, a timer),
//! and runs the same `Router` handlers as HTTP/1.1 (docs/http.md, "HTTP/2").
//!
//! Ownership: as HTTP/1.1, the state lives in the connection's context (`H2Slot`) and
//! every entry point takes it out, works beside `&mut TcpConnection`, and puts it back.
//!
//! Bounds: `h2` writes only into the room under the connection's high-water mark, so a
//! peer that does not read stalls it; received bytes it has not parsed are held up to
//! [`MAX_UNPARSED`], then reading stops; request bodies by `max_body_bytes` per stream
//! and `h2_max_concurrent_streams` streams; a response body by the peer's windows and
//! one chunk of a streamed body.

use std::collections::HashMap;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use h2::server::{Connection, Handshake, SendResponse};
use net::{Buffer, TcpConnection, TimerId};

use crate::app::App;
use crate::error::HttpError;
use crate::handler::{Ctx, Reply};
use crate::request::Request;
use crate::response::Response;
use crate::router::Route;

mod convert;
mod meter;
mod stream;
mod wire;

use convert::Refused;
use meter::{FrameMeter, Verdict};
use stream::{receive, send_body, start_response, Received, Sent, StreamPhase};
use wire::{noop_waker, Wire};

pub(crate) use meter::PREFACE;

/// Received bytes `h2` has not parsed (it stops parsing while it cannot write its
/// answers) above which reading stops until it catches up.
const MAX_UNPARSED: usize = 256 * 1024;

/// Poll rounds per event: each round lets `h2` flush what the streams queued; the cap
/// keeps one connection from holding its loop (the output's drain polls again).
const MAX_ROUNDS: usize = 64;

/// The connection context holding the HTTP/2 codec (taken out while it works). Boxed:
/// every event takes the codec out and puts it back, which moves a pointer instead of
/// the `h2` connection's state (hundreds of bytes, copied twice per event otherwise).
pub(crate) struct H2Slot(Option<Box<H2Conn>>);

/// The connection's HTTP/2 life.
///
/// ```text
///  Handshaking ─preface + SETTINGS─► Open ─idle timeout / server drain─► Draining
///       │                              │   (GOAWAY, in-flight streams finish)  │
///       └─error/EOF─► Closed ◄─────────┴─ error (GOAWAY with its code), EOF ◄──┘
/// ```
enum ConnPhase {
    /// Our SETTINGS are out; waiting for the client's preface.
    Handshaking(Handshake<Wire, Bytes>),
    /// Serving streams.
    Open(Connection<Wire, Bytes>),
    /// GOAWAY sent: no new streams; the open ones finish, then the connection closes.
    /// Bounded: `since` + `header_read_timeout`, then the socket shuts.
    Draining {
        h2: Connection<Wire, Bytes>,
        since: Instant,
    },
    /// `h2` is done; the socket shuts once the output is flushed.
    Closed,
}

/// One stream's codec state.
struct H2Stream {
    head_only: bool,
    phase: StreamPhase,
}

pub(crate) struct H2Conn {
    app: Arc<App>,
    wire: Wire,
    meter: FrameMeter,
    phase: ConnPhase,
    streams: HashMap<u32, H2Stream>,
    /// The stream ids of one `progress_streams` pass (kept for its allocation).
    ids: Vec<u32>,
    /// Reading stopped because `h2` fell behind ([`MAX_UNPARSED`]).
    input_held: bool,
    idle_since: Option<Instant>,
    served: u64,
    tick: Option<(TimerId, Instant)>,
}

/// Runs `f` with the HTTP/2 state and the connection, if this is an HTTP/2 connection.
fn with_state<R>(
    conn: &mut TcpConnection,
    f: impl FnOnce(&mut H2Conn, &mut TcpConnection) -> R,
) -> Option<R> {
    let mut st = conn.extensions_mut().get_mut::<H2Slot>()?.0.take()?;
    let r = f(&mut st, conn);
    if let Some(slot) = conn.extensions_mut().get_mut::<H2Slot>() {
        slot.0 = Some(st);
    }
    Some(r)
}

fn builder(app: &App) -> h2::server::Builder {
    let l = &app.limits;
    let mut b = h2::server::Builder::new();
    b.max_concurrent_streams(l.h2_max_concurrent_streams)
        .initial_window_size(l.h2_initial_window_size)
        .initial_connection_window_size(l.h2_initial_window_size.saturating_mul(4))
        .max_frame_size(l.h2_max_frame_size)
        .max_header_list_size(u32::try_from(l.max_header_bytes).unwrap_or(u32::MAX))
        .max_pending_accept_reset_streams(l.h2_max_pending_reset_streams)
        .max_send_buffer_size(l.stream_high_water);
    b
}

/// Starts HTTP/2 on a connection that is up (TLS with ALPN `h2`, or cleartext that
/// opened with the preface).
pub(crate) fn on_up(conn: &mut TcpConnection, app: &Arc<App>) {
    app.metrics.h2_opened(1);
    let wire = Wire::default();
    let handshake = builder(app).handshake(wire.clone());
    conn.extensions_mut().insert(H2Slot(Some(Box::new(H2Conn {
        app: app.clone(),
        wire,
        meter: FrameMeter::new(app.limits.h2_max_control_frames),
        phase: ConnPhase::Handshaking(handshake),
        streams: HashMap::new(),
        ids: Vec::new(),
        input_held: false,
        idle_since: Some(Instant::now()),
        served: 0,
        tick: None,
    }))));
    with_state(conn, |st, conn| st.drive(conn));
}

/// Ends the HTTP/2 state of a closed connection; whether it was HTTP/2.
pub(crate) fn on_down(conn: &mut TcpConnection) -> bool {
    match conn.extensions_mut().remove::<H2Slot>() {
        Some(H2Slot(st)) => {
            if let Some(st) = st {
                st.app.metrics.h2_opened(-1);
            }
            true
        }
        None => false,
    }
}

/// Feeds received bytes to `h2`; whether the connection is HTTP/2.
pub(crate) fn on_message(conn: &mut TcpConnection, input: &mut Buffer) -> bool {
    if conn.extensions().get::<H2Slot>().is_none() {
        return false;
    }
    with_state(conn, |st, conn| {
        let verdict = st.meter.feed(input.peek());
        // What came before the offending frame is parsed first (bounded as any input):
        // the handshake it may complete lets the GOAWAY go out.
        let good = verdict.map_or(input.readable_bytes(), |(at, _)| at);
        st.wire
            .0
            .borrow_mut()
            .input
            .extend_from_slice(&input.peek()[..good]);
        st.drive(conn);
        match verdict {
            Some((_, Verdict::Flood)) => {
                log::warn!("{conn}: HTTP/2 control-frame flood; GOAWAY(ENHANCE_YOUR_CALM)");
                st.abort(conn, h2::Reason::ENHANCE_YOUR_CALM);
            }
            Some((_, Verdict::Error(reason))) => {
                log::warn!("{conn}: HTTP/2 connection error {reason:?}; GOAWAY");
                st.abort(conn, reason);
            }
            None => {}
        }
    });
    input.retrieve_all();
    true
}

/// The output drained: `h2` may write again; whether the connection is HTTP/2. Polled
/// only if its last poll was stopped by the output's room (or reading is held until it
/// parses): otherwise nothing waits for this event, and a poll per response (the
/// output drains after nearly every one) would cost as much as the request's own.
pub(crate) fn on_write_complete(conn: &mut TcpConnection) -> bool {
    with_state(conn, |st, conn| {
        if st.wire.0.borrow().starved || st.input_held {
            st.drive(conn);
        }
    })
    .is_some()
}

/// The peer ended its stream; whether the connection is HTTP/2.
pub(crate) fn on_half_close(conn: &mut TcpConnection) -> bool {
    with_state(conn, |st, conn| {
        st.wire.0.borrow_mut().eof = true;
        st.drive(conn);
    })
    .is_some()
}

/// The server stops gracefully: GOAWAY with the last stream id; the streams in flight
/// finish, then the connection closes (bounded: see [`ConnPhase::Draining`]). Whether
/// the connection is HTTP/2.
pub(crate) fn on_drain(conn: &mut TcpConnection) -> bool {
    with_state(conn, |st, conn| {
        st.go_away();
        st.drive(conn);
    })
    .is_some()
}

/// A responder's answer to stream `seq`, on the loop.
fn deliver(conn: &mut TcpConnection, seq: u64, response: Response) {
    with_state(conn, |st, conn| {
        let id = u32::try_from(seq).unwrap_or(0);
        let Some(s) = st.streams.get_mut(&id) else {
            log::debug!("answer to HTTP/2 stream {id} arrived after it ended");
            return;
        };
        if let StreamPhase::Awaiting { .. } = s.phase {
            let StreamPhase::Awaiting { respond } =
                std::mem::replace(&mut s.phase, StreamPhase::Finished)
            else {
                return;
            };
            st.app.metrics.response(response.status);
            st.served += 1;
            s.phase = start_response(respond, response, s.head_only);
        }
        st.drive(conn);
    });
}

fn on_tick(conn: &mut TcpConnection) {
    with_state(conn, |st, conn| {
        st.tick = None;
        let now = Instant::now();
        match st.deadline() {
            Some(d) if d <= now => st.timed_out(conn),
            _ => {}
        }
        st.drive(conn);
    });
}

impl H2Conn {
    /// Polls `h2` and the streams until neither moves, then hands the output to the
    /// connection and settles reading and the timer.
    ///
    /// A round ends with a poll of the connection that returned `Pending`, which has
    /// flushed everything queued before it (the answers given while accepting
    /// included), so another round is needed only if the streams queued more after it.
    fn drive(&mut self, conn: &mut TcpConnection) {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        for _ in 0..MAX_ROUNDS {
            if conn.is_closed() {
                return;
            }
            self.wire.0.borrow_mut().starved = false;
            self.set_room(conn);
            self.poll_connection(conn, &mut cx);
            self.flush(conn);
            if !self.progress_streams(conn, &mut cx) {
                break;
            }
        }
        self.flush(conn);
        if matches!(self.phase, ConnPhase::Closed) {
            self.streams.clear();
            conn.shutdown();
            return;
        }
        let unparsed = self.wire.0.borrow().input.len();
        if unparsed > MAX_UNPARSED && !self.input_held {
            self.input_held = true;
            conn.stop_reading();
        } else if unparsed <= MAX_UNPARSED / 2 && self.input_held {
            self.input_held = false;
            conn.start_reading();
        }
        if self.streams.is_empty() && self.idle_since.is_none() {
            self.idle_since = Some(Instant::now());
        }
        self.ensure_tick(conn);
    }

    fn set_room(&self, conn: &TcpConnection) {
        let high_water = self.app.limits.stream_high_water;
        self.wire.0.borrow_mut().room = high_water.saturating_sub(conn.output_len());
    }

    fn flush(&self, conn: &mut TcpConnection) {
        let out = std::mem::take(&mut self.wire.0.borrow_mut().output);
        if !out.is_empty() {
            conn.send(&out);
            let mut w = self.wire.0.borrow_mut();
            if w.output.is_empty() {
                // Keep the allocation for the next poll.
                w.output = out;
                w.output.clear();
            }
        }
        self.set_room(conn);
    }

    /// Polls the handshake or the connection until it is `Pending` (or ends), accepting
    /// each new stream as it comes: a request that is answered at once has its answer
    /// queued before the next poll, which flushes it.
    fn poll_connection(&mut self, conn: &mut TcpConnection, cx: &mut Context<'_>) {
        let outcome = loop {
            let polled = match &mut self.phase {
                ConnPhase::Handshaking(hs) => match Pin::new(hs).poll(cx) {
                    Poll::Ready(Ok(h2)) => {
                        self.phase = ConnPhase::Open(h2);
                        continue;
                    }
                    Poll::Ready(Err(e)) => break Some(Err(e)),
                    Poll::Pending => break None,
                },
                ConnPhase::Open(h2) | ConnPhase::Draining { h2, .. } => h2.poll_accept(cx),
                ConnPhase::Closed => break None,
            };
            match polled {
                Poll::Ready(Some(Ok((req, respond)))) => {
                    self.accept(conn, req, respond, cx);
                    if conn.is_closed() {
                        // A handler closed the connection: nothing more is served.
                        break None;
                    }
                }
                Poll::Ready(Some(Err(e))) => break Some(Err(e)),
                Poll::Ready(None) => break Some(Ok(())),
                Poll::Pending => break None,
            }
        };
        match outcome {
            Some(Ok(())) => {
                log::debug!("{conn}: HTTP/2 connection finished");
                self.phase = ConnPhase::Closed;
            }
            Some(Err(e)) => {
                self.connection_error(conn, &e);
                self.phase = ConnPhase::Closed;
            }
            None => {}
        }
    }

    fn connection_error(&self, conn: &TcpConnection, e: &h2::Error) {
        let metrics = &self.app.metrics;
        if e.is_go_away() && !e.is_remote() {
            let code = e.reason().map_or(2, u32::from);
            metrics.h2_goaway_sent(code);
            log::warn!("{conn}: HTTP/2 connection closed by us with GOAWAY: {e}");
        } else if e.is_io() {
            log::debug!("{conn}: HTTP/2 connection I/O ended: {e}");
        } else {
            log::debug!("{conn}: HTTP/2 connection ended: {e}");
        }
    }

    fn accept(
        &mut self,
        conn: &mut TcpConnection,
        req: http::Request<h2::RecvStream>,
        respond: SendResponse<Bytes>,
        cx: &mut Context<'_>,
    ) {
        let id = respond.stream_id().as_u32();
        let app = self.app.clone();
        app.metrics.h2_stream();
        self.idle_since = None;
        let (parts, body) = req.into_parts();
        let head_only = parts.method == http::Method::HEAD;
        let mut request = match convert::request_from(&parts, &app.limits, conn.peer_addr()) {
            Ok(r) => r,
            Err(Refused::Status(e)) => return self.refuse(conn, id, respond, e, cx),
            Err(Refused::Malformed(why)) => {
                log::warn!("{conn}: malformed HTTP/2 request on stream {id}: {why}");
                app.metrics.refused();
                app.metrics.h2_reset(u32::from(h2::Reason::PROTOCOL_ERROR));
                let mut respond = respond;
                respond.send_reset(h2::Reason::PROTOCOL_ERROR);
                return;
            }
        };
        app.metrics.request(request.method());
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > app.limits.max_body_bytes as u64) {
            return self.refuse(
                conn,
                id,
                respond,
                HttpError::new(413, "request body too large"),
                cx,
            );
        }
        if body.is_end_stream() {
            return self.dispatch(conn, id, request, respond, head_only, cx);
        }
        if let Some(n) = declared {
            request
                .body
                .reserve(usize::try_from(n).unwrap_or(0).min(64 * 1024));
        }
        self.streams.insert(
            id,
            H2Stream {
                head_only,
                phase: StreamPhase::Receiving {
                    request,
                    body,
                    respond,
                },
            },
        );
    }

    /// Answers stream `id` with `e`'s status; the rest of its body is not read.
    fn refuse(
        &mut self,
        conn: &TcpConnection,
        id: u32,
        respond: SendResponse<Bytes>,
        e: HttpError,
        cx: &mut Context<'_>,
    ) {
        log::warn!("{conn}: refused HTTP/2 stream {id}: {e}");
        self.app.metrics.refused();
        self.answer(id, respond, Response::status(e.status), false, cx);
    }

    /// Sends the head and as much of the body as the windows take now (all of a small
    /// body, usually); a stream with more to send waits in the table.
    fn answer(
        &mut self,
        id: u32,
        respond: SendResponse<Bytes>,
        resp: Response,
        head_only: bool,
        cx: &mut Context<'_>,
    ) {
        self.served += 1;
        self.app.metrics.response(resp.status);
        let mut phase = start_response(respond, resp, head_only);
        if let StreamPhase::Sending {
            send,
            body,
            trailers,
        } = &mut phase
        {
            match send_body(send, body, trailers, cx) {
                Ok(Sent::Done) => return,
                Ok(Sent::Some | Sent::Nothing) => {}
                Err(e) => {
                    log::debug!("HTTP/2 stream {id} ended: {e}");
                    self.app.metrics.h2_reset(e.reason().map_or(2, u32::from));
                    return;
                }
            }
        }
        if !matches!(phase, StreamPhase::Finished) {
            self.streams.insert(id, H2Stream { head_only, phase });
        }
    }

    fn dispatch(
        &mut self,
        conn: &mut TcpConnection,
        id: u32,
        request: Request,
        respond: SendResponse<Bytes>,
        head_only: bool,
        cx: &mut Context<'_>,
    ) {
        let app = self.app.clone();
        let out = match app.router.find(request.method(), request.path(), false) {
            Route::NotFound => Response::status(404),
            Route::MethodNotAllowed(allow) => Response::status(405).header("Allow", allow),
            // WebSocket stays on HTTP/1.1 (RFC 8441 is not offered).
            Route::WebSocket(_) => Response::status(426),
            Route::Handler(h) => {
                let mut ctx = Ctx {
                    conn,
                    seq: u64::from(id),
                    responder_taken: false,
                    deliver,
                };
                match catch_unwind(AssertUnwindSafe(|| h(request, &mut ctx))) {
                    Ok(Reply::Now(r)) => r,
                    Ok(Reply::Later) if ctx.responder_taken => {
                        self.streams.insert(
                            id,
                            H2Stream {
                                head_only,
                                phase: StreamPhase::Awaiting { respond },
                            },
                        );
                        return;
                    }
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
        self.answer(id, respond, out, head_only, cx);
    }

    /// Moves every stream as far as it goes; whether any did.
    fn progress_streams(&mut self, conn: &mut TcpConnection, cx: &mut Context<'_>) -> bool {
        let mut moved = false;
        let mut ids = std::mem::take(&mut self.ids);
        ids.clear();
        ids.extend(self.streams.keys().copied());
        let max_body = self.app.limits.max_body_bytes;
        for &id in &ids {
            let Some(mut s) = self.streams.remove(&id) else {
                continue;
            };
            match &mut s.phase {
                StreamPhase::Receiving { request, body, .. } => {
                    match receive(request, body, max_body, cx) {
                        // What was read released window: the update must go out.
                        Received::More(read) => moved |= read,
                        Received::Gone(code) => {
                            self.app.metrics.h2_reset(code);
                            moved = true;
                            continue;
                        }
                        outcome => {
                            moved = true;
                            let StreamPhase::Receiving {
                                request, respond, ..
                            } = std::mem::replace(&mut s.phase, StreamPhase::Finished)
                            else {
                                continue;
                            };
                            if let Received::TooLarge = outcome {
                                self.refuse(
                                    conn,
                                    id,
                                    respond,
                                    HttpError::new(413, "request body too large"),
                                    cx,
                                );
                            } else {
                                self.dispatch(conn, id, request, respond, s.head_only, cx);
                            }
                            continue;
                        }
                    }
                }
                StreamPhase::Awaiting { respond } => {
                    if let Poll::Ready(r) = respond.poll_reset(cx) {
                        // The peer gave up on it; the responder's answer is dropped.
                        let code = r.map_or(2, u32::from);
                        self.app.metrics.h2_reset(code);
                        moved = true;
                        continue;
                    }
                }
                StreamPhase::Sending {
                    send,
                    body,
                    trailers,
                } => match send_body(send, body, trailers, cx) {
                    Ok(Sent::Done) => {
                        moved = true;
                        continue;
                    }
                    // Queued data goes out with the next poll of the connection.
                    Ok(Sent::Some) => moved = true,
                    Ok(Sent::Nothing) => {}
                    Err(e) => {
                        log::debug!("{conn}: HTTP/2 stream {id} ended: {e}");
                        self.app.metrics.h2_reset(e.reason().map_or(2, u32::from));
                        moved = true;
                        continue;
                    }
                },
                StreamPhase::Finished => continue,
            }
            self.streams.insert(id, s);
        }
        self.ids = ids;
        moved
    }

    /// Starts the graceful close: GOAWAY with the last stream id; in-flight streams go on.
    fn go_away(&mut self) {
        let phase = std::mem::replace(&mut self.phase, ConnPhase::Closed);
        self.phase = match phase {
            ConnPhase::Open(mut h2) => {
                h2.graceful_shutdown();
                self.app.metrics.h2_goaway_sent(0);
                ConnPhase::Draining {
                    h2,
                    since: Instant::now(),
                }
            }
            ConnPhase::Handshaking(_) => ConnPhase::Closed,
            other => other,
        };
    }

    /// A connection error the [`meter`] found: GOAWAY with `reason` and close; if not
    /// even the GOAWAY fits (a peer that does not read), the connection is dropped.
    fn abort(&mut self, conn: &mut TcpConnection, reason: h2::Reason) {
        self.app.metrics.h2_goaway_sent(u32::from(reason));
        match &mut self.phase {
            ConnPhase::Open(h2) | ConnPhase::Draining { h2, .. } => {
                h2.abrupt_shutdown(reason);
            }
            _ => self.phase = ConnPhase::Closed,
        }
        self.drive(conn);
        if !matches!(self.phase, ConnPhase::Closed) && !conn.is_closed() {
            conn.force_close();
        }
    }

    fn timed_out(&mut self, conn: &TcpConnection) {
        match self.phase {
            ConnPhase::Draining { .. } => {
                log::warn!("{conn}: HTTP/2 streams still open at the drain deadline; closing");
                self.phase = ConnPhase::Closed;
            }
            _ => {
                log::debug!("{conn}: idle HTTP/2 connection: GOAWAY");
                self.go_away();
            }
        }
    }

    /// The time by which something must have happened, if anything must.
    fn deadline(&self) -> Option<Instant> {
        let limits = &self.app.limits;
        if let ConnPhase::Draining { since, .. } = self.phase {
            return Some(since + limits.header_read_timeout);
        }
        if !self.streams.is_empty() {
            return None;
        }
        let idle = if self.served == 0 {
            limits.header_read_timeout
        } else {
            limits.keep_alive_timeout
        };
        self.idle_since.map(|t| t + idle)
    }

    /// One timer per connection, re-armed when it fires early (as HTTP/1.1's).
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
