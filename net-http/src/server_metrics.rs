//! The server's own counters (`ServerStats`: connections, handshakes by outcome,
//! bytes, closes by cause) as Prometheus metrics, labelled with the server's name.
//!
//! With several servers every metric is written once, its `# HELP`/`# TYPE` lines
//! followed by one sample per server: the exposition format requires a metric's lines
//! to stay together, and the `server` label tells the servers apart.

use std::fmt::Write;

use net::{ServerHandle, ServerStats};

use crate::metrics::Metrics;

impl Metrics {
    /// Adds `server`'s counters to what [`Metrics::render`] writes, labelled
    /// `server="<name>"`. They are read (relaxed loads summed over its loops) at each
    /// scrape. Any number of servers may be added; each metric is written once with a
    /// sample per server.
    pub fn add_server(&self, name: &str, server: ServerHandle) {
        let label = name.replace(['\\', '"', '\n'], "_");
        if let Ok(mut s) = self.servers.write() {
            s.push((label, server));
        }
    }

    /// Writes the counters of the servers added with [`Metrics::add_server`].
    pub(crate) fn render_servers(&self, out: &mut String) {
        let Ok(servers) = self.servers.read() else {
            return;
        };
        let stats: Vec<(&str, ServerStats)> = servers
            .iter()
            .map(|(name, handle)| (name.as_str(), handle.stats()))
            .collect();
        let refs: Vec<(&str, &ServerStats)> = stats.iter().map(|(n, s)| (*n, s)).collect();
        write_servers_stats(out, &refs);
    }
}

/// Writes the counters of several servers, each metric once with one sample per
/// server (labelled `server="<name>"`). Writes nothing for an empty list.
pub(crate) fn write_servers_stats(out: &mut String, servers: &[(&str, &ServerStats)]) {
    if servers.is_empty() {
        return;
    }
    type Rows = Vec<(Option<(&'static str, &'static str)>, u64)>;
    let mut family = |metric: &str, help: &str, kind: &str, rows: &dyn Fn(&ServerStats) -> Rows| {
        let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} {kind}");
        for (name, stats) in servers {
            for (label, value) in rows(stats) {
                match label {
                    Some((k, v)) => {
                        let _ = writeln!(out, "{metric}{{server=\"{name}\",{k}=\"{v}\"}} {value}");
                    }
                    None => {
                        let _ = writeln!(out, "{metric}{{server=\"{name}\"}} {value}");
                    }
                }
            }
        }
    };
    family(
        "muon_server_connections_accepted_total",
        "Connections accepted.",
        "counter",
        &|s| vec![(None, s.accepted)],
    );
    family(
        "muon_server_connections_active",
        "Connections open now.",
        "gauge",
        &|s| vec![(None, s.active)],
    );
    family(
        "muon_server_handshakes_total",
        "TLS (and PROXY header) handshakes by outcome.",
        "counter",
        &|s| {
            let f = &s.handshakes_failed;
            let o = |v| Some(("outcome", v));
            vec![
                (o("ok"), s.handshakes_ok),
                (o("timeout"), f.timeout),
                (o("peer_closed"), f.peer_closed),
                (o("protocol"), f.protocol),
                (o("proxy_header"), f.proxy_header),
                (o("other"), f.other),
            ]
        },
    );
    family(
        "muon_server_received_bytes_total",
        "Bytes read from sockets (ciphertext with TLS).",
        "counter",
        &|s| vec![(None, s.bytes_in)],
    );
    family(
        "muon_server_sent_bytes_total",
        "Bytes written to sockets (ciphertext with TLS).",
        "counter",
        &|s| vec![(None, s.bytes_out)],
    );
    family(
        "muon_server_closes_total",
        "Connections closed, by cause.",
        "counter",
        &|s| {
            let k = &s.closes;
            let c = |v| Some(("cause", v));
            vec![
                (c("peer_eof"), k.peer_eof),
                (c("shutdown"), k.shutdown),
                (c("error"), k.error),
                (c("handshake_timeout"), k.handshake_timeout),
                (c("idle_timeout"), k.idle_timeout),
                (c("close_delay_timeout"), k.close_delay_timeout),
                (c("forced"), k.forced),
                (c("limit"), k.limit),
            ]
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_a_labelled_sample_or_a_comment() {
        let mut out = String::new();
        write_servers_stats(&mut out, &[("web", &ServerStats::default())]);
        assert!(out.contains("muon_server_connections_active{server=\"web\"} 0\n"));
        assert!(out.contains("muon_server_closes_total{server=\"web\",cause=\"limit\"} 0\n"));
        assert_eq!(out.lines().filter(|l| !l.starts_with('#')).count(), 18);
    }

    #[test]
    fn two_servers_write_each_metric_once_with_a_sample_per_server() {
        let mut out = String::new();
        let (a, b) = (ServerStats::default(), ServerStats::default());
        write_servers_stats(&mut out, &[("tls", &a), ("http", &b)]);
        assert_eq!(out.lines().filter(|l| !l.starts_with('#')).count(), 36);
        let types = out.lines().filter(|l| l.starts_with("# TYPE")).count();
        assert_eq!(types, 6, "one TYPE line per metric:\n{out}");
        // Each metric's samples follow its own TYPE line, with nothing else between.
        let mut current = "";
        for line in out.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                current = rest.split(' ').next().unwrap_or("");
            } else if !line.starts_with('#') {
                assert!(
                    line.starts_with(current),
                    "{line} outside {current}'s group"
                );
            }
        }
    }
}
