//! `Metrics`: HTTP's own counters, plus sources the application adds (the server's
//! connection counters), rendered in the Prometheus text format for `/metrics`.
//!
//! Counters are relaxed atomics bumped on the loops (no lock on the request path);
//! the source list is read only when `/metrics` is rendered.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};

const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "other",
];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Writes Prometheus text lines (with their `# HELP`/`# TYPE`) into the output.
pub type MetricsSource = Box<dyn Fn(&mut String) + Send + Sync>;

/// A service's counters and extra sources. See the module docs.
#[derive(Default)]
pub struct Metrics {
    requests: [AtomicU64; METHODS.len()],
    responses: [AtomicU64; CLASSES.len()],
    refused: AtomicU64,
    ws_open: AtomicI64,
    ws_in: AtomicU64,
    ws_out: AtomicU64,
    http_open: AtomicI64,
    h2: crate::h2_metrics::H2Counters,
    pub(crate) servers: RwLock<Vec<(String, net::ServerHandle)>>,
    pub(crate) udp_servers: RwLock<Vec<(String, net::udp::UdpServerHandle)>>,
    sources: RwLock<Vec<MetricsSource>>,
}

impl Metrics {
    /// Empty counters.
    pub fn new() -> Arc<Self> {
        Arc::new(Metrics::default())
    }

    /// Adds a source of lines, e.g. the server's connection counters:
    ///
    /// ```no_run
    /// # fn f(metrics: &net_http::Metrics, server: &net::ServerHandle) {
    /// let handle = server.clone();
    /// metrics.add_source(move |out| {
    ///     net_http::metrics::gauge(out, "muon_connections_active",
    ///         "Open connections.", handle.connection_count() as f64);
    /// });
    /// # }
    /// ```
    pub fn add_source(&self, source: impl Fn(&mut String) + Send + Sync + 'static) {
        if let Ok(mut s) = self.sources.write() {
            s.push(Box::new(source));
        }
    }

    pub(crate) fn request(&self, method: &str) {
        let i = METHODS[..METHODS.len() - 1]
            .iter()
            .position(|m| *m == method)
            .unwrap_or(METHODS.len() - 1);
        self.requests[i].fetch_add(1, Relaxed);
    }

    pub(crate) fn response(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Relaxed);
    }

    pub(crate) fn refused(&self) {
        self.refused.fetch_add(1, Relaxed);
    }

    pub(crate) fn ws_opened(&self, delta: i64) {
        self.ws_open.fetch_add(delta, Relaxed);
    }

    pub(crate) fn ws_message_in(&self) {
        self.ws_in.fetch_add(1, Relaxed);
    }

    pub(crate) fn ws_messages_out(&self, n: u64) {
        self.ws_out.fetch_add(n, Relaxed);
    }

    pub(crate) fn http_opened(&self, delta: i64) {
        self.http_open.fetch_add(delta, Relaxed);
    }

    pub(crate) fn h2_opened(&self, delta: i64) {
        self.h2.opened(delta);
    }

    pub(crate) fn h2_stream(&self) {
        self.h2.stream();
    }

    pub(crate) fn h2_reset(&self, code: u32) {
        self.h2.reset(code);
    }

    pub(crate) fn h2_goaway_sent(&self, code: u32) {
        self.h2.goaway(code);
    }

    /// HTTP/2 GOAWAY frames sent so far with error `code` (RFC 9113 §7; 0 is a
    /// graceful close).
    pub fn h2_goaways_sent(&self, code: u32) -> u64 {
        self.h2.goaways_with(code)
    }

    /// Requests counted so far with `method` (`"other"` for the rest).
    pub fn requests_with_method(&self, method: &str) -> u64 {
        METHODS
            .iter()
            .position(|m| *m == method)
            .map_or(0, |i| self.requests[i].load(Relaxed))
    }

    /// WebSocket messages sent so far (every path: `WsConn`, `WsHandle`, broadcasts).
    pub fn ws_messages_sent(&self) -> u64 {
        self.ws_out.load(Relaxed)
    }

    /// WebSocket messages received so far.
    pub fn ws_messages_received(&self) -> u64 {
        self.ws_in.load(Relaxed)
    }

    /// Everything in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        header(
            &mut out,
            "muon_http_requests_total",
            "Requests parsed, by method.",
            "counter",
        );
        for (m, c) in METHODS.iter().zip(&self.requests) {
            let _ = writeln!(
                out,
                "muon_http_requests_total{{method=\"{m}\"}} {}",
                c.load(Relaxed)
            );
        }
        header(
            &mut out,
            "muon_http_responses_total",
            "Responses written, by status class.",
            "counter",
        );
        for (k, c) in CLASSES.iter().zip(&self.responses) {
            let _ = writeln!(
                out,
                "muon_http_responses_total{{class=\"{k}\"}} {}",
                c.load(Relaxed)
            );
        }
        counter(
            &mut out,
            "muon_http_refused_total",
            "Requests refused for a limit or a framing violation (then the connection closed).",
            self.refused.load(Relaxed),
        );
        gauge(
            &mut out,
            "muon_http_connections_open",
            "Connections speaking HTTP (not upgraded).",
            self.http_open.load(Relaxed) as f64,
        );
        gauge(
            &mut out,
            "muon_websocket_connections_open",
            "Open WebSocket connections.",
            self.ws_open.load(Relaxed) as f64,
        );
        counter(
            &mut out,
            "muon_websocket_messages_received_total",
            "WebSocket messages received.",
            self.ws_in.load(Relaxed),
        );
        counter(
            &mut out,
            "muon_websocket_messages_sent_total",
            "WebSocket messages sent (a broadcast counts once per receiver).",
            self.ws_out.load(Relaxed),
        );
        self.h2.render(&mut out);
        self.render_servers(&mut out);
        self.render_udp_servers(&mut out);
        if let Ok(sources) = self.sources.read() {
            for s in sources.iter() {
                s(&mut out);
            }
        }
        out
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Writes one counter with its `# HELP` and `# TYPE` lines.
pub fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, help, "counter");
    let _ = writeln!(out, "{name} {value}");
}

/// Writes one gauge with its `# HELP` and `# TYPE` lines.
pub fn gauge(out: &mut String, name: &str, help: &str, value: f64) {
    header(out, name, help, "gauge");
    let _ = writeln!(out, "{name} {value}");
}

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_sources() {
        let m = Metrics::new();
        m.request("GET");
        m.request("BREW");
        m.response(200);
        m.response(404);
        m.add_source(|out| gauge(out, "x_live", "Live.", 3.0));
        let text = m.render();
        assert!(text.contains("muon_http_requests_total{method=\"GET\"} 1\n"));
        assert!(text.contains("muon_http_requests_total{method=\"other\"} 1\n"));
        assert!(text.contains("muon_http_responses_total{class=\"4xx\"} 1\n"));
        assert!(text.contains("# TYPE x_live gauge\nx_live 3\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            value.parse::<f64>().unwrap();
        }
    }
}
