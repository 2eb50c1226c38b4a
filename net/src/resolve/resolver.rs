//! `Resolver`: host names to addresses without blocking a loop.
//!
//! Order: an IP literal at once; the hosts file; the TTL cache; else a lookup on the
//! resolver's loop (`task.rs`: UDP, TCP on truncation, search list, nameservers in
//! turn, each query bounded by the timeout). The callback always runs on that loop.

use super::conf::ResolverConfig;
use super::error::ResolveError;
use super::shared::{Callback, ResolverInner};
use super::task::LookupTask;
use crate::reactor::loop_ctx::LoopCtx;
use crate::reactor::loop_handle::LoopHandle;
use std::net::IpAddr;
use std::sync::Arc;

/// Resolves host names on a loop (`Clone + Send`; clones share the cache). See the
/// module docs and docs/udp.md.
///
/// ```no_run
/// # let lp = net::EventLoop::new("resolver")?;
/// let config = net::resolve::ResolverConfig::system()?;
/// let resolver = net::resolve::Resolver::new(&lp.handle(), config);
/// resolver.resolve("example.com", |_ctx, result| match result {
///     Ok(addrs) => println!("{addrs:?}"),
///     Err(e) => println!("{e}"),
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Resolver {
    pub(crate) inner: Arc<ResolverInner>,
    lp: LoopHandle,
}

impl Resolver {
    /// A resolver whose lookups run on the loop `lp`.
    pub fn new(lp: &LoopHandle, config: ResolverConfig) -> Resolver {
        Resolver {
            inner: Arc::new(ResolverInner::new(config)),
            lp: lp.clone(),
        }
    }

    /// The process's default resolver (`/etc/resolv.conf` and `/etc/hosts`, read once
    /// at the first use, one TTL cache), with its lookups on the loop `lp`. Every
    /// handle it returns shares that configuration and cache with the clients that do
    /// not name a resolver of their own.
    pub fn system_default(lp: &LoopHandle) -> Resolver {
        Resolver {
            inner: ResolverInner::system_default(),
            lp: lp.clone(),
        }
    }

    /// The loop the lookups run on.
    pub fn loop_handle(&self) -> &LoopHandle {
        &self.lp
    }

    /// The configuration in use.
    pub fn config(&self) -> &ResolverConfig {
        &self.inner.config
    }

    /// Resolves `host` and calls `callback` on the resolver's loop with its addresses
    /// (IPv6 first) or the error. Never blocks the calling thread or the loop.
    pub fn resolve<F>(&self, host: &str, callback: F)
    where
        F: FnOnce(&mut LoopCtx, Result<Vec<IpAddr>, ResolveError>) + Send + 'static,
    {
        let callback: Callback = Box::new(callback);
        let done = match self.inner.answer_now(host) {
            Some(result) => {
                let queued = self.lp.queue_in_loop(move |ctx| callback(ctx, result));
                if !queued {
                    log::warn!("resolver: the loop has ended; {host} not resolved");
                }
                return;
            }
            None => callback,
        };
        let inner = self.inner.clone();
        let host = host.to_string();
        let queued = self.lp.queue_in_loop(move |ctx| {
            if let Err(e) = LookupTask::spawn(ctx, inner, host, done) {
                log::error!("resolver: cannot add a lookup to the loop: {e}");
            }
        });
        if !queued {
            log::warn!("resolver: the loop has ended");
        }
    }
}
