//! One timer per connection for the header-read, body and keep-alive deadlines: it
//! is armed for the nearest deadline and, when it fires early (the deadline moved on),
//! re-arms itself, so a request costs no timer operation.

use std::time::Instant;

use net::TcpConnection;

use super::{with_state, HttpConn};
use crate::error::HttpError;

pub(super) fn on_tick(conn: &mut TcpConnection) {
    with_state(conn, |st, conn| {
        st.tick = None;
        let now = Instant::now();
        match st.deadline() {
            Some(d) if d <= now => {
                if st.reading.in_request() {
                    st.fail(conn, HttpError::new(408, "request not received in time"));
                    st.pump(conn);
                } else {
                    log::debug!("{conn}: idle keep-alive connection closed");
                    st.reading.finish();
                    conn.shutdown();
                }
            }
            _ => st.ensure_tick(conn),
        }
    });
}

impl HttpConn {
    /// The time by which something must have happened, if anything must.
    pub(super) fn deadline(&self) -> Option<Instant> {
        if self.writing.is_upgraded() {
            return None;
        }
        let limits = &self.app.limits;
        self.reading.deadline(
            limits.header_read_timeout,
            limits.keep_alive_timeout,
            self.served,
            self.last_rx,
        )
    }

    /// Makes sure a timer fires no later than the current deadline. One timer per
    /// connection: when it fires early (the deadline moved on) it re-arms itself.
    pub(super) fn ensure_tick(&mut self, conn: &mut TcpConnection) {
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
