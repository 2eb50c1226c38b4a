//! What a resolver's handles and its lookups on the loop share: the configuration and
//! the cache (not the loop: a client runs its lookups on its own loop), and the
//! process's default resolver, which clients use unless told otherwise.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use parking_lot::Mutex;

use super::cache::Cache;
use super::conf::ResolverConfig;
use super::error::ResolveError;
use super::message;
use crate::reactor::loop_ctx::LoopCtx;

/// What a lookup's callback gets: the addresses (IPv6 first) or why there are none.
pub(crate) type Callback = Box<dyn FnOnce(&mut LoopCtx, Result<Vec<IpAddr>, ResolveError>) + Send>;

pub(crate) struct ResolverInner {
    pub(crate) config: ResolverConfig,
    pub(crate) cache: Mutex<Cache>,
}

impl ResolverInner {
    pub(crate) fn new(config: ResolverConfig) -> Self {
        ResolverInner {
            config,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// The process's default: `/etc/resolv.conf` and `/etc/hosts`, read once, at the
    /// first use (one cache for every client that does not name its own resolver).
    /// Files that cannot be read are logged once and glibc's defaults used (nameserver
    /// 127.0.0.1, no hosts): a lookup then fails with a reason rather than the client
    /// failing to build.
    pub(crate) fn system_default() -> Arc<ResolverInner> {
        static DEFAULT: OnceLock<Arc<ResolverInner>> = OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                let config = ResolverConfig::system().unwrap_or_else(|e| {
                    log::warn!("resolver: {e}; using the defaults (nameserver 127.0.0.1)");
                    ResolverConfig::default()
                });
                Arc::new(ResolverInner::new(config))
            })
            .clone()
    }

    /// The answer without asking a nameserver, when there is one: an IP literal, the
    /// hosts file, the cache, or an invalid name.
    pub(crate) fn answer_now(&self, host: &str) -> Option<Result<Vec<IpAddr>, ResolveError>> {
        let literal = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = literal.parse::<IpAddr>() {
            return Some(Ok(vec![ip]));
        }
        if let Some(addrs) = self.config.hosts.get(host) {
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
        if self.config.nameservers.is_empty() {
            return Some(Err(ResolveError::NoNameserver {
                name: host.to_string(),
            }));
        }
        self.cache.lock().get(host, Instant::now()).map(Ok)
    }
}
