//! `ResolverConfig`: nameservers, search list and options, from `/etc/resolv.conf`
//! (or any file a test names), and the hosts file.
//!
//! Read: `nameserver` (IPv4 or IPv6, port 53 unless [`ResolverConfig::port`] says
//! otherwise), `search` and `domain` (the last one wins, as in resolv.conf(5)), and
//! `options ndots:N timeout:N attempts:N`. Defaults as glibc's: no nameserver means
//! 127.0.0.1, ndots 1, timeout 5 s, attempts 2.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use super::hosts::Hosts;

/// How a [`crate::resolve::Resolver`] resolves. See the module docs.
#[derive(Debug, Clone)]
pub struct ResolverConfig {
    pub(crate) nameservers: Vec<SocketAddr>,
    pub(crate) search: Vec<String>,
    pub(crate) ndots: usize,
    pub(crate) timeout: Duration,
    pub(crate) attempts: u32,
    pub(crate) hosts: Hosts,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            nameservers: vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53)],
            search: Vec::new(),
            ndots: 1,
            timeout: Duration::from_secs(5),
            attempts: 2,
            hosts: Hosts::default(),
        }
    }
}

impl ResolverConfig {
    /// The system's: `/etc/resolv.conf` and `/etc/hosts` (a missing file counts as
    /// empty).
    pub fn system() -> io::Result<ResolverConfig> {
        Self::from_files("/etc/resolv.conf", "/etc/hosts")
    }

    /// From the given resolv.conf and hosts files (a missing file counts as empty).
    pub fn from_files(resolv_conf: impl AsRef<Path>, hosts: impl AsRef<Path>) -> io::Result<Self> {
        let read = |p: &Path| match std::fs::read_to_string(p) {
            Ok(s) => Ok(s),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(io::Error::new(e.kind(), format!("{}: {e}", p.display()))),
        };
        let mut c = Self::parse(&read(resolv_conf.as_ref())?);
        c.hosts = Hosts::parse(&read(hosts.as_ref())?);
        Ok(c)
    }

    /// From resolv.conf text (no hosts file).
    pub fn parse(resolv_conf: &str) -> ResolverConfig {
        let mut c = ResolverConfig {
            nameservers: Vec::new(),
            ..Default::default()
        };
        for line in resolv_conf.lines() {
            let line = line.split(['#', ';']).next().unwrap_or("");
            let mut f = line.split_whitespace();
            match f.next() {
                Some("nameserver") => {
                    let ip = f
                        .next()
                        .and_then(|a| a.split('%').next())
                        .and_then(|a| a.parse::<IpAddr>().ok());
                    if let Some(ip) = ip {
                        c.nameservers.push(SocketAddr::new(ip, 53));
                    }
                }
                Some("search") | Some("domain") => {
                    c.search = f
                        .map(|d| d.trim_end_matches('.').to_string())
                        .filter(|d| !d.is_empty())
                        .collect();
                }
                Some("options") => {
                    for opt in f {
                        let (k, v) = opt.split_once(':').unwrap_or((opt, ""));
                        let n = v.parse::<u64>().ok();
                        match (k, n) {
                            ("ndots", Some(n)) => c.ndots = n.min(15) as usize,
                            ("timeout", Some(n)) => c.timeout = Duration::from_secs(n.clamp(1, 30)),
                            ("attempts", Some(n)) => c.attempts = n.clamp(1, 5) as u32,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if c.nameservers.is_empty() {
            c.nameservers = ResolverConfig::default().nameservers;
        }
        c
    }

    /// Sends every query to this port instead of 53 (a test's nameservers).
    pub fn port(mut self, port: u16) -> Self {
        for ns in &mut self.nameservers {
            ns.set_port(port);
        }
        self
    }

    /// The nameservers, in the order they are tried.
    pub fn nameservers(&self) -> &[SocketAddr] {
        &self.nameservers
    }

    /// The search list.
    pub fn search(&self) -> &[String] {
        &self.search
    }

    /// Dots a name needs to be tried as given before the search list.
    pub fn ndots(&self) -> usize {
        self.ndots
    }

    /// How long each query waits for its answer.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Rounds over the nameservers before giving up.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Sets how long each query waits.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The names to ask for `host`, in order (resolv.conf(5)): as given first when it
    /// has at least `ndots` dots (or ends with a dot, then only as given), then with
    /// each search domain, then as given if not tried yet.
    pub(crate) fn candidates(&self, host: &str) -> Vec<String> {
        if let Some(absolute) = host.strip_suffix('.') {
            return vec![absolute.to_string()];
        }
        let mut out = Vec::new();
        let as_given_first = host.matches('.').count() >= self.ndots;
        if as_given_first {
            out.push(host.to_string());
        }
        for domain in &self.search {
            out.push(format!("{host}.{domain}"));
        }
        if !as_given_first {
            out.push(host.to_string());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nameservers_search_and_options() {
        let c = ResolverConfig::parse(
            "# comment\nnameserver 127.0.0.2\nnameserver ::1\nnameserver bogus\n\
             domain old.example\nsearch corp.example. example.org\n\
             options ndots:2 timeout:1 attempts:3 rotate\n",
        );
        assert_eq!(
            c.nameservers,
            ["127.0.0.2:53".parse().unwrap(), "[::1]:53".parse().unwrap()]
        );
        assert_eq!(c.search, ["corp.example", "example.org"]);
        assert_eq!(
            (c.ndots, c.timeout, c.attempts),
            (2, Duration::from_secs(1), 3)
        );
        assert_eq!(c.port(5353).nameservers[1], "[::1]:5353".parse().unwrap());
    }

    #[test]
    fn defaults_when_empty() {
        let c = ResolverConfig::parse("");
        assert_eq!(c.nameservers, ["127.0.0.1:53".parse().unwrap()]);
        assert_eq!(
            (c.ndots, c.timeout, c.attempts),
            (1, Duration::from_secs(5), 2)
        );
    }

    #[test]
    fn candidates_follow_ndots() {
        let c = ResolverConfig::parse("search a.test b.test\noptions ndots:1");
        assert_eq!(c.candidates("www"), ["www.a.test", "www.b.test", "www"]);
        assert_eq!(
            c.candidates("www.x"),
            ["www.x", "www.x.a.test", "www.x.b.test"]
        );
        assert_eq!(c.candidates("www.x."), ["www.x"]);
    }
}
