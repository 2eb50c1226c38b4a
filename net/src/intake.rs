//! Intake: one path by which a connected socket becomes a connection on a loop,
//! whether a server accepted it or a client's connect completed.
//!
//! The socket gets its options (TCP_NODELAY), a layer from the service's factory (TLS),
//! a slot and a registration on the loop's poller; then the connection starts (its
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

use crate::callbacks::Callbacks;
use crate::connection::{ConnId, ConnService, TcpConnection};
use crate::LoopCtx;

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
    /// Takes a connected socket in as a connection of `service` and starts it. The
    /// caller has counted it in the service (`Service::opened`); on an error it is
    /// uncounted here and the error returned (the socket is closed).
    pub(crate) fn adopt(
        &mut self,
        stream: TcpStream,
        peer: SocketAddr,
        service: Arc<ConnService>,
    ) -> io::Result<ConnId> {
        let adopted = self.adopt_counted(stream, peer, &service);
        if adopted.is_err() {
            service.closed();
        }
        adopted
    }

    fn adopt_counted(
        &mut self,
        mut stream: TcpStream,
        peer: SocketAddr,
        service: &Arc<ConnService>,
    ) -> io::Result<ConnId> {
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
            service.clone(),
            callbacks_of(service),
            layer,
            self.local.clone(),
        ));
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
