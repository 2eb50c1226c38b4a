//! What a handler holds: `WsConn` on the loop, `WsHandle` from any thread.

use std::net::SocketAddr;
use std::sync::Arc;

use net::{ConnHandle, ConnId, Extensions, TcpConnection};

use super::frame;
use super::message::Message;
use super::state::{send_bounded, send_close, send_to_websocket, with_state, Closing, WsState};
use crate::metrics::Metrics;

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
        if self.state.closing != Closing::Open {
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
        let metrics = self.metrics.clone();
        self.conn.for_each_sibling(move |peer| {
            if send_to_websocket(peer, &frame) {
                metrics.ws_messages_out(1);
            }
        });
    }

    /// A handle to send to this WebSocket from any thread.
    pub fn handle(&mut self) -> WsHandle {
        WsHandle {
            conn: self.conn.handle(),
            metrics: self.metrics.clone(),
        }
    }

    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.conn.peer_addr()
    }

    /// The connection's id: the same as its [`WsHandle::id`], unique among the
    /// server's open connections (a key for a map of handles).
    pub fn id(&self) -> ConnId {
        self.conn.id()
    }

    /// Per-connection state (one value per type), e.g. a subscriber's topics that a
    /// [`WsBroadcaster::broadcast_where`](super::WsBroadcaster::broadcast_where)
    /// filter reads.
    pub fn extensions(&self) -> &Extensions {
        self.conn.extensions()
    }

    /// Per-connection state, to change.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        self.conn.extensions_mut()
    }
}

/// Sends to a WebSocket from any thread (queued to its loop).
#[derive(Clone)]
pub struct WsHandle {
    conn: ConnHandle,
    /// Its service's counters: a message sent through a handle counts as sent too.
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for WsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsHandle")
            .field("conn", &self.conn)
            .finish()
    }
}

impl WsHandle {
    /// Queues `message`; `false` if the connection is known to be closed. Dropped on
    /// the loop if the WebSocket is closing by then.
    pub fn send(&self, message: &Message) -> bool {
        let frame = message.to_frame();
        let metrics = self.metrics.clone();
        self.conn.with_connection(move |conn| {
            if send_to_websocket(conn, &frame) {
                metrics.ws_messages_out(1);
            }
        })
    }

    /// The connection's id (as [`WsConn::id`]).
    pub fn id(&self) -> ConnId {
        self.conn.id()
    }

    /// Starts the close handshake with `code` and `reason` (as [`WsConn::close`]),
    /// on the connection's loop; `false` if the connection is known to be closed.
    pub fn close(&self, code: u16, reason: &str) -> bool {
        let reason = reason.to_string();
        self.conn.with_connection(move |conn| {
            with_state(conn, |st, conn| send_close(conn, st, Some(code), &reason));
        })
    }
}
