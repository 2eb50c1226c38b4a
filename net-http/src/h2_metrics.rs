//! HTTP/2's counters inside `Metrics`: connections, streams, stream resets
//! and GOAWAYs by RFC 9113 error code.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// RFC 9113 §7 error codes, by value; later codes count as `other`.
const CODES: [&str; 15] = [
    "NO_ERROR",
    "PROTOCOL_ERROR",
    "INTERNAL_ERROR",
    "FLOW_CONTROL_ERROR",
    "SETTINGS_TIMEOUT",
    "STREAM_CLOSED",
    "FRAME_SIZE_ERROR",
    "REFUSED_STREAM",
    "CANCEL",
    "COMPRESSION_ERROR",
    "CONNECT_ERROR",
    "ENHANCE_YOUR_CALM",
    "INADEQUATE_SECURITY",
    "HTTP_1_1_REQUIRED",
    "other",
];

#[derive(Default)]
pub(crate) struct H2Counters {
    open: AtomicI64,
    streams: AtomicU64,
    resets: [AtomicU64; CODES.len()],
    goaways: [AtomicU64; CODES.len()],
}

fn index(code: u32) -> usize {
    usize::try_from(code).map_or(CODES.len() - 1, |c| c.min(CODES.len() - 1))
}

impl H2Counters {
    pub(crate) fn opened(&self, delta: i64) {
        self.open.fetch_add(delta, Relaxed);
    }

    pub(crate) fn stream(&self) {
        self.streams.fetch_add(1, Relaxed);
    }

    pub(crate) fn reset(&self, code: u32) {
        self.resets[index(code)].fetch_add(1, Relaxed);
    }

    pub(crate) fn goaway(&self, code: u32) {
        self.goaways[index(code)].fetch_add(1, Relaxed);
    }

    /// GOAWAYs sent with `code`.
    pub(crate) fn goaways_with(&self, code: u32) -> u64 {
        self.goaways[index(code)].load(Relaxed)
    }

    pub(crate) fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP muon_http2_connections_open Connections speaking HTTP/2.\n\
             # TYPE muon_http2_connections_open gauge\n\
             muon_http2_connections_open {}",
            self.open.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP muon_http2_streams_total HTTP/2 request streams accepted.\n\
             # TYPE muon_http2_streams_total counter\n\
             muon_http2_streams_total {}",
            self.streams.load(Relaxed)
        );
        labelled(
            out,
            "muon_http2_stream_resets_total",
            "HTTP/2 streams that ended in RST_STREAM (either side), by error code.",
            &self.resets,
        );
        labelled(
            out,
            "muon_http2_goaways_sent_total",
            "GOAWAY frames the server sent, by error code (NO_ERROR: graceful close).",
            &self.goaways,
        );
    }
}

fn labelled(out: &mut String, name: &str, help: &str, values: &[AtomicU64]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (code, v) in CODES.iter().zip(values) {
        let v = v.load(Relaxed);
        if v > 0 || *code == "NO_ERROR" {
            let _ = writeln!(out, "{name}{{code=\"{code}\"}} {v}");
        }
    }
}
