//! Intake: one path by which a connected socket becomes a connection on a loop,
//! whether a server accepted it (in either accept mode) or a client's connect
//! completed.
//!
//! A server's socket first passes [`Intake::take_in`]: the PROXY protocol header when
//! the server expects one (from trusted sources only). Then [`LoopCtx::adopt`]: the
//! socket gets its options (TCP_NODELAY), a layer from the service's factory (TLS), a
//! slot and a registration on the loop's poller; then the connection starts (its
//! handshake, or straight to up).
//!
//! The service's callbacks are shared by every connection of that service on this
//! loop through one `Rc`, kept in a per-thread table (a loop runs on exactly one
//! thread): calling a callback then clones an `Rc`, a plain increment in memory only
//! this thread touches, instead of an `Arc` whose count would bounce between the cores
//! of every loop serving the same server.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{Arc, Weak};

use mio::net::TcpStream;
use mio::{Interest, Token};

use crate::conn::callbacks::Callbacks;
use crate::conn::connection::{ConnId, ConnService, TcpConnection};
use crate::conn::proxy_info::ProxyInfo;
use crate::conn::service::LivePlace;
use crate::reactor::loop_ctx::LoopCtx;
use crate::server::proxy_protocol::policy::ProxyProtocol;
use crate::server::proxy_protocol::reader::HeaderReader;
use crate::stats::{CloseCause, HandshakeFailure};

/// What every accepted connection of one server goes through. Shared by its acceptors.
pub(crate) struct Intake {
    pub(crate) service: Arc<ConnService>,
    /// Expect a PROXY protocol header first, with this policy.
    pub(crate) proxy: Option<Arc<ProxyProtocol>>,
}

impl Intake {
    /// Takes `stream` in on this loop, with its `place` in the service's live count
    /// (which every failure gives back, counting the close).
    pub(crate) fn take_in(
        &self,
        ctx: &mut LoopCtx,
        stream: TcpStream,
        peer: SocketAddr,
        place: LivePlace<TcpConnection>,
    ) {
        let Some(proxy) = self.proxy.as_ref() else {
            if let Err(e) = ctx.adopt(stream, peer, place, None) {
                log::warn!(
                    "{}: {peer}: cannot take the connection in: {e}",
                    self.service.name
                );
            }
            return;
        };
        if !proxy.trusts(peer.ip()) {
            log::warn!(
                "{}: {peer} is not a trusted PROXY protocol source; closing",
                self.service.name
            );
            place.fail(HandshakeFailure::ProxyHeader, CloseCause::Error);
            return;
        }
        HeaderReader::start(ctx, place, stream, peer, proxy);
    }
}

type CallbackCache = Vec<(Weak<ConnService>, Rc<Callbacks<TcpConnection>>)>;

thread_local! {
    static CALLBACKS: RefCell<CallbackCache> = const { RefCell::new(Vec::new()) };
}

/// This thread's shared copy of `service`'s callbacks.
fn callbacks_of(service: &Arc<ConnService>) -> Rc<Callbacks<TcpConnection>> {
    CALLBACKS.with(|cache| {
        let mut cache = cache.borrow_mut();
        let key = Arc::downgrade(service);
        if let Some((_, cbs)) = cache.iter().find(|(s, _)| s.ptr_eq(&key)) {
            return cbs.clone();
        }
        cache.retain(|(s, _)| s.strong_count() > 0);
        let cbs = Rc::new(service.callbacks.clone());
        cache.push((key, cbs.clone()));
        cbs
    })
}

impl LoopCtx {
    /// Takes a connected socket in as a connection of its `place`'s service and starts
    /// it (with what its PROXY protocol header said, if it had one). The connection
    /// keeps the place until it is released; on an error (or a panic) before that, the
    /// place is dropped, which gives the count back and counts the close; the error is
    /// returned (the socket is closed).
    pub(crate) fn adopt(
        &mut self,
        mut stream: TcpStream,
        peer: SocketAddr,
        place: LivePlace<TcpConnection>,
        proxy: Option<Box<ProxyInfo>>,
    ) -> io::Result<ConnId> {
        let service = &place.service().clone();
        if service.options.tcp_nodelay {
            if let Err(e) = stream.set_nodelay(true) {
                log::debug!("{}: TCP_NODELAY on {peer}: {e}", service.name);
            }
        }
        let layer = match &service.layer {
            Some(factory) => Some(factory.new_layer(peer)?),
            None => None,
        };
        let slot = self.next_slot();
        self.registry.register(
            &mut stream,
            Token(slot.index as usize),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let id = ConnId {
            loop_index: self.index() as u32,
            slot,
        };
        let mut conn = Box::new(TcpConnection::new(
            id,
            stream,
            peer,
            callbacks_of(service),
            layer,
            self.local.clone(),
            place,
        ));
        conn.proxy = proxy;
        // Started before it is in the slab: nothing it does at start needs the loop,
        // and a connection that fails at once is released below like any other.
        conn.start();
        conn.settle();
        let inserted = self.insert_connection(conn);
        debug_assert_eq!(inserted, slot);
        self.after_conn(slot);
        Ok(id)
    }
}
