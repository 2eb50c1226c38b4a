//! Answers kept for their TTL (the smallest TTL of the records that made the answer:
//! a CNAME chain expires with its shortest link), by lower-case host name.

use crate::reactor::deadline::deadline_after;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Entries at most; past it the expired ones go, then the cache is cleared.
const MAX_ENTRIES: usize = 4096;

#[derive(Default)]
pub(crate) struct Cache {
    entries: HashMap<String, (Vec<IpAddr>, Instant)>,
}

impl Cache {
    pub(crate) fn get(&mut self, host: &str, now: Instant) -> Option<Vec<IpAddr>> {
        let key = host.to_ascii_lowercase();
        match self.entries.get(&key) {
            Some((addrs, until)) if *until > now => Some(addrs.clone()),
            Some(_) => {
                self.entries.remove(&key);
                None
            }
            None => None,
        }
    }

    pub(crate) fn put(&mut self, host: &str, addrs: Vec<IpAddr>, ttl: Duration, now: Instant) {
        if ttl.is_zero() {
            return;
        }
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.retain(|_, (_, until)| *until > now);
            if self.entries.len() >= MAX_ENTRIES {
                self.entries.clear();
            }
        }
        self.entries
            .insert(host.to_ascii_lowercase(), (addrs, deadline_after(now, ttl)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_after_its_ttl() {
        let mut c = Cache::default();
        let t0 = Instant::now();
        let a = vec!["192.0.2.1".parse().unwrap()];
        c.put("Host", a.clone(), Duration::from_secs(2), t0);
        assert_eq!(c.get("host", t0 + Duration::from_secs(1)), Some(a));
        assert_eq!(c.get("host", t0 + Duration::from_secs(2)), None);
        c.put("zero", vec![], Duration::ZERO, t0);
        assert_eq!(c.get("zero", t0), None);
    }
}
