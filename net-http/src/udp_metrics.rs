//! A UDP server's counters (`net::udp::UdpStats`: datagrams and bytes in and out, GSO
//! sends, GRO receives, drops by cause) as Prometheus metrics, labelled with the
//! server's name.

use std::fmt::Write;

use net::udp::{UdpServerHandle, UdpStats};

use crate::metrics::Metrics;

impl Metrics {
    /// Adds a UDP server's counters to what [`Metrics::render`] writes, labelled
    /// `server="<name>"`, read (relaxed loads summed over its loops) at each scrape.
    pub fn add_udp_server(&self, name: &str, server: UdpServerHandle) {
        let label = name.replace(['\\', '"', '\n'], "_");
        if let Ok(mut servers) = self.udp_servers.write() {
            servers.push((label, server));
        }
    }

    /// Every UDP server's counters, each metric once (the exposition format wants a
    /// metric's lines together) with one sample per server.
    pub(crate) fn render_udp_servers(&self, out: &mut String) {
        let Ok(servers) = self.udp_servers.read() else {
            return;
        };
        let stats: Vec<(&str, UdpStats)> = servers
            .iter()
            .map(|(name, handle)| (name.as_str(), handle.stats()))
            .collect();
        write_udp_stats(out, &stats);
    }
}

type Rows<'a> = Vec<(&'a str, u64)>;

fn write_udp_stats(out: &mut String, servers: &[(&str, UdpStats)]) {
    if servers.is_empty() {
        return;
    }
    let mut family = |metric: &str, help: &str, key: &str, rows: &dyn Fn(&UdpStats) -> Rows| {
        let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} counter");
        for (name, stats) in servers {
            for (value_label, value) in rows(stats) {
                let _ = writeln!(
                    out,
                    "{metric}{{server=\"{name}\",{key}=\"{value_label}\"}} {value}"
                );
            }
        }
    };
    family(
        "muon_udp_datagrams_total",
        "UDP datagrams delivered (in) and accepted by the kernel (out).",
        "direction",
        &|s| vec![("in", s.datagrams_in), ("out", s.datagrams_out)],
    );
    family(
        "muon_udp_bytes_total",
        "UDP payload bytes delivered (in) and sent (out).",
        "direction",
        &|s| vec![("in", s.bytes_in), ("out", s.bytes_out)],
    );
    family(
        "muon_udp_offload_total",
        "GSO messages sent and GRO batches received.",
        "kind",
        &|s| vec![("gso_send", s.gso_sends), ("gro_receive", s.gro_receives)],
    );
    family(
        "muon_udp_drops_total",
        "UDP datagrams not delivered or not sent, by cause.",
        "cause",
        &|s| {
            let d = &s.drops;
            vec![
                ("truncated", d.truncated),
                ("queue_full", d.queue_full),
                ("no_buffer", d.no_buffer),
                ("unreachable", d.unreachable),
                ("send_error", d.send_error),
                ("panicked", d.panicked),
                ("stopped", d.stopped),
            ]
        },
    );
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn a_udp_server_shows_on_the_metrics_page() {
        let server = net::udp::UdpServer::builder("127.0.0.1:0")
            .threads(1)
            .max_datagram_size(100)
            .on_datagram(|ctx, d, _, _| {
                ctx.reply(d);
            })
            .build()
            .unwrap()
            .start()
            .unwrap();
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        c.send_to(&[1; 200], server.local_addr()).unwrap();
        c.send_to(b"hello", server.local_addr()).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(c.recv(&mut buf).unwrap(), 5);
        let metrics = Metrics::new();
        metrics.add_udp_server("dns\"1", server.clone());
        // The out counter is added right after the send: wait for it, bounded.
        let deadline = Instant::now() + Duration::from_secs(20);
        let page = loop {
            let page = metrics.render();
            if page.contains("muon_udp_datagrams_total{server=\"dns_1\",direction=\"out\"} 1")
                || Instant::now() > deadline
            {
                break page;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        for line in [
            "muon_udp_datagrams_total{server=\"dns_1\",direction=\"in\"} 1",
            "muon_udp_datagrams_total{server=\"dns_1\",direction=\"out\"} 1",
            "muon_udp_bytes_total{server=\"dns_1\",direction=\"in\"} 5",
            "muon_udp_drops_total{server=\"dns_1\",cause=\"truncated\"} 1",
            "# TYPE muon_udp_drops_total counter",
        ] {
            assert!(page.contains(line), "missing {line:?} in:\n{page}");
        }
        // A second server: one HELP/TYPE per metric still, a sample per server.
        metrics.add_udp_server("other", server.clone());
        let page = metrics.render();
        assert_eq!(
            page.matches("# TYPE muon_udp_drops_total counter").count(),
            1,
            "{page}"
        );
        assert!(page.contains("muon_udp_drops_total{server=\"other\",cause=\"truncated\"}"));
        assert!(server.stop());
    }
}
