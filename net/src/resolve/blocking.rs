//! Waiting for a lookup on a thread that is not the resolver's loop: for code that
//! needs the addresses before it goes on (a client's `connect()`, a command-line
//! tool). The wait is bounded by the most the lookup can take.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::resolver::Resolver;

/// Splits "host:port" and "[v6]:port".
pub(crate) fn split_host_port(target: &str) -> io::Result<(&str, u16)> {
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{target:?} is not host:port"),
        )
    };
    let (host, port) = target.rsplit_once(':').ok_or_else(bad)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port = port.parse().map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host, port))
}

impl Resolver {
    /// Resolves `host:port` (or `[v6]:port`) and waits for the answer on the calling
    /// thread, IPv6 addresses first. Refused (`WouldBlock`) on the resolver's own loop
    /// thread, where waiting would stop the very loop that has to answer.
    pub fn lookup_socket_addrs(&self, target: &str) -> io::Result<Vec<SocketAddr>> {
        let (host, port) = split_host_port(target)?;
        if self.loop_handle().is_in_loop_thread() {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "a blocking lookup on the resolver's own loop would never finish",
            ));
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.resolve(host, move |_, r| {
            let _ = tx.send(r);
        });
        let c = self.config();
        let tries = c.attempts() * c.nameservers().len().max(1) as u32;
        let names = c.search().len() as u32 + 1;
        let bound = c
            .timeout()
            .saturating_mul(tries.saturating_mul(names))
            .saturating_add(Duration::from_secs(1));
        let addrs: Vec<IpAddr> = match rx.recv_timeout(bound) {
            Ok(r) => r?,
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{host}: the resolver's loop did not answer within {bound:?}"),
                ))
            }
        };
        Ok(addrs
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_names_and_both_literal_forms() {
        assert_eq!(
            split_host_port("example.com:443").unwrap(),
            ("example.com", 443)
        );
        assert_eq!(split_host_port("[::1]:53").unwrap(), ("::1", 53));
        assert_eq!(split_host_port("127.0.0.1:9").unwrap(), ("127.0.0.1", 9));
        for bad in ["noport", ":80", "host:http", "host:70000"] {
            assert!(split_host_port(bad).is_err(), "{bad}");
        }
    }
}
