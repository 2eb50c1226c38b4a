//! The http_server and ws_chat examples as users run them: pages, echo, WebSocket,
//! and /metrics in the Prometheus text format with HTTP's and the server's counters.

mod common;

use common::example::start_example;
use common::http::{get, read_ws_frame, ws_frame, ws_upgrade, Client};

/// Every non-comment line is `name{labels} value` with a number for value, and
/// every metric has HELP and TYPE lines before its samples.
fn check_exposition_format(text: &str) {
    let mut typed = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge"].contains(&kind), "{line}");
            typed.insert(name.to_string());
        } else if !line.starts_with("# HELP ") {
            let (series, value) = line.rsplit_once(' ').expect(line);
            value.parse::<f64>().expect(line);
            let name = series.split('{').next().unwrap();
            assert!(typed.contains(name), "{name} has no TYPE line");
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{line}"
            );
        }
    }
}

fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{series} missing in:\n{text}"))
}

#[test]
fn http_server_example_serves_pages_echo_websocket_and_metrics() {
    let (_server, addr) = start_example("http_server", &["--threads", "2"]);
    let addr = addr.parse().unwrap();
    let mut c = Client::new(addr);
    c.send(&get("/"));
    assert_eq!(c.response().text(), "Hello from Muon\n");
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/x-test\r\nContent-Length: 5\r\n\r\nhello");
    let r = c.response();
    assert_eq!(
        (r.text(), r.header("content-type")),
        ("hello", Some("text/x-test"))
    );
    let mut ws = Client::new(addr);
    ws_upgrade(&mut ws, "/ws-echo");
    ws.send(&ws_frame(true, 1, b"echo me"));
    assert_eq!(read_ws_frame(&mut ws.reader).unwrap().2, b"echo me");
    c.send(&get("/metrics"));
    let r = c.response();
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = r.text();
    check_exposition_format(text);
    assert_eq!(
        sample(text, "muon_http_requests_total{method=\"GET\"}"),
        3.0
    );
    assert_eq!(
        sample(text, "muon_http_requests_total{method=\"POST\"}"),
        1.0
    );
    assert_eq!(
        sample(text, "muon_http_responses_total{class=\"2xx\"}"),
        2.0
    );
    assert_eq!(sample(text, "muon_websocket_messages_received_total"), 1.0);
    assert_eq!(sample(text, "muon_websocket_connections_open"), 1.0);
    assert_eq!(
        sample(text, "muon_server_connections_active{server=\"http\"}"),
        2.0
    );
    assert_eq!(
        sample(
            text,
            "muon_server_connections_accepted_total{server=\"http\"}"
        ),
        2.0
    );
    assert!(sample(text, "muon_server_received_bytes_total{server=\"http\"}") > 100.0);
}

#[test]
fn https_example_negotiates_http_11_and_its_metrics_count_handshakes() {
    if common::require_tool("curl", "curl").is_none() {
        return;
    }
    let (_server, addr) = start_example("http_server", &["--threads", "1", "--tls"]);
    let port = addr.rsplit_once(':').unwrap().1;
    let url = format!("https://localhost:{port}/metrics");
    let resolve = format!("localhost:{port}:127.0.0.1");
    let out = std::process::Command::new("curl")
        .args([
            "-sSv",
            "--max-time",
            "20",
            "--cacert",
            &common::tls::cert("ca.crt"),
        ])
        .args(["--resolve", &resolve, &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.lines()
            .any(|l| l.contains("ALPN") && l.contains("accepted") && l.contains("http/1.1")),
        "{log}"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    check_exposition_format(&text);
    assert_eq!(
        sample(
            &text,
            "muon_server_handshakes_total{server=\"http\",outcome=\"ok\"}"
        ),
        1.0
    );
}

#[test]
fn ws_chat_example_serves_its_page_and_relays_to_everyone() {
    let (_server, addr) = start_example("ws_chat", &["--threads", "2"]);
    let addr = addr.parse().unwrap();
    let mut page = Client::new(addr);
    page.send(&get("/"));
    let r = page.response();
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.text().contains("new WebSocket("));
    let mut a = Client::new(addr);
    let mut b = Client::new(addr);
    ws_upgrade(&mut a, "/ws");
    ws_upgrade(&mut b, "/ws");
    a.send(&ws_frame(true, 1, b"alice: hi"));
    assert_eq!(read_ws_frame(&mut a.reader).unwrap().2, b"alice: hi");
    assert_eq!(read_ws_frame(&mut b.reader).unwrap().2, b"alice: hi");
    b.send(&ws_frame(true, 1, b"bob: hello"));
    assert_eq!(read_ws_frame(&mut a.reader).unwrap().2, b"bob: hello");
    assert_eq!(read_ws_frame(&mut b.reader).unwrap().2, b"bob: hello");
}
