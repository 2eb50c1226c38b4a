//! The per-connection HTTP/1.1 codec: parses requests from the input buffer, runs
//! handlers, writes responses in request order, and hands an upgraded connection over
//! to the WebSocket codec (`ws::take_over`), after which its HTTP state is dropped.
//!
//! Ownership: the state lives in the connection's extensions (`ConnSlot`); every entry
//! point (message, write-complete, half-close, timer, a responder's task) takes it out,
//! works with `&mut TcpConnection` beside it, and puts it back. All on the loop.
//!
//! Bounds: the request head by `max_header_bytes`, the body by `max_body_bytes`, the
//! requests parsed ahead of their responses by `max_pipelined` (then reading pauses and
//! what was read waits in `stash`), a streamed body by the high-water mark.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use net::{Buffer, TcpConnection, TimerId};

use crate::app::App;
use crate::chunked::ChunkedDecoder;
use crate::request::Request;
use crate::response::Response;
use crate::ws;
use reading::Reading;
use writing::Writing;

pub(crate) mod drain;
mod parse;
mod reading;
mod timer;
mod write;
mod writing;

/// Whether the server is stopping, as this connection knows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Drain {
    /// Serving as usual: keep-alive as the client asks.
    #[default]
    Serving,
    /// The server is stopping: the response after which nothing is queued closes
    /// the connection, and an upgrade goes away at once.
    Draining,
}

/// The connection extension holding the codec (taken out while it works). Boxed, so
/// that taking it out and putting it back, twice per request, moves a pointer rather
/// than the whole state.
pub(crate) struct ConnSlot(Option<Box<HttpConn>>);

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

pub(crate) struct HttpConn {
    app: Arc<App>,
    /// Input held while parsing is paused, or a partial request left from it.
    stash: Buffer,
    scanned: usize,
    /// What is being read: the machine that decides pauses, deadlines and the end.
    reading: Reading<BodyRead>,
    /// What is being written: answers in order, a streamed body, or nothing (upgraded).
    writing: Writing,
    /// Requests parsed and not yet answered on the wire, in order.
    slots: VecDeque<Slot>,
    next_seq: u64,
    send_seq: u64,
    last_rx: Instant,
    served: u64,
    tick: Option<(TimerId, Instant)>,
    scratch: Vec<u8>,
    drain: Drain,
}

/// Runs `f` with the codec state and the connection, if this is an HTTP connection.
fn with_state<R>(
    conn: &mut TcpConnection,
    f: impl FnOnce(&mut HttpConn, &mut TcpConnection) -> R,
) -> Option<R> {
    let mut st = conn.extensions_mut().get_mut::<ConnSlot>()?.0.take()?;
    let r = f(&mut st, conn);
    if st.writing.is_upgraded() {
        conn.extensions_mut().remove::<ConnSlot>();
    } else if let Some(slot) = conn.extensions_mut().get_mut::<ConnSlot>() {
        slot.0 = Some(st);
    }
    Some(r)
}

pub(crate) fn on_up(conn: &mut TcpConnection, app: &Arc<App>) {
    let now = Instant::now();
    app.metrics.http_opened(1);
    conn.extensions_mut()
        .insert(ConnSlot(Some(Box::new(HttpConn {
            app: app.clone(),
            stash: Buffer::new(),
            scanned: 0,
            reading: Reading::new(now),
            writing: Writing::InOrder,
            slots: VecDeque::new(),
            next_seq: 0,
            send_seq: 0,
            last_rx: now,
            served: 0,
            tick: None,
            scratch: Vec::new(),
            drain: Drain::Serving,
        }))));
    with_state(conn, |st, conn| st.ensure_tick(conn));
}

pub(crate) fn on_down(conn: &mut TcpConnection) {
    with_state(conn, |st, _| st.app.metrics.http_opened(-1));
    conn.extensions_mut().remove::<ConnSlot>();
}

pub(crate) fn on_message(conn: &mut TcpConnection, input: &mut Buffer) {
    let handled = with_state(conn, |st, conn| {
        st.last_rx = Instant::now();
        if st.reading.is_held() || !st.stash.is_empty() {
            st.stash.append(input.peek());
            input.retrieve_all();
            if !st.reading.is_held() {
                st.drain_stash(conn);
            }
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
        if st.writing.is_streaming() || st.reading.is_held() {
            st.pump(conn);
        }
    });
}

pub(crate) fn on_half_close(conn: &mut TcpConnection) {
    with_state(conn, |st, conn| {
        // What is complete is still answered; a request cut short is dropped.
        st.peer_ended();
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
