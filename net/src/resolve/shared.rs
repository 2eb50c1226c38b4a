//! What a resolver's handles and its lookups on the loop share: the configuration,
//! the cache, the loop.

use std::net::IpAddr;

use parking_lot::Mutex;

use super::cache::Cache;
use super::conf::ResolverConfig;
use super::error::ResolveError;
use crate::reactor::loop_ctx::LoopCtx;
use crate::reactor::loop_handle::LoopHandle;

/// What a lookup's callback gets: the addresses (IPv6 first) or why there are none.
pub(crate) type Callback = Box<dyn FnOnce(&mut LoopCtx, Result<Vec<IpAddr>, ResolveError>) + Send>;

pub(crate) struct ResolverInner {
    pub(crate) config: ResolverConfig,
    pub(crate) cache: Mutex<Cache>,
    pub(crate) lp: LoopHandle,
}
