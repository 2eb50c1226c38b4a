//! `LookupTask`: one lookup on the loop — the [`Machine`]'s decisions carried out with
//! one [`Exchange`] at a time, each bounded by the configured timeout (a loop timer
//! that pokes the task; a poke before the deadline is ignored).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::{Registry, Token};

use super::exchange::Exchange;
use super::machine::{Machine, Outcome, Step};
use super::shared::{Callback, ResolverInner};
use crate::reactor::deadline::deadline_after;
use crate::reactor::loop_ctx::{IoHandler, LoopCtx};
use crate::reactor::slab::SlotId;

pub(crate) struct LookupTask {
    host: String,
    names: Vec<String>,
    servers: Vec<SocketAddr>,
    timeout: Duration,
    machine: Machine,
    exchange: Option<Exchange>,
    deadline: Instant,
    callback: Option<Callback>,
    inner: Arc<ResolverInner>,
}

fn token(id: SlotId) -> Token {
    Token(id.index as usize)
}

impl LookupTask {
    /// Starts a lookup of `host` on the loop `ctx`; returns its slot (removing the
    /// handler cancels the lookup: its callback is dropped unrun). The first question
    /// goes out on the loop's next turn, never inside this call, so the callback never
    /// runs inside its starter (which may hold a lock the callback takes).
    pub(crate) fn spawn(
        ctx: &mut LoopCtx,
        inner: Arc<ResolverInner>,
        host: String,
        callback: Callback,
    ) -> std::io::Result<SlotId> {
        let cfg = &inner.config;
        let names = cfg.candidates(&host);
        let machine = Machine::new(&host, names.len(), cfg.nameservers.len(), cfg.attempts);
        let task = LookupTask {
            host,
            names,
            servers: cfg.nameservers.clone(),
            timeout: cfg.timeout,
            machine,
            exchange: None,
            deadline: Instant::now(),
            callback: Some(callback),
            inner,
        };
        let id = ctx.add_handler(|_, _| Ok(Box::new(task)))?;
        // The first poke asks the first question (a no-op if the lookup was removed).
        ctx.run_at(Instant::now(), move |ctx| ctx.run_handler(id, None));
        Ok(id)
    }

    fn step(&mut self, ctx: &mut LoopCtx, id: SlotId, step: Step) {
        let mut step = step;
        loop {
            if let Some(mut old) = self.exchange.take() {
                old.deregister(&ctx.registry);
            }
            match step {
                Step::Ask { name, server } => {
                    let (n, s) = (&self.names[name], self.servers[server]);
                    match Exchange::start(n, s, &ctx.registry, token(id)) {
                        Ok(ex) => {
                            self.exchange = Some(ex);
                            self.deadline = deadline_after(Instant::now(), self.timeout);
                            ctx.run_at(self.deadline, move |ctx| ctx.run_handler(id, None));
                            return;
                        }
                        Err(e) => step = self.machine.next(Outcome::Io(format!("{s}: {e}"))),
                    }
                }
                Step::Done(result) => {
                    let result = result.map(|(mut addrs, ttl)| {
                        // IPv6 first, in the order the server gave (RFC 8305 sorts later).
                        addrs.sort_by_key(|a| !a.is_ipv6());
                        addrs.dedup();
                        let ttl = Duration::from_secs(ttl.into());
                        self.inner
                            .cache
                            .lock()
                            .put(&self.host, addrs.clone(), ttl, Instant::now());
                        addrs
                    });
                    if let Err(e) = &result {
                        log::debug!("resolver: {e}");
                    }
                    if let Some(cb) = self.callback.take() {
                        cb(ctx, result);
                    }
                    ctx.remove_handler(id);
                    return;
                }
            }
        }
    }
}

impl IoHandler for LookupTask {
    fn ready(&mut self, ctx: &mut LoopCtx, id: SlotId, event: Option<&Event>) {
        if self.callback.is_none() {
            return;
        }
        let outcome = match (&mut self.exchange, event) {
            (None, _) => return self.step(ctx, id, self.machine.start()),
            (Some(ex), Some(ev)) => ex.ready(ev, &ctx.registry, token(id)),
            (Some(ex), None) if Instant::now() >= self.deadline => Some(ex.timed_out()),
            (Some(_), None) => None,
        };
        if let Some(o) = outcome {
            let step = self.machine.next(o);
            self.step(ctx, id, step);
        }
    }

    fn deregister(&mut self, registry: &Registry) {
        if let Some(ex) = &mut self.exchange {
            ex.deregister(registry);
        }
    }
}
