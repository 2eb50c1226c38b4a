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
                if st.head_started.is_some() || st.body.is_some() {
                    st.fail(conn, HttpError::new(408, "request not received in time"));
                    st.pump(conn);
                } else {
                    log::debug!("{conn}: idle keep-alive connection closed");
                    st.last_request_seen = true;
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
        let limits = &self.app.limits;
        if self.upgraded {
            return None;
        }
        if let Some(t) = self.head_started {
            return Some(t + limits.header_read_timeout);
        }
        if self.body.is_some() {
            return Some(self.last_rx + limits.header_read_timeout);
        }
        let idle = if self.served == 0 {
            limits.header_read_timeout
        } else {
            limits.keep_alive_timeout
        };
        self.idle_since.map(|t| t + idle)
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
