//! Name resolution that never blocks a loop: `/etc/hosts`, `/etc/resolv.conf`
//! (nameservers, search, ndots, timeout, attempts), A and AAAA over UDP with TCP when
//! an answer is truncated, a TTL cache, and errors that name what failed. DNS
//! messages are made and read by `hickory-proto`.
//!
//! Files: `conf.rs` (configuration), `hosts.rs`, `cache.rs`, `message.rs` (DNS
//! messages), `machine.rs` (which name and server next, and when to give up),
//! `exchange.rs` (one name at one server: UDP, then TCP), `task.rs` (a lookup on the
//! loop), `resolver.rs` (the handle), `blocking.rs` (waiting
//! for an answer off the loop), `shared.rs` (what the
//! handle and the lookups share), `error.rs`. See docs/udp.md.

pub(crate) mod blocking;
mod cache;
mod conf;
mod error;
mod exchange;
mod hosts;
mod machine;
mod message;
pub(crate) mod resolver;
pub(crate) mod shared;
pub(crate) mod task;

pub use conf::ResolverConfig;
pub use error::ResolveError;
pub use resolver::Resolver;
