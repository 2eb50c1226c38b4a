//! An upgraded connection: WebSocket frames in, handler calls and control answers out.
//!
//! Ownership: HTTP/1.1 hands the connection over at the upgrade ([`take_over`]); from
//! then on the connection's extensions hold the WebSocket state (`WsSlot`, taken out
//! while the codec works on it) and its endpoint (the handler and the counters), and
//! the HTTP state is gone. All on the connection's loop.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use net::{Buffer, TcpConnection};

use super::conn::WsConn;
use super::handler::WsHandler;
use super::hub::WsHub;
use super::reader::Event;
use super::state::{
    send_close, send_pong, send_to_websocket, with_state, Closing, WsSlot, WsState,
};
use crate::limits::Limits;
use crate::metrics::Metrics;

/// The connection extension naming who serves this WebSocket and what it counts into.
struct WsEndpoint {
    handler: Arc<dyn WsHandler>,
    metrics: Arc<Metrics>,
    hub: Arc<WsHub>,
}

/// Sends the message `frame` to the WebSocket `conn` and counts it as sent in its
/// service's counters; whether it was sent.
pub(crate) fn send_counted(conn: &mut TcpConnection, frame: &[u8]) -> bool {
    let Some(metrics) = conn
        .extensions()
        .get::<WsEndpoint>()
        .map(|e| e.metrics.clone())
    else {
        return false;
    };
    let sent = send_to_websocket(conn, frame);
    if sent {
        metrics.ws_messages_out(1);
    }
    sent
}

/// Whether `conn` is an open WebSocket of the service whose hub is `hub`.
pub(crate) fn served_by(conn: &TcpConnection, hub: &Arc<WsHub>) -> bool {
    conn.extensions()
        .get::<WsEndpoint>()
        .is_some_and(|e| Arc::ptr_eq(&e.hub, hub))
}

fn endpoint(conn: &TcpConnection) -> Option<(Arc<dyn WsHandler>, Arc<Metrics>)> {
    let e = conn.extensions().get::<WsEndpoint>()?;
    Some((e.handler.clone(), e.metrics.clone()))
}

/// Makes `conn` a WebSocket served by `handler` (the 101 is already queued), runs
/// `on_open`, then feeds it the bytes that followed the upgrade request.
pub(crate) fn take_over(
    conn: &mut TcpConnection,
    handler: Arc<dyn WsHandler>,
    limits: &Limits,
    metrics: Arc<Metrics>,
    hub: &Arc<WsHub>,
    leftover: &mut Buffer,
) {
    metrics.ws_opened(1);
    hub.note_loop(conn);
    let mut state = WsState::new(limits);
    let mut wc = WsConn {
        conn,
        state: &mut state,
        metrics: &metrics,
    };
    if catch_unwind(AssertUnwindSafe(|| handler.on_open(&mut wc))).is_err() {
        log::error!("{conn}: WebSocket on_open panicked; closing");
        conn.force_close();
    }
    conn.extensions_mut().insert(WsEndpoint {
        handler,
        metrics,
        hub: hub.clone(),
    });
    conn.extensions_mut().insert(WsSlot(Some(state)));
    if !leftover.is_empty() {
        on_message(conn, leftover);
    }
}

/// Frames from the peer; `false` if `conn` is not a WebSocket.
pub(crate) fn on_message(conn: &mut TcpConnection, input: &mut Buffer) -> bool {
    let Some((handler, metrics)) = endpoint(conn) else {
        return false;
    };
    with_state(conn, |st, conn| feed(st, conn, input, &handler, &metrics)).is_some()
}

/// The peer ended its stream without a close frame; `false` if not a WebSocket.
pub(crate) fn on_half_close(conn: &mut TcpConnection) -> bool {
    with_state(conn, |_, conn| conn.shutdown()).is_some()
}

/// The server began a graceful stop: close 1001 ("going away"), the handler hears
/// of it, and the close handshake runs in the drain grace; `false` if not a
/// WebSocket.
pub(crate) fn on_drain(conn: &mut TcpConnection) -> bool {
    let Some((handler, metrics)) = endpoint(conn) else {
        return false;
    };
    with_state(conn, |st, conn| {
        send_close(conn, st, Some(1001), "going away");
        notify_close(conn, st, &handler, &metrics, Some(1001));
    })
    .is_some()
}

/// The connection is down: the handler hears of it once; `false` if not a WebSocket.
pub(crate) fn on_down(conn: &mut TcpConnection) -> bool {
    let Some((handler, metrics)) = endpoint(conn) else {
        return false;
    };
    metrics.ws_opened(-1);
    with_state(conn, |st, conn| {
        st.closing = st.closing.max(Closing::CloseSent);
        notify_close(conn, st, &handler, &metrics, None);
    });
    conn.extensions_mut().remove::<WsSlot>();
    conn.extensions_mut().remove::<WsEndpoint>();
    true
}

/// Feeds WebSocket bytes to the reader and its events to the handler.
fn feed(
    st: &mut WsState,
    conn: &mut TcpConnection,
    buf: &mut Buffer,
    handler: &Arc<dyn WsHandler>,
    metrics: &Arc<Metrics>,
) {
    loop {
        if st.closing != Closing::Open || conn.is_closed() {
            // After our close frame only the peer's close matters, and nothing of it
            // needs an answer.
            buf.retrieve_all();
            return;
        }
        let event = match st.reader.next(buf) {
            Ok(Some(e)) => e,
            Ok(None) => return,
            Err(fail) => {
                log::info!("{conn}: WebSocket failed: {} ({})", fail.reason, fail.code);
                send_close(conn, st, Some(fail.code), fail.reason);
                notify_close(conn, st, handler, metrics, Some(fail.code));
                return;
            }
        };
        match event {
            Event::Message(m) => {
                metrics.ws_message_in();
                let mut wc = WsConn {
                    conn,
                    state: st,
                    metrics,
                };
                if catch_unwind(AssertUnwindSafe(|| handler.on_message(&mut wc, m))).is_err() {
                    log::error!("{conn}: WebSocket handler panicked; closing with 1011");
                    send_close(conn, st, Some(1011), "internal error");
                    notify_close(conn, st, handler, metrics, Some(1011));
                }
            }
            Event::Ping(payload) => send_pong(conn, &payload),
            Event::Pong => {}
            Event::Close(code, _reason) => {
                send_close(conn, st, code, "");
                notify_close(conn, st, handler, metrics, code);
            }
        }
    }
}

fn notify_close(
    conn: &mut TcpConnection,
    st: &mut WsState,
    handler: &Arc<dyn WsHandler>,
    metrics: &Arc<Metrics>,
    code: Option<u16>,
) {
    if st.closing == Closing::HandlerTold {
        return;
    }
    st.closing = Closing::HandlerTold;
    let mut wc = WsConn {
        conn,
        state: st,
        metrics,
    };
    let _ = catch_unwind(AssertUnwindSafe(|| handler.on_close(&mut wc, code)));
}
