//! `Endpoint`: one loop's UDP socket, registered on that loop as an I/O handler.
//!
//! On a readable edge it receives with `recvmmsg` until the socket is empty or the
//! read budget is spent (then it yields to the loop's other work and continues in the
//! same iteration's task step), runs the callback on each datagram, and flushes the
//! replies with `sendmmsg`. Sends from other threads arrive through a bounded inbox
//! and a poke (one task per burst). Its life is a small machine ([`Phase`]): serving,
//! draining (after a stop: answer what is already queued on the socket, flush, within
//! the stop timeout), closed.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Receiver;
use mio::event::Event;
use mio::{Interest, Registry, Token};

use super::batch::RecvBatch;
use super::ctx::UdpCtx;
use super::errqueue;
use super::link::Link;
use super::outbox::{Flushed, OutDatagram, Outbox};
use super::shared::UdpShared;
use super::stats::DropCause;
use crate::reactor::deadline::deadline_after;
use crate::reactor::loop_ctx::{IoHandler, LoopCtx};
use crate::reactor::slab::SlotId;
use crate::util::panic_message;

/// An endpoint's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    /// Stopping: no more reads; what is queued leaves until the deadline.
    Draining {
        deadline: Instant,
    },
    Closed,
}

/// One loop's UDP socket. See the module docs.
pub(crate) struct Endpoint {
    socket: mio::net::UdpSocket,
    fd: RawFd,
    local: SocketAddr,
    recv: RecvBatch,
    out: Outbox,
    inbox: Receiver<OutDatagram>,
    shared: Arc<UdpShared>,
    link: Arc<Link>,
    budget: usize,
    phase: Phase,
    resume_read: bool,
}

/// How an endpoint is made (from the server's settings).
pub(crate) struct EndpointConfig {
    pub(crate) batch: usize,
    pub(crate) slot_size: usize,
    pub(crate) budget: usize,
    pub(crate) queue_limit: usize,
    pub(crate) gso: bool,
    pub(crate) gro: bool,
}

impl Endpoint {
    pub(crate) fn new(
        socket: std::net::UdpSocket,
        inbox: Receiver<OutDatagram>,
        shared: Arc<UdpShared>,
        link: Arc<Link>,
        cfg: &EndpointConfig,
    ) -> std::io::Result<Self> {
        let local = socket.local_addr()?;
        // A GRO batch can be 64 KiB; with smaller slots it would arrive truncated.
        let offload = super::bind::offload(&socket, cfg.gso, cfg.gro && cfg.slot_size >= 65_535);
        log::debug!(
            "{}: UDP socket on {local}: GSO {}, GRO {}",
            shared.name,
            offload.gso,
            offload.gro
        );
        let fd = socket.as_raw_fd();
        let out = Outbox::new(
            fd,
            local.is_ipv6(),
            cfg.queue_limit,
            offload.gso,
            shared.path.counters.clone(),
            link.index,
        );
        Ok(Endpoint {
            socket: mio::net::UdpSocket::from_std(socket),
            fd,
            local,
            recv: RecvBatch::new(cfg.batch, cfg.slot_size),
            out,
            inbox,
            shared,
            link,
            budget: cfg.budget.max(1),
            phase: Phase::Serving,
            resume_read: false,
        })
    }

    pub(crate) fn register(
        mut self,
        registry: &Registry,
        token: Token,
    ) -> std::io::Result<Box<Self>> {
        registry.register(
            &mut self.socket,
            token,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok(Box::new(self))
    }

    /// Receives until the socket is empty or the budget is spent.
    fn read(&mut self, ctx: &mut LoopCtx, id: SlotId) {
        let mut left = self.budget;
        while left > 0 {
            let want = left.min(self.recv.slots());
            let n = match self.recv.recv(self.fd, want) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if errqueue::is_icmp(&e) => {
                    // Reported once per batch of ICMP errors; the details wait on
                    // the error queue, counted there. Datagrams may follow.
                    self.count_icmp_errors();
                    left -= 1;
                    continue;
                }
                Err(e) => {
                    log::warn!("{}: UDP receive on {}: {e}", self.shared.name, self.local);
                    return;
                }
            };
            self.deliver(ctx, n);
            left = left.saturating_sub(n.max(1));
            if n < want {
                return;
            }
            // Replies leave between batches, so the outbox stays one batch deep.
            self.out.flush();
        }
        // Budget spent: let the loop's other sockets and tasks run, then continue.
        self.resume_read = true;
        ctx.handle()
            .queue_in_loop(move |ctx| ctx.run_handler(id, None));
    }

    /// Drains the socket's queued ICMP errors, counted as `unreachable`.
    fn count_icmp_errors(&mut self) {
        let n = errqueue::drain(self.fd);
        if n > 0 {
            self.shared
                .path
                .counters
                .dropped(self.link.index, DropCause::Unreachable, n);
            log::debug!("{}: {n} ICMP error(s) on {}", self.shared.name, self.local);
        }
    }

    /// Runs the callback on the `n` datagrams of the last receive.
    fn deliver(&mut self, ctx: &mut LoopCtx, n: usize) {
        let Endpoint {
            recv,
            out,
            shared,
            link,
            local,
            ..
        } = self;
        let lp = link.index;
        for i in 0..n {
            let r = recv.get(i);
            if r.truncated {
                shared.path.counters.dropped(lp, DropCause::Truncated, 1);
                continue;
            }
            let Some(peer) = r.peer else { continue };
            let at = SocketAddr::new(r.local_ip.unwrap_or(local.ip()), local.port());
            match r.segment {
                Some(seg) if seg < r.data.len() => {
                    shared.path.counters.gro(lp);
                    for d in r.data.chunks(seg) {
                        deliver_one(ctx, out, shared, lp, peer, at, d);
                    }
                }
                _ => deliver_one(ctx, out, shared, lp, peer, at, r.data),
            }
        }
    }

    /// Moves what other threads queued into the outbox.
    fn take_inbox(&mut self) {
        while let Ok(d) = self.inbox.try_recv() {
            self.out.push_owned(d);
        }
    }

    fn begin_drain(&mut self, ctx: &mut LoopCtx, id: SlotId) {
        let deadline = deadline_after(Instant::now(), self.shared.stop_timeout);
        self.phase = Phase::Draining { deadline };
        ctx.run_at(deadline, move |ctx| ctx.run_handler(id, None));
        // Answer what reached the socket before the stop (one budget's worth).
        self.read(ctx, id);
        self.resume_read = false;
    }

    fn close(&mut self, ctx: &mut LoopCtx, id: SlotId) {
        self.phase = Phase::Closed;
        let late = self.inbox.try_iter().count();
        self.shared
            .path
            .counters
            .dropped(self.link.index, DropCause::Stopped, late);
        self.out.discard(DropCause::Stopped);
        ctx.remove_handler(id);
        self.shared.endpoint_closed();
    }
}

fn deliver_one(
    ctx: &mut LoopCtx,
    out: &mut Outbox,
    shared: &Arc<UdpShared>,
    lp: usize,
    peer: SocketAddr,
    local: SocketAddr,
    data: &[u8],
) {
    shared.path.counters.received(lp, data.len());
    let mut u = UdpCtx {
        loop_ctx: ctx,
        out,
        path: &shared.path,
        peer,
        local,
    };
    let cb = &shared.on_datagram;
    if let Err(p) = catch_unwind(AssertUnwindSafe(|| cb(&mut u, data, peer, local))) {
        shared.path.counters.dropped(lp, DropCause::Panicked, 1);
        log::error!(
            "{}: on_datagram panicked on a datagram from {peer}: {}",
            shared.name,
            panic_message(&*p)
        );
    }
}

impl IoHandler for Endpoint {
    fn ready(&mut self, ctx: &mut LoopCtx, id: SlotId, event: Option<&Event>) {
        let read = match event {
            Some(e) => {
                if e.is_writable() {
                    self.out.writable();
                }
                if e.is_error() {
                    self.count_icmp_errors();
                }
                e.is_readable() || e.is_error()
            }
            None => {
                self.link.poked.swap(false, Ordering::AcqRel);
                std::mem::take(&mut self.resume_read)
            }
        };
        match self.phase {
            Phase::Closed => return,
            Phase::Serving if self.shared.path.is_stopping() => self.begin_drain(ctx, id),
            Phase::Serving if read => self.read(ctx, id),
            _ => {}
        }
        self.take_inbox();
        let flushed = self.out.flush();
        if let Phase::Draining { deadline } = self.phase {
            if flushed == Flushed::Empty || Instant::now() >= deadline {
                self.close(ctx, id);
            }
        }
    }

    fn deregister(&mut self, registry: &Registry) {
        if let Err(e) = registry.deregister(&mut self.socket) {
            log::debug!("{}: deregister UDP socket: {e}", self.shared.name);
        }
    }
}
