//! The hosts file (`/etc/hosts`): `address name [aliases...]`, `#` comments. Names
//! compare without case and without a trailing dot.

use std::collections::HashMap;
use std::net::IpAddr;

/// Addresses by lower-case name, in file order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hosts {
    names: HashMap<String, Vec<IpAddr>>,
}

impl Hosts {
    pub(crate) fn parse(text: &str) -> Hosts {
        let mut names: HashMap<String, Vec<IpAddr>> = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let Some(Ok(ip)) = fields
                .next()
                .map(|a| a.split('%').next().unwrap_or(a).parse::<IpAddr>())
            else {
                continue;
            };
            for name in fields {
                let list = names.entry(key(name)).or_default();
                if !list.contains(&ip) {
                    list.push(ip);
                }
            }
        }
        Hosts { names }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&[IpAddr]> {
        self.names.get(&key(name)).map(Vec::as_slice)
    }
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_aliases_comments_and_both_families() {
        let h = Hosts::parse(
            "127.0.0.1 localhost\n::1 localhost ip6-localhost # v6\n# 10.0.0.1 hidden\n\
             192.0.2.7\tBox.Example box\nnot-an-ip name\nfe80::1%eth0 link\n",
        );
        let ips = |n| {
            h.get(n)
                .map(|a: &[IpAddr]| a.iter().map(|i| i.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(ips("localhost").unwrap(), ["127.0.0.1", "::1"]);
        assert_eq!(ips("box.example.").unwrap(), ["192.0.2.7"]);
        assert_eq!(ips("BOX").unwrap(), ["192.0.2.7"]);
        assert_eq!(ips("link").unwrap(), ["fe80::1"]);
        assert!(ips("hidden").is_none() && ips("name").is_none());
    }
}
