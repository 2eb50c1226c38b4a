//! The one way to act on every connection of a service (a server or a client) on
//! every loop it has connections on: one task per loop, no lock. Used by a graceful
//! stop (shut every connection down, then force the stragglers) and by
//! [`crate::TcpConnection::for_each_sibling`] (a chat broadcast).

use std::sync::Arc;

use crate::service::Service;
use crate::TcpConnection;

/// Queues `f` to every loop of `service`; each loop runs it on its own connections of
/// that service. Returns how many loops took the task (a loop that ended drops it).
pub(crate) fn on_every_connection(
    service: &Arc<Service>,
    f: Arc<dyn Fn(&mut TcpConnection) + Send + Sync>,
) -> usize {
    // Compared by address: the connections hold clones of the same `Arc`.
    let key = Arc::as_ptr(service) as usize;
    service
        .loops()
        .iter()
        .filter(|lp| {
            let f = f.clone();
            lp.queue_in_loop(move |ctx| {
                ctx.for_each_connection(|c| {
                    if Arc::as_ptr(&c.service) as usize == key {
                        f(c)
                    }
                })
            })
        })
        .count()
}
