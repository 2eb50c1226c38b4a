//! The server began a graceful stop: each HTTP connection says goodbye in HTTP's own
//! words so that its client leaves during the drain grace instead of being cut after
//! it. An idle keep-alive connection is shut at once; a busy one answers what it has
//! and its last response carries `Connection: close`; a WebSocket sends close 1001
//! ("going away") and the close handshake runs in the grace.

use net::TcpConnection;

use super::{websocket::notify_close, with_state, HttpConn};
use crate::ws;

/// Whether the server is stopping, as this connection knows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Drain {
    /// Serving as usual: keep-alive as the client asks.
    #[default]
    Serving,
    /// The server is stopping: no response after the queued ones keeps the
    /// connection, and a WebSocket is asked to go away.
    Draining,
}

/// The server's `on_drain` callback.
pub(crate) fn on_drain(conn: &mut TcpConnection) {
    with_state(conn, |st, conn| {
        st.drain = Drain::Draining;
        if st.ws.is_some() {
            st.ws_going_away(conn);
        } else if st.is_idle() {
            log::debug!("{conn}: idle keep-alive connection shut for the drain");
            st.last_request_seen = true;
            conn.shutdown();
        }
    });
}

impl HttpConn {
    /// Sends a WebSocket's close 1001 (once) and tells its handler.
    pub(super) fn ws_going_away(&mut self, conn: &mut TcpConnection) {
        let metrics = self.app.metrics.clone();
        let Some(st) = self.ws.as_mut() else {
            return;
        };
        let handler = st.handler.clone();
        ws::send_close(conn, st, Some(1001), "going away");
        notify_close(conn, st, &handler, &metrics, Some(1001));
    }

    /// Whether nothing is in flight: no request queued, arriving or held, no body
    /// streaming, no upgrade.
    fn is_idle(&self) -> bool {
        self.slots.is_empty()
            && self.body.is_none()
            && self.head_started.is_none()
            && self.stash.is_empty()
            && self.streaming.is_none()
            && !self.upgrade_pending
    }

    /// Whether the response being written must close the connection for the drain:
    /// the server is stopping and no other request is queued behind it.
    pub(super) fn closes_for_drain(&self) -> bool {
        self.drain == Drain::Draining && self.slots.is_empty()
    }

    /// Whether the server is stopping.
    pub(super) fn draining(&self) -> bool {
        self.drain == Drain::Draining
    }
}
