//! WebSocket (RFC 6455) over an upgraded HTTP/1.1 connection: framing, masking,
//! fragmentation, ping/pong, the close handshake, UTF-8 validation, a maximum message
//! size; broadcast to every WebSocket of the server across loops.
//!
//! Written here rather than taken from a crate: the well-kept framing crates
//! (tungstenite and its relatives) drive a blocking or async `Read + Write` stream,
//! while Muon's loop pushes bytes into a callback; the codec below is fed from the
//! connection's input buffer and writes through `TcpConnection::send`. It is proven by
//! the Autobahn|Testsuite (docs/autobahn.md).

mod frame;
pub mod handshake;
mod reader;

use std::net::SocketAddr;
use std::sync::Arc;

use net::{ConnHandle, TcpConnection};

pub use frame::WsFail;
pub(crate) use reader::{Event, WsReader};

use crate::Metrics;

/// A complete WebSocket message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (valid UTF-8, checked).
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

impl Message {
    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    /// The message as one server frame.
    pub fn to_frame(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let op = match self {
            Message::Text(_) => frame::OP_TEXT,
            Message::Binary(_) => frame::OP_BINARY,
        };
        frame::encode(op, self.as_bytes(), &mut out);
        out
    }
}

/// Serves one WebSocket endpoint. Every method runs on the connection's loop and must
/// not block.
pub trait WsHandler: Send + Sync + 'static {
    /// The upgrade is done (the 101 has been queued).
    fn on_open(&self, ws: &mut WsConn<'_>) {
        let _ = ws;
    }
    /// A complete message arrived.
    fn on_message(&self, ws: &mut WsConn<'_>, message: Message);
    /// The connection is closing: `code` is the peer's close code, ours when we
    /// failed it, or `None` when it ended without a close handshake (1006) or without
    /// a code (1005). Sends are dropped from here on.
    fn on_close(&self, ws: &mut WsConn<'_>, code: Option<u16>) {
        let _ = (ws, code);
    }
}

impl<F> WsHandler for F
where
    F: Fn(&mut WsConn<'_>, Message) + Send + Sync + 'static,
{
    fn on_message(&self, ws: &mut WsConn<'_>, message: Message) {
        self(ws, message)
    }
}

/// The per-connection WebSocket state.
pub(crate) struct WsState {
    pub reader: WsReader,
    pub handler: Arc<dyn WsHandler>,
    pub close_sent: bool,
    pub close_notified: bool,
    pub max_queued: usize,
}

impl WsState {
    pub(crate) fn new(handler: Arc<dyn WsHandler>, limits: &crate::Limits) -> Self {
        WsState {
            reader: WsReader::new(limits.ws_max_message_bytes),
            handler,
            close_sent: false,
            close_notified: false,
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

/// A WebSocket connection, for its handler on its loop.
pub struct WsConn<'a> {
    pub(crate) conn: &'a mut TcpConnection,
    pub(crate) state: &'a mut WsState,
    pub(crate) metrics: &'a Arc<Metrics>,
}

impl WsConn<'_> {
    /// Sends a text message. `false` once closing.
    pub fn send_text(&mut self, text: &str) -> bool {
        self.send_frame(frame::OP_TEXT, text.as_bytes())
    }

    /// Sends a binary message. `false` once closing.
    pub fn send_binary(&mut self, data: &[u8]) -> bool {
        self.send_frame(frame::OP_BINARY, data)
    }

    /// Sends `message`. `false` once closing.
    pub fn send(&mut self, message: &Message) -> bool {
        match message {
            Message::Text(t) => self.send_text(t),
            Message::Binary(b) => self.send_binary(b),
        }
    }

    fn send_frame(&mut self, op: u8, payload: &[u8]) -> bool {
        if self.state.close_sent {
            return false;
        }
        let mut out = Vec::new();
        frame::encode(op, payload, &mut out);
        let sent = send_bounded(self.conn, self.state.max_queued, &out);
        if sent {
            self.metrics.ws_messages_out(1);
        }
        sent
    }

    /// Starts the close handshake with `code` and `reason`, then half-closes.
    pub fn close(&mut self, code: u16, reason: &str) {
        send_close(self.conn, self.state, Some(code), reason);
    }

    /// Sends `message` to every open WebSocket of this server (this one included), on
    /// every loop: one task per loop, the frame encoded once.
    pub fn broadcast(&self, message: &Message) {
        let frame = Arc::new(message.to_frame());
        self.conn.for_each_sibling(move |peer| {
            crate::conn::send_to_websocket(peer, &frame);
        });
    }

    /// A handle to send to this WebSocket from any thread.
    pub fn handle(&mut self) -> WsHandle {
        WsHandle {
            conn: self.conn.handle(),
        }
    }

    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.conn.peer_addr()
    }
}

/// Sends to a WebSocket from any thread (queued to its loop).
#[derive(Clone, Debug)]
pub struct WsHandle {
    conn: ConnHandle,
}

impl WsHandle {
    /// Queues `message`; `false` if the connection is known to be closed. Dropped on
    /// the loop if the WebSocket is closing by then.
    pub fn send(&self, message: &Message) -> bool {
        let frame = message.to_frame();
        self.conn.with_connection(move |conn| {
            crate::conn::send_to_websocket(conn, &frame);
        })
    }
}

/// Sends a close frame (once) and half-closes: we send nothing after it, and the
/// connection waits (bounded by its close delay) for the peer's close and EOF.
pub(crate) fn send_close(
    conn: &mut TcpConnection,
    st: &mut WsState,
    code: Option<u16>,
    reason: &str,
) {
    if st.close_sent {
        return;
    }
    st.close_sent = true;
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
