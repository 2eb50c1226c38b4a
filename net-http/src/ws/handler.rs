//! The trait a WebSocket endpoint implements.

use super::conn::WsConn;
use super::message::Message;

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

/// A handler shared with other code (which keeps its own `Arc`, say to publish
/// through it) serves as well.
impl<T: WsHandler + ?Sized> WsHandler for std::sync::Arc<T> {
    fn on_open(&self, ws: &mut WsConn<'_>) {
        (**self).on_open(ws)
    }
    fn on_message(&self, ws: &mut WsConn<'_>, message: Message) {
        (**self).on_message(ws, message)
    }
    fn on_close(&self, ws: &mut WsConn<'_>, code: Option<u16>) {
        (**self).on_close(ws, code)
    }
}
