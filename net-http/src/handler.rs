//! What a handler gets besides the request (`Ctx`), what it returns (`Reply`), and
//! the `Responder` that answers later or from another thread.

use std::net::SocketAddr;

use net::{ConnHandle, LoopHandle, TcpConnection};

use crate::response::Response;

/// How a protocol takes a late answer for request `seq` on its connection (HTTP/1.1
/// queues it in request order). Set by the protocol that made the [`Ctx`], so this
/// module does not depend on any protocol.
pub(crate) type Deliver = fn(&mut TcpConnection, u64, Response);

/// A handler's answer.
pub enum Reply {
    /// The response, now.
    Now(Response),
    /// The handler took a [`Responder`] ([`Ctx::responder`]) and will answer through
    /// it. Without one the client gets 500.
    Later,
}

impl From<Response> for Reply {
    fn from(r: Response) -> Self {
        Reply::Now(r)
    }
}

/// The handler's view of its connection, on the loop thread.
pub struct Ctx<'a> {
    pub(crate) conn: &'a mut TcpConnection,
    pub(crate) seq: u64,
    pub(crate) responder_taken: bool,
    pub(crate) deliver: Deliver,
}

impl Ctx<'_> {
    /// A `Send` handle that answers this request later, from any thread. Responses
    /// still go out in request order on the connection.
    pub fn responder(&mut self) -> Responder {
        self.responder_taken = true;
        Responder {
            handle: self.conn.handle(),
            seq: self.seq,
            answered: false,
            deliver: self.deliver,
        }
    }

    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.conn.peer_addr()
    }

    /// Whether the connection is TLS (has a layer).
    pub fn is_tls(&self) -> bool {
        self.conn.layer().is_some()
    }

    /// The loop that owns the connection (for timers: an answer after a delay).
    pub fn loop_handle(&self) -> LoopHandle {
        self.conn.loop_handle()
    }
}

/// Answers one request from any thread: queued to the connection's loop, written in
/// request order. Dropped without answering, it answers 500 (so a pipelined
/// connection never waits forever on a lost handler).
///
/// ```no_run
/// use net_http::{Reply, Response, Router};
/// let router = Router::new().get("/slow", |_req, ctx| {
///     let responder = ctx.responder();
///     std::thread::spawn(move || {
///         // ... blocking work off the loop ...
///         responder.respond(Response::text("done\n"));
///     });
///     Reply::Later
/// });
/// ```
pub struct Responder {
    handle: ConnHandle,
    seq: u64,
    answered: bool,
    deliver: Deliver,
}

impl Responder {
    /// Sends `response` as this request's answer. `false` if the connection is
    /// already closed.
    pub fn respond(mut self, response: Response) -> bool {
        self.answered = true;
        self.deliver(response)
    }

    fn deliver(&self, response: Response) -> bool {
        let (seq, deliver) = (self.seq, self.deliver);
        self.handle
            .with_connection(move |conn| deliver(conn, seq, response))
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if !self.answered {
            log::warn!("a responder was dropped without answering; sending 500");
            self.deliver(Response::status(500));
        }
    }
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder").field("seq", &self.seq).finish()
    }
}
