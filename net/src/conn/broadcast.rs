//! The one way to act on every connection of a service (a server or a client) on
//! every loop it has connections on: one task per loop, no lock. Used by a graceful
//! stop (shut every connection down, then force the stragglers) and by
//! [`crate::TcpConnection::for_each_sibling`] (a chat broadcast).

use std::sync::Arc;

use crate::conn::connection::ConnService;
use crate::conn::connection::TcpConnection;

/// Queues `f` to every loop of `service`; each loop runs it on its own connections of
/// that service. Returns how many loops took the task (a loop that ended drops it).
pub(crate) fn on_every_connection(
    service: &Arc<ConnService>,
    f: Arc<dyn Fn(&mut TcpConnection) + Send + Sync>,
) -> usize {
    let service_of_f = Arc::downgrade(service);
    service
        .loops()
        .iter()
        .filter(|lp| {
            let (f, service) = (f.clone(), service_of_f.clone());
            lp.queue_in_loop(move |ctx| {
                let Some(service) = service.upgrade() else {
                    return;
                };
                // Every connection, also those still in their handshake (a stop must
                // reach them too).
                ctx.visit_connections(|c| c.belongs_to(&service), |c| f(c))
            })
        })
        .count()
}
