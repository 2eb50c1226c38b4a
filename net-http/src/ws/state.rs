//! The per-connection WebSocket state, where it lives (an extension of the connection,
//! taken out while the codec works on it), and the frames the codec sends on its own
//! (close, pong), with the bound on what a peer that does not read can queue.
//!
//! The state knows nothing of the handler (`session.rs` keeps that), so sending to a
//! WebSocket (`send_to_websocket`, used by `WsConn` and `WsHandle`) depends only on this
//! file.

use net::TcpConnection;

use super::frame;
use super::reader::WsReader;
use crate::limits::Limits;

/// How far the close handshake has come. It only moves forward: once our close frame
/// is out nothing more is sent, and the handler hears of the close exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Closing {
    /// Messages flow both ways.
    Open,
    /// Our close frame is queued: sends are refused; only the peer's close matters.
    CloseSent,
    /// The handler's `on_close` ran (after our close frame, or the connection's end).
    HandlerTold,
}

/// The per-connection WebSocket state.
pub(crate) struct WsState {
    pub reader: WsReader,
    pub closing: Closing,
    pub max_queued: usize,
}

/// The connection extension holding the WebSocket state (taken out while it works).
pub(crate) struct WsSlot(pub(crate) Option<WsState>);

impl WsState {
    pub(crate) fn new(limits: &Limits) -> Self {
        WsState {
            reader: WsReader::new(limits.ws_max_message_bytes),
            closing: Closing::Open,
            max_queued: limits.ws_max_queued_bytes,
        }
    }
}

/// Sends `frame` unless the peer's queued output is already over `max_queued`; then
/// the peer is not reading, and it is closed instead (no close frame: it would queue
/// too). One message larger than the limit still goes out to a reading peer.
pub(crate) fn send_bounded(conn: &mut TcpConnection, max_queued: usize, frame: &[u8]) -> bool {
    if conn.output_len() > max_queued {
        log::warn!(
            "{conn}: WebSocket peer is not reading ({} bytes queued); closing",
            conn.output_len()
        );
        conn.force_close();
        return false;
    }
    conn.send(frame)
}

/// Sends a close frame (once) and half-closes: we send nothing after it, and the
/// connection waits (bounded by its close delay) for the peer's close and EOF.
pub(crate) fn send_close(
    conn: &mut TcpConnection,
    st: &mut WsState,
    code: Option<u16>,
    reason: &str,
) {
    if st.closing >= Closing::CloseSent {
        return;
    }
    st.closing = Closing::CloseSent;
    let mut out = Vec::new();
    frame::encode_close(code, reason, &mut out);
    conn.send(&out);
    conn.shutdown();
}

/// A pong answering `payload`.
pub(crate) fn send_pong(conn: &mut TcpConnection, payload: &[u8]) {
    let mut out = Vec::new();
    frame::encode(frame::OP_PONG, payload, &mut out);
    conn.send(&out);
}

/// Runs `f` with the state and the connection, if `conn` is a WebSocket of ours.
pub(crate) fn with_state<R>(
    conn: &mut TcpConnection,
    f: impl FnOnce(&mut WsState, &mut TcpConnection) -> R,
) -> Option<R> {
    let mut state = conn.extensions_mut().get_mut::<WsSlot>()?.0.take()?;
    let r = f(&mut state, conn);
    if let Some(slot) = conn.extensions_mut().get_mut::<WsSlot>() {
        slot.0 = Some(state);
    }
    Some(r)
}

/// Sends `frame` if `conn` is a WebSocket of ours that may still be sent to (and is
/// reading: see [`send_bounded`]); whether it was sent.
pub(crate) fn send_to_websocket(conn: &mut TcpConnection, frame: &[u8]) -> bool {
    let max_queued = conn
        .extensions()
        .get::<WsSlot>()
        .and_then(|s| s.0.as_ref())
        .filter(|state| state.closing == Closing::Open)
        .map(|state| state.max_queued);
    match max_queued {
        Some(max) => send_bounded(conn, max, frame),
        None => false,
    }
}
