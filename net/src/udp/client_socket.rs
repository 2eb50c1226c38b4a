//! The loop side of a UDP client: a connected socket registered as an I/O handler.
//!
//! Requests arrive through the link's queue and leave with `send`; each waits in
//! order for a reply, bounded by its own timeout (a timer on the loop). The next
//! datagram completes the oldest request still waiting; a datagram with no request
//! waiting (a late reply) is counted and dropped. An ICMP error on the connected
//! socket (`ECONNREFUSED`: nobody listens) fails the oldest waiting request.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Receiver;
use mio::event::Event;
use mio::{Interest, Registry, Token};

use super::client_link::{ClientLink, ReplyCallback, Request};
use super::outbox::classify;
use super::stats::DropCause;
use crate::reactor::deadline::deadline_after;
use crate::reactor::loop_ctx::{IoHandler, LoopCtx};
use crate::reactor::slab::SlotId;

/// The largest UDP payload, so a reply is never truncated.
const RECV_SIZE: usize = 65_536;

/// A client socket's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    Closed,
}

struct Waiting {
    deadline: Instant,
    reply: ReplyCallback,
}

pub(crate) struct ClientSocket {
    socket: mio::net::UdpSocket,
    link: Arc<ClientLink>,
    requests: Receiver<Request>,
    waiting: VecDeque<Waiting>,
    buf: Box<[u8]>,
    phase: Phase,
}

impl ClientSocket {
    pub(crate) fn new(
        socket: std::net::UdpSocket,
        link: Arc<ClientLink>,
        requests: Receiver<Request>,
    ) -> Self {
        ClientSocket {
            socket: mio::net::UdpSocket::from_std(socket),
            link,
            requests,
            waiting: VecDeque::new(),
            buf: vec![0u8; RECV_SIZE].into_boxed_slice(),
            phase: Phase::Open,
        }
    }

    pub(crate) fn register(mut self, registry: &Registry, token: Token) -> io::Result<Box<Self>> {
        registry.register(&mut self.socket, token, Interest::READABLE)?;
        Ok(Box::new(self))
    }

    fn send_requests(&mut self, ctx: &mut LoopCtx, id: SlotId) {
        while let Ok(r) = self.requests.try_recv() {
            match self.socket.send(&r.data) {
                Ok(n) => {
                    self.link.counters.sent(0, 1, n, false);
                    let deadline = deadline_after(Instant::now(), r.timeout);
                    ctx.run_at(deadline, move |ctx| ctx.run_handler(id, None));
                    self.waiting.push_back(Waiting {
                        deadline,
                        reply: r.reply,
                    });
                }
                Err(e) => {
                    self.link.counters.dropped(0, classify(&e), 1);
                    (r.reply)(ctx, Err(e));
                }
            }
        }
    }

    fn receive(&mut self, ctx: &mut LoopCtx) {
        loop {
            match self.socket.recv(&mut self.buf) {
                Ok(n) => {
                    self.link.counters.received(0, n);
                    match self.waiting.pop_front() {
                        Some(w) => (w.reply)(ctx, Ok(&self.buf[..n])),
                        None => self.link.counters.dropped(0, DropCause::Unexpected, 1),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // An ICMP error queued on the connected socket: it answers the
                    // oldest request still waiting.
                    self.link.counters.dropped(0, classify(&e), 1);
                    match self.waiting.pop_front() {
                        Some(w) => (w.reply)(ctx, Err(e)),
                        None => log::debug!("{}: {e}", self.link.name),
                    }
                }
            }
        }
    }

    fn expire(&mut self, ctx: &mut LoopCtx) {
        let now = Instant::now();
        let mut i = 0;
        while i < self.waiting.len() {
            if self.waiting[i].deadline <= now {
                if let Some(w) = self.waiting.remove(i) {
                    let e = io::Error::new(io::ErrorKind::TimedOut, "no UDP reply in time");
                    (w.reply)(ctx, Err(e));
                }
            } else {
                i += 1;
            }
        }
    }

    fn close(&mut self, ctx: &mut LoopCtx, id: SlotId) {
        self.phase = Phase::Closed;
        let gone = || io::Error::new(io::ErrorKind::ConnectionAborted, "UDP client closed");
        for w in self.waiting.drain(..) {
            (w.reply)(ctx, Err(gone()));
        }
        while let Ok(r) = self.requests.try_recv() {
            (r.reply)(ctx, Err(gone()));
        }
        ctx.remove_handler(id);
    }
}

impl IoHandler for ClientSocket {
    fn ready(&mut self, ctx: &mut LoopCtx, id: SlotId, event: Option<&Event>) {
        if self.phase == Phase::Closed {
            return;
        }
        if event.is_none() {
            self.link.poked.swap(false, Ordering::AcqRel);
        }
        if self.link.closing.load(Ordering::Acquire) {
            return self.close(ctx, id);
        }
        self.send_requests(ctx, id);
        self.receive(ctx);
        self.expire(ctx);
    }

    fn deregister(&mut self, registry: &Registry) {
        if let Err(e) = registry.deregister(&mut self.socket) {
            log::debug!("{}: deregister UDP client socket: {e}", self.link.name);
        }
    }
}
