//! `Resolver`: host names to addresses without blocking a loop.
//!
//! Order: an IP literal at once; the hosts file; the TTL cache; else a lookup on the
//! resolver's loop (`task.rs`: UDP, TCP on truncation, search list, nameservers in
//! turn, each query bounded by the timeout). The callback always runs on that loop.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::cache::Cache;
use super::conf::ResolverConfig;
use super::error::ResolveError;
use super::message;
use super::shared::{Callback, ResolverInner};
use super::task::LookupTask;
use crate::reactor::loop_ctx::LoopCtx;
use crate::reactor::loop_handle::LoopHandle;

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
    inner: Arc<ResolverInner>,
}

impl Resolver {
    /// A resolver whose lookups run on the loop `lp`.
    pub fn new(lp: &LoopHandle, config: ResolverConfig) -> Resolver {
        Resolver {
            inner: Arc::new(ResolverInner {
                config,
                cache: Mutex::new(Cache::default()),
                lp: lp.clone(),
            }),
        }
    }

    /// The loop the lookups run on.
    pub fn loop_handle(&self) -> &LoopHandle {
        &self.inner.lp
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
        let done = match self.answer_now(host) {
            Some(result) => {
                let queued = self
                    .inner
                    .lp
                    .queue_in_loop(move |ctx| callback(ctx, result));
                if !queued {
                    log::warn!("resolver: the loop has ended; {host} not resolved");
                }
                return;
            }
            None => callback,
        };
        let inner = self.inner.clone();
        let host = host.to_string();
        let queued = self
            .inner
            .lp
            .queue_in_loop(move |ctx| LookupTask::spawn(ctx, inner, host, done));
        if !queued {
            log::warn!("resolver: the loop has ended");
        }
    }

    /// The answer without asking a nameserver, when there is one: an IP literal, the
    /// hosts file, the cache, or an invalid name.
    fn answer_now(&self, host: &str) -> Option<Result<Vec<IpAddr>, ResolveError>> {
        let literal = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = literal.parse::<IpAddr>() {
            return Some(Ok(vec![ip]));
        }
        if let Some(addrs) = self.inner.config.hosts.get(host) {
            let mut addrs = addrs.to_vec();
            addrs.sort_by_key(|a| !a.is_ipv6());
            return Some(Ok(addrs));
        }
        if let Err(reason) = message::fqdn(host) {
            return Some(Err(ResolveError::InvalidName {
                name: host.to_string(),
                reason,
            }));
        }
        if self.inner.config.nameservers.is_empty() {
            return Some(Err(ResolveError::NoNameserver {
                name: host.to_string(),
            }));
        }
        self.inner.cache.lock().get(host, Instant::now()).map(Ok)
    }
}
