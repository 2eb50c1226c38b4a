//! `Acceptor`: the listening socket, on the main reactor.
//!
//! Ownership: registered as a handler on the server's base loop; owns the listener and
//! the round-robin cursor over the worker loops. It never reads, writes or does crypto
//! on a connection: it accepts until `WouldBlock` and hands each socket to the next
//! worker as a task over that worker's channel (one wake-up per burst).
//!
//! Out of descriptors (EMFILE/ENFILE): muduo's reserve-descriptor trick. A spare
//! descriptor on /dev/null is closed to make room, the pending connection is accepted
//! and closed at once (the client sees a close instead of hanging in the backlog),
//! and the spare is reopened. If even that fails, accepting pauses briefly and
//! retries by timer. One warning per burst; recovery needs nothing from the user.

use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};

use crate::loop_ctx::IoHandler;
use crate::service::Service;
use crate::slab::SlotId;
use crate::stats::{CloseCause, HandshakeFailure::Other};
use crate::{LoopCtx, LoopHandle};

/// How long accepting pauses when no descriptor can be freed.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

pub(crate) struct Acceptor {
    listener: TcpListener,
    service: Arc<Service>,
    loops: Vec<LoopHandle>,
    next: usize,
    max_connections: usize,
    reserve: Option<File>,
    fd_shortage_logged: bool,
    limit_logged: bool,
    paused: bool,
}

impl Acceptor {
    pub(crate) fn new(
        listener: TcpListener,
        service: Arc<Service>,
        loops: Vec<LoopHandle>,
        max_connections: usize,
    ) -> Self {
        Acceptor {
            listener,
            service,
            loops,
            next: 0,
            max_connections,
            reserve: File::open("/dev/null").ok(),
            fd_shortage_logged: false,
            limit_logged: false,
            paused: false,
        }
    }

    pub(crate) fn register(mut self, registry: &Registry, token: Token) -> io::Result<Box<Self>> {
        registry.register(&mut self.listener, token, Interest::READABLE)?;
        Ok(Box::new(self))
    }

    fn accept_all(&mut self, ctx: &mut LoopCtx, id: SlotId) {
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    self.fd_shortage_logged = false;
                    self.hand_off(stream, peer);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if is_transient(&e) => continue,
                Err(e) if is_fd_shortage(&e) => {
                    if !self.fd_shortage_logged {
                        self.fd_shortage_logged = true;
                        log::warn!(
                            "{}: out of file descriptors ({e}); refusing connections until some free up",
                            self.service.name
                        );
                    }
                    if !self.refuse_one() {
                        self.pause(ctx, id);
                        return;
                    }
                }
                Err(e) => {
                    log::error!("{}: accept failed: {e}; pausing", self.service.name);
                    self.pause(ctx, id);
                    return;
                }
            }
        }
    }

    /// Frees the spare descriptor, accepts and closes one pending connection, takes
    /// the spare back. Returns whether a connection was taken off the backlog.
    fn refuse_one(&mut self) -> bool {
        if self.reserve.take().is_none() {
            return false;
        }
        let refused = self.listener.accept().is_ok();
        self.reserve = File::open("/dev/null").ok();
        refused
    }

    fn pause(&mut self, ctx: &mut LoopCtx, id: SlotId) {
        if self.paused {
            return;
        }
        self.paused = true;
        ctx.run_after(ACCEPT_PAUSE, move |ctx| ctx.run_handler(id, None));
    }

    fn hand_off(&mut self, stream: TcpStream, peer: SocketAddr) {
        let loop_index = self.next as u32;
        if self.service.live() >= self.max_connections {
            self.service.stats.refused_at_limit(loop_index);
            if !self.limit_logged {
                self.limit_logged = true;
                log::warn!(
                    "{}: connection limit {} reached; closing new connections",
                    self.service.name,
                    self.max_connections
                );
            }
            return;
        }
        self.limit_logged = false;
        if self.service.options.tcp_nodelay {
            if let Err(e) = stream.set_nodelay(true) {
                log::debug!("{}: TCP_NODELAY on {peer}: {e}", self.service.name);
            }
        }
        let worker = &self.loops[self.next];
        self.next = (self.next + 1) % self.loops.len();
        let service = self.service.clone();
        service.opened();
        service.stats.accepted(loop_index);
        let queued = worker.queue_in_loop(move |ctx| {
            let layer = match service.layer.as_ref().map(|f| f.new_layer(peer)) {
                None => None,
                Some(Ok(layer)) => Some(layer),
                Some(Err(e)) => {
                    log::warn!("{}: {peer}: cannot set up the layer: {e}", service.name);
                    service
                        .stats
                        .failed_before_start(loop_index, Other, CloseCause::Error);
                    service.closed();
                    return;
                }
            };
            if let Err(e) = ctx.add_connection(stream, peer, service.clone(), layer) {
                log::warn!("{}: {peer}: cannot register: {e}", service.name);
                service
                    .stats
                    .failed_before_start(loop_index, Other, CloseCause::Error);
                service.closed();
            }
        });
        if !queued {
            (self.service.stats).failed_before_start(loop_index, Other, CloseCause::Forced);
            self.service.closed();
        }
    }
}

impl IoHandler for Acceptor {
    fn ready(&mut self, ctx: &mut LoopCtx, id: SlotId, _event: Option<&Event>) {
        self.paused = false;
        self.accept_all(ctx, id);
    }

    fn deregister(&mut self, registry: &Registry) {
        if let Err(e) = registry.deregister(&mut self.listener) {
            log::debug!("{}: deregister listener: {e}", self.service.name);
        }
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
    ) || e.raw_os_error() == Some(libc::EPROTO)
}

fn is_fd_shortage(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS) | Some(libc::ENOMEM)
    )
}
