//! What every connection of one `HttpService` shares, whatever its protocol.

use std::sync::Arc;

use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::router::Router;
use crate::ws::hub::WsHub;

/// The router, limits and counters of one service, shared by its connections.
pub(crate) struct App {
    pub router: Router,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
    /// Where its WebSockets are, for its `WsBroadcaster`s.
    pub hub: Arc<WsHub>,
}
