//! An upgraded connection: WebSocket frames in, handler calls and control answers out.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use net::{Buffer, TcpConnection};

use super::HttpConn;
use crate::ws::{self, WsState};

impl HttpConn {
    /// Feeds WebSocket bytes to the reader and its events to the handler.
    pub(super) fn ws_input(&mut self, conn: &mut TcpConnection, buf: &mut Buffer) {
        let metrics = self.app.metrics.clone();
        let Some(st) = self.ws.as_mut() else {
            return;
        };
        let handler = st.handler.clone();
        loop {
            if st.close_sent || conn.is_closed() {
                // After our close frame only the peer's close matters, and nothing
                // of it needs an answer.
                buf.retrieve_all();
                return;
            }
            let event = match st.reader.next(buf) {
                Ok(Some(e)) => e,
                Ok(None) => return,
                Err(fail) => {
                    log::info!("{conn}: WebSocket failed: {} ({})", fail.reason, fail.code);
                    ws::send_close(conn, st, Some(fail.code), fail.reason);
                    notify_close(conn, st, &handler, &metrics, Some(fail.code));
                    return;
                }
            };
            match event {
                ws::Event::Message(m) => {
                    metrics.ws_message_in();
                    let mut wc = ws::WsConn {
                        conn,
                        state: st,
                        metrics: &metrics,
                    };
                    if catch_unwind(AssertUnwindSafe(|| handler.on_message(&mut wc, m))).is_err() {
                        log::error!("{conn}: WebSocket handler panicked; closing with 1011");
                        ws::send_close(conn, st, Some(1011), "internal error");
                        notify_close(conn, st, &handler, &metrics, Some(1011));
                    }
                }
                ws::Event::Ping(payload) => ws::send_pong(conn, &payload),
                ws::Event::Pong => {}
                ws::Event::Close(code, _reason) => {
                    ws::send_close(conn, st, code, "");
                    notify_close(conn, st, &handler, &metrics, code);
                }
            }
        }
    }
}

pub(super) fn notify_close(
    conn: &mut TcpConnection,
    st: &mut WsState,
    handler: &Arc<dyn ws::WsHandler>,
    metrics: &Arc<crate::Metrics>,
    code: Option<u16>,
) {
    if st.close_notified {
        return;
    }
    st.close_notified = true;
    let mut wc = ws::WsConn {
        conn,
        state: st,
        metrics,
    };
    let _ = catch_unwind(AssertUnwindSafe(|| handler.on_close(&mut wc, code)));
}
