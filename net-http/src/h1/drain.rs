//! The server began a graceful stop: each HTTP/1.1 connection says goodbye in HTTP's
//! own words so that its client leaves during the drain grace instead of being cut
//! after it. An idle keep-alive connection is shut at once; a busy one answers what it
//! has and its last response carries `Connection: close`. (A WebSocket is the ws
//! codec's: close 1001.)

use net::TcpConnection;

use super::{with_state, Drain, HttpConn};

/// The server's `on_drain` callback for an HTTP/1.1 connection.
pub(crate) fn on_drain(conn: &mut TcpConnection) {
    with_state(conn, |st, conn| {
        st.drain = Drain::Draining;
        if st.is_idle() {
            log::debug!("{conn}: idle keep-alive connection shut for the drain");
            st.last_request_seen = true;
            conn.shutdown();
        }
    });
}

impl HttpConn {
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
