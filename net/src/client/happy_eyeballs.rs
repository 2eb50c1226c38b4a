//! Happy Eyeballs v2 (RFC 8305): one connect attempt over every address of a host,
//! as one handler on the client's loop.
//!
//! The addresses are interleaved by family, IPv6 first (§4); the first attempt starts
//! at once, each next one when the previous failed or after the connection attempt
//! delay (250 ms, §5), whichever comes first; attempts in flight go on meanwhile. The
//! first to connect wins; the others are closed. All sockets share the handler's token
//! (a handful at most), so one removal of the handler cancels them all. When every
//! address failed, the completion gets the last error, naming how many were tried.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::client::connector::{Completion, Connector};
use crate::reactor::deadline::deadline_after;
use crate::reactor::loop_ctx::{IoHandler, LoopCtx};
use crate::reactor::slab::SlotId;

/// RFC 8305's recommended connection attempt delay.
pub(crate) const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

pub(crate) struct HappyEyeballs {
    queue: VecDeque<SocketAddr>,
    attempts: Vec<(SocketAddr, TcpStream)>,
    delay: Duration,
    next_at: Instant,
    token: Token,
    total: usize,
    last_error: Option<io::Error>,
    done: Option<Completion>,
}

/// IPv6 and IPv4 alternately, IPv6 first, each family in its given order.
pub(crate) fn interleave(addrs: &[SocketAddr]) -> VecDeque<SocketAddr> {
    let (mut v6, mut v4): (VecDeque<SocketAddr>, VecDeque<SocketAddr>) =
        addrs.iter().copied().partition(|a| a.is_ipv6());
    let mut out = VecDeque::with_capacity(addrs.len());
    while !v6.is_empty() || !v4.is_empty() {
        out.extend(v6.pop_front());
        out.extend(v4.pop_front());
    }
    out
}

impl HappyEyeballs {
    /// Starts connecting to `addrs`; `done` gets the winner or the last error.
    pub(crate) fn start(
        ctx: &mut LoopCtx,
        addrs: &[SocketAddr],
        delay: Duration,
        done: Completion,
    ) -> io::Result<SlotId> {
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no address to connect to",
            ));
        }
        let he = HappyEyeballs {
            queue: interleave(addrs),
            attempts: Vec::new(),
            delay,
            next_at: Instant::now(),
            token: Token(0),
            total: addrs.len(),
            last_error: None,
            done: Some(done),
        };
        let id = ctx.add_handler(move |_, token| {
            let mut he = he;
            he.token = token;
            Ok(Box::new(he) as Box<dyn IoHandler>)
        })?;
        // The first poke launches the first attempt.
        ctx.run_handler(id, None);
        Ok(id)
    }

    /// Starts the next address that can be started; returns whether one is in flight.
    fn launch(&mut self, ctx: &mut LoopCtx, id: SlotId) {
        while let Some(addr) = self.queue.pop_front() {
            match TcpStream::connect(addr) {
                Ok(mut stream) => {
                    match ctx
                        .registry
                        .register(&mut stream, self.token, Interest::WRITABLE)
                    {
                        Ok(()) => {
                            log::debug!("happy eyeballs: connecting to {addr}");
                            self.attempts.push((addr, stream));
                            self.next_at = deadline_after(Instant::now(), self.delay);
                            if !self.queue.is_empty() {
                                ctx.run_at(self.next_at, move |ctx| ctx.run_handler(id, None));
                            }
                            return;
                        }
                        Err(e) => self.last_error = Some(e),
                    }
                }
                Err(e) => self.last_error = Some(annotate(addr, e)),
            }
        }
    }

    fn finish(
        &mut self,
        ctx: &mut LoopCtx,
        id: SlotId,
        outcome: io::Result<(TcpStream, SocketAddr)>,
    ) {
        for (_, mut s) in self.attempts.drain(..) {
            if let Err(e) = ctx.registry.deregister(&mut s) {
                log::debug!("happy eyeballs: deregister: {e}");
            }
        }
        ctx.remove_handler(id);
        if let Some(done) = self.done.take() {
            done(ctx, id, outcome);
        }
    }
}

fn annotate(addr: SocketAddr, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{addr}: {e}"))
}

impl IoHandler for HappyEyeballs {
    fn ready(&mut self, ctx: &mut LoopCtx, id: SlotId, event: Option<&Event>) {
        if self.done.is_none() {
            return;
        }
        let mut failed = false;
        let mut i = 0;
        while i < self.attempts.len() {
            match Connector::outcome(&self.attempts[i].1) {
                None => i += 1,
                Some(Ok(peer)) => {
                    let (_, mut stream) = self.attempts.swap_remove(i);
                    if let Err(e) = ctx.registry.deregister(&mut stream) {
                        log::debug!("happy eyeballs: deregister: {e}");
                    }
                    return self.finish(ctx, id, Ok((stream, peer)));
                }
                Some(Err(e)) => {
                    let (addr, mut stream) = self.attempts.swap_remove(i);
                    let _ = ctx.registry.deregister(&mut stream);
                    log::debug!("happy eyeballs: {addr} failed: {e}");
                    self.last_error = Some(annotate(addr, e));
                    failed = true;
                }
            }
        }
        let delay_passed = event.is_none() && Instant::now() >= self.next_at;
        if failed || delay_passed || self.attempts.is_empty() {
            self.launch(ctx, id);
        }
        if self.attempts.is_empty() && self.queue.is_empty() {
            let last = self
                .last_error
                .take()
                .unwrap_or_else(|| io::Error::other("no attempt could start"));
            let e = io::Error::new(
                last.kind(),
                format!("all {} address(es) failed; the last: {last}", self.total),
            );
            self.finish(ctx, id, Err(e));
        }
    }

    fn deregister(&mut self, registry: &Registry) {
        for (_, s) in &mut self.attempts {
            if let Err(e) = registry.deregister(s) {
                log::debug!("happy eyeballs: deregister: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaves_ipv6_first() {
        let a: Vec<SocketAddr> = ["1.1.1.1:1", "2.2.2.2:1", "[::1]:1", "3.3.3.3:1", "[::2]:1"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let got: Vec<String> = interleave(&a).iter().map(|s| s.to_string()).collect();
        assert_eq!(
            got,
            ["[::1]:1", "1.1.1.1:1", "[::2]:1", "2.2.2.2:1", "3.3.3.3:1"]
        );
    }
}
