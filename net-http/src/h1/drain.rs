//! The server began a graceful stop: each HTTP/1.1 connection says goodbye in HTTP's
//! own words so that its client leaves during the drain grace instead of being cut
//! after it. An idle keep-alive connection is shut at once; a busy one answers what it
//! has and its last response carries `Connection: close`. (A WebSocket is the ws
//! codec's: close 1001.)

use net::TcpConnection;

use super::reading::Reading;
use super::{with_state, Drain, HttpConn};

/// The server's `on_drain` callback for an HTTP/1.1 connection.
pub(crate) fn on_drain(conn: &mut TcpConnection) {
    with_state(conn, |st, conn| {
        st.drain = Drain::Draining;
        if st.is_idle() {
            log::debug!("{conn}: idle keep-alive connection shut for the drain");
            st.reading.finish();
            conn.shutdown();
        }
    });
}

impl HttpConn {
    /// Whether nothing is in flight: between requests with every answer written, no
    /// input held, no body streaming.
    fn is_idle(&self) -> bool {
        matches!(self.reading, Reading::Between { .. })
            && self.slots.is_empty()
            && self.stash.is_empty()
            && !self.writing.is_streaming()
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
