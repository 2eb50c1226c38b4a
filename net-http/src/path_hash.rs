//! The hasher of the router's path table: FNV-1a, a few instructions per byte instead
//! of SipHash's setup and rounds (which were a tenth of a small request's routing).
//!
//! SipHash's keyed randomness defends a table whose keys an attacker chooses (HashDoS:
//! many inserted keys that collide). The router's keys are the application's own routes,
//! fixed once the router is built; a request only looks one path up, which costs one
//! hash and one probe whatever its bytes.

use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a (64-bit).
pub(crate) struct PathHasher(u64);

impl Default for PathHasher {
    fn default() -> Self {
        PathHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for PathHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// What the router's `HashMap` is built with.
pub(crate) type BuildPathHasher = BuildHasherDefault<PathHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn fnv1a_reference_values() {
        let hash = |s: &[u8]| {
            let mut h = PathHasher::default();
            h.write(s);
            h.finish()
        };
        // From the FNV reference test vectors.
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn a_map_finds_what_it_holds() {
        let mut m: HashMap<String, u32, BuildPathHasher> = HashMap::default();
        for (i, p) in ["/", "/a", "/ab", "/metrics", "/ws"].iter().enumerate() {
            m.insert(p.to_string(), i as u32);
        }
        assert_eq!(m.get("/metrics"), Some(&3));
        assert_eq!(m.get("/"), Some(&0));
        assert_eq!(m.get("/nope"), None);
    }
}
