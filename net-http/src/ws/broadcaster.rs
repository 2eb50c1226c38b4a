//! `WsBroadcaster`: sends to a service's WebSockets from any thread, outside any
//! handler (a publisher thread, a timer, another server's callback).

use std::sync::Arc;

use net::TcpConnection;

use super::hub::WsHub;
use super::message::Message;
use super::session::{send_counted, served_by};

/// Sends to every open WebSocket of one [`HttpService`](crate::HttpService), or to a
/// filtered set, from any thread: one task per loop that has WebSockets of the
/// service, the frame encoded once, no lock per message. `Clone + Send + Sync`; made
/// by [`HttpService::broadcaster`](crate::HttpService::broadcaster) before or after
/// the server starts.
///
/// ```no_run
/// use net_http::{HttpService, Message, Router, WsConn};
/// let service = HttpService::new(Router::new().websocket("/ws", |_ws: &mut WsConn<'_>, _m| {}));
/// let broadcaster = service.broadcaster();
/// std::thread::spawn(move || loop {
///     broadcaster.broadcast(&Message::Text("tick".into()));
///     std::thread::sleep(std::time::Duration::from_secs(1));
/// });
/// ```
#[derive(Clone)]
pub struct WsBroadcaster {
    pub(crate) hub: Arc<WsHub>,
}

impl WsBroadcaster {
    /// Sends `message` to every open WebSocket of the service. Returns how many loops
    /// it was queued to (0 before the first WebSocket opened).
    pub fn broadcast(&self, message: &Message) -> usize {
        self.broadcast_where(message, |_| true)
    }

    /// Sends `message` to the open WebSockets of the service for which `filter`
    /// holds. `filter` runs on each connection's loop with the connection (its
    /// [`id`](TcpConnection::id), [`extensions`](TcpConnection::extensions) where the
    /// application keeps per-connection state such as subscriptions, its address).
    /// Returns how many loops it was queued to.
    pub fn broadcast_where<F>(&self, message: &Message, filter: F) -> usize
    where
        F: Fn(&TcpConnection) -> bool + Send + Sync + 'static,
    {
        let frame = Arc::new(message.to_frame());
        let filter = Arc::new(filter);
        self.hub
            .loops()
            .iter()
            .filter(|lp| {
                let (frame, filter) = (frame.clone(), filter.clone());
                let hub = self.hub.clone();
                lp.queue_in_loop(move |ctx| {
                    ctx.for_each_connection(|c| {
                        if served_by(c, &hub) && filter(c) {
                            send_counted(c, &frame);
                        }
                    })
                })
            })
            .count()
    }
}
