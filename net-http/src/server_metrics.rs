//! The server's own counters (`net::ServerStats`: connections, handshakes by outcome,
//! bytes, closes by cause) as Prometheus metrics, labelled with the server's name.

use std::fmt::Write;

use net::{ServerHandle, ServerStats};

use crate::metrics::Metrics;

impl Metrics {
    /// Adds `server`'s counters to what [`Metrics::render`] writes, labelled
    /// `server="<name>"`. They are read (relaxed loads summed over its loops) at each
    /// scrape.
    pub fn add_server(&self, name: &str, server: ServerHandle) {
        let label = name.replace(['\\', '"', '\n'], "_");
        self.add_source(move |out| write_server_stats(out, &label, &server.stats()));
    }
}

/// Writes `stats` as Prometheus text with the label `server="<name>"`.
pub(crate) fn write_server_stats(out: &mut String, name: &str, stats: &ServerStats) {
    let f = &stats.handshakes_failed;
    let k = &stats.closes;
    let mut family =
        |metric: &str, help: &str, kind: &str, rows: &[(Option<(&str, &str)>, u64)]| {
            let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} {kind}");
            for (label, value) in rows {
                match label {
                    Some((k, v)) => {
                        let _ = writeln!(out, "{metric}{{server=\"{name}\",{k}=\"{v}\"}} {value}");
                    }
                    None => {
                        let _ = writeln!(out, "{metric}{{server=\"{name}\"}} {value}");
                    }
                }
            }
        };
    family(
        "muon_server_connections_accepted_total",
        "Connections accepted.",
        "counter",
        &[(None, stats.accepted)],
    );
    family(
        "muon_server_connections_active",
        "Connections open now.",
        "gauge",
        &[(None, stats.active)],
    );
    let outcome = |v| Some(("outcome", v));
    family(
        "muon_server_handshakes_total",
        "TLS (and PROXY header) handshakes by outcome.",
        "counter",
        &[
            (outcome("ok"), stats.handshakes_ok),
            (outcome("timeout"), f.timeout),
            (outcome("peer_closed"), f.peer_closed),
            (outcome("protocol"), f.protocol),
            (outcome("proxy_header"), f.proxy_header),
            (outcome("other"), f.other),
        ],
    );
    family(
        "muon_server_received_bytes_total",
        "Bytes read from sockets (ciphertext with TLS).",
        "counter",
        &[(None, stats.bytes_in)],
    );
    family(
        "muon_server_sent_bytes_total",
        "Bytes written to sockets (ciphertext with TLS).",
        "counter",
        &[(None, stats.bytes_out)],
    );
    let cause = |v| Some(("cause", v));
    family(
        "muon_server_closes_total",
        "Connections closed, by cause.",
        "counter",
        &[
            (cause("peer_eof"), k.peer_eof),
            (cause("shutdown"), k.shutdown),
            (cause("error"), k.error),
            (cause("handshake_timeout"), k.handshake_timeout),
            (cause("idle_timeout"), k.idle_timeout),
            (cause("close_delay_timeout"), k.close_delay_timeout),
            (cause("forced"), k.forced),
            (cause("limit"), k.limit),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_a_labelled_sample_or_a_comment() {
        let mut out = String::new();
        write_server_stats(&mut out, "web", &ServerStats::default());
        assert!(out.contains("muon_server_connections_active{server=\"web\"} 0\n"));
        assert!(out.contains("muon_server_closes_total{server=\"web\",cause=\"limit\"} 0\n"));
        assert_eq!(out.lines().filter(|l| !l.starts_with('#')).count(), 18);
    }
}
