//! `Acceptor`: one listening socket, registered on the loop that accepts from it.
//!
//! Two modes ([`Handoff`]): on the main reactor it accepts until `WouldBlock` and hands
//! each socket to the next worker, round-robin, as a task over that worker's channel
//! (one wake-up per burst; muduo's design). In the per-loop mode every worker owns an
//! acceptor on its own `SO_REUSEPORT` listener and takes each socket in itself: no
//! hand-off, no thread switch per connection; the kernel spreads the connections.
//!
//! Connection limit: beyond `max_connections` a new connection is accepted and closed
//! at once (the client sees an EOF or a reset instead of waiting in the backlog, and
//! the descriptor is freed at once, so there is no EMFILE spiral); it is counted in
//! `closes.limit` and logged at most once per second with the count since the last log.
//!
//! Out of descriptors (EMFILE/ENFILE): muduo's reserve-descriptor trick. A spare
//! descriptor on /dev/null is closed to make room, the pending connection is accepted
//! and closed at once, and the spare is reopened. If even that fails, accepting pauses
//! briefly and retries by timer. One warning per burst; recovery needs nothing from the
//! user.

use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};

use crate::reactor::loop_ctx::IoHandler;
use crate::reactor::loop_ctx::LoopCtx;
use crate::reactor::loop_handle::LoopHandle;
use crate::reactor::slab::SlotId;
use crate::server::intake::Intake;

/// How long accepting pauses when no descriptor can be freed.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// How often the "connection limit reached" warning may repeat.
const LIMIT_LOG_EVERY: Duration = Duration::from_secs(1);

/// Where an accepted socket goes.
pub(crate) enum Handoff {
    /// To the worker loops in turn (the main reactor's acceptor).
    RoundRobin { loops: Vec<LoopHandle>, next: usize },
    /// Into the loop that accepted it (the per-loop mode).
    Local,
}

pub(crate) struct Acceptor {
    listener: TcpListener,
    intake: Arc<Intake>,
    handoff: Handoff,
    max_connections: usize,
    reserve: Option<File>,
    fd_shortage_logged: bool,
    /// When the limit was last logged, and how many were refused since.
    limit_logged: Option<Instant>,
    refused_since_log: u64,
    paused: bool,
}

impl Acceptor {
    pub(crate) fn new(
        listener: TcpListener,
        intake: Arc<Intake>,
        handoff: Handoff,
        max_connections: usize,
    ) -> Self {
        Acceptor {
            listener,
            intake,
            handoff,
            max_connections,
            reserve: File::open("/dev/null").ok(),
            fd_shortage_logged: false,
            limit_logged: None,
            refused_since_log: 0,
            paused: false,
        }
    }

    pub(crate) fn register(mut self, registry: &Registry, token: Token) -> io::Result<Box<Self>> {
        registry.register(&mut self.listener, token, Interest::READABLE)?;
        Ok(Box::new(self))
    }

    fn name(&self) -> &str {
        &self.intake.service.name
    }

    fn accept_all(&mut self, ctx: &mut LoopCtx, id: SlotId) {
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    self.fd_shortage_logged = false;
                    self.hand_off(ctx, stream, peer);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if is_transient(&e) => continue,
                Err(e) if is_fd_shortage(&e) => {
                    if !self.fd_shortage_logged {
                        self.fd_shortage_logged = true;
                        log::warn!(
                            "{}: out of file descriptors ({e}); refusing connections until some free up",
                            self.name()
                        );
                    }
                    if !self.refuse_one() {
                        self.pause(ctx, id);
                        return;
                    }
                }
                Err(e) => {
                    log::error!("{}: accept failed: {e}; pausing", self.name());
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

    /// Over the limit: the socket is dropped (closed) here, counted and logged.
    fn refuse_at_limit(&mut self, loop_index: u32, peer: SocketAddr) {
        self.intake.service.stats.refused_at_limit(loop_index);
        self.refused_since_log += 1;
        let due = match self.limit_logged {
            None => true,
            Some(at) => at.elapsed() >= LIMIT_LOG_EVERY,
        };
        if due {
            log::warn!(
                "{}: connection limit {} reached; closed {} new connection(s), the last from {peer}",
                self.name(),
                self.max_connections,
                self.refused_since_log
            );
            self.limit_logged = Some(Instant::now());
            self.refused_since_log = 0;
        }
    }

    fn hand_off(&mut self, ctx: &mut LoopCtx, stream: TcpStream, peer: SocketAddr) {
        let loop_index = match &self.handoff {
            Handoff::RoundRobin { next, .. } => *next as u32,
            Handoff::Local => ctx.index() as u32,
        };
        let service = self.intake.service.clone();
        if service.live() >= self.max_connections {
            return self.refuse_at_limit(loop_index, peer);
        }
        service.stats.accepted(loop_index);
        // The place travels with the socket: a task dropped unrun (the loop ended) or
        // a panic on the way gives it back.
        let place = service.admit(loop_index);
        match &mut self.handoff {
            Handoff::Local => self.intake.take_in(ctx, stream, peer, place),
            Handoff::RoundRobin { loops, next } => {
                let worker = &loops[*next];
                *next = (*next + 1) % loops.len();
                let intake = self.intake.clone();
                worker.queue_in_loop(move |ctx| intake.take_in(ctx, stream, peer, place));
            }
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
            log::debug!("{}: deregister listener: {e}", self.name());
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
