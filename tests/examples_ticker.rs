//! The ticker example (examples/ticker.rs) as a user runs it: a TLS client publishes,
//! a TLS subscriber (OpenSSL) and a real WebSocket client (Python's `websockets`)
//! receive, `/stats` counts, `/metrics` of both servers passes `promtool check
//! metrics`, and SIGTERM drains both servers (the WebSocket gets close 1001, the TLS
//! subscriber its EOF) and the process exits 0.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::example::spawn_logging;
use common::http::{get, Client};
use common::tls::{cert, client_config};
use common::*;
use muon::codec::LengthHeaderCodec;
use muon::ssl::TlsConnector;
use muon::{RetryPolicy, TcpClient};

const WAIT: Duration = Duration::from_secs(20);

fn frame(payload: &str) -> Vec<u8> {
    LengthHeaderCodec::new(1 << 16)
        .frame(payload.as_bytes())
        .expect("a small frame")
}

fn read_frame(r: &mut impl Read) -> String {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).expect("frame header");
    let mut body = vec![0; u32::from_be_bytes(len) as usize];
    r.read_exact(&mut body).expect("frame body");
    String::from_utf8(body).unwrap()
}

const PY_WS: &str = r#"
import asyncio, sys, websockets
async def main(url):
    async with websockets.connect(url) as ws:
        print("open", flush=True)
        try:
            while True:
                print("got", await asyncio.wait_for(ws.recv(), 30), flush=True)
        except websockets.ConnectionClosed as e:
            r = e.rcvd
            print("closed", r.code if r else None, r.reason if r else "", flush=True)
asyncio.run(main(sys.argv[1]))
"#;

/// Whether `python3` has the `websockets` client (CI installs it).

#[test]
fn ticker_publishes_to_tls_and_websocket_reports_metrics_and_drains_on_sigterm() {
    if !common::python_module("websockets", "websockets") {
        return;
    }
    let promtool = require_tool("promtool", "prometheus");
    let (mut child, log) = spawn_logging(
        "ticker",
        &[
            "--addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
            "--threads",
            "2",
        ],
        |l| eprintln!("ticker: {l}"),
    );
    // "ticker listening on 127.0.0.1:P (TLS), http on 127.0.0.1:Q"
    let line = loop {
        let l = log
            .recv_timeout(WAIT)
            .expect("the ticker logs its addresses");
        if l.contains("ticker listening on ") {
            break l;
        }
    };
    let addr_after = |marker: &str| -> SocketAddr {
        let (_, rest) = line.split_once(marker).expect(marker);
        let word = rest.split_whitespace().next().expect("an address");
        word.trim_end_matches(',').parse().expect("an address")
    };
    let (tls_addr, http_addr) = (addr_after("listening on "), addr_after("http on "));

    // A browser-like WebSocket client on /ws.
    let mut py = Command::new("python3")
        .args(["-c", PY_WS, &format!("ws://{http_addr}/ws")])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let (ws_tx, ws_lines) = crossbeam_channel::unbounded();
    let out = py.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = ws_tx.send(l);
        }
    });
    assert_eq!(ws_lines.recv_timeout(WAIT).as_deref(), Ok("open"));

    // A TLS subscriber (OpenSSL, blocking).
    let mut sub = client_config(None)
        .connect("localhost", connect(tls_addr))
        .expect("TLS handshake");
    sub.write_all(&frame("SUB prices")).unwrap();
    assert_eq!(read_frame(&mut sub), "OK prices");

    // A TLS publisher: Muon's own client, the server name taken from "localhost:port".
    let (replies_tx, replies) = crossbeam_channel::unbounded();
    let codec = LengthHeaderCodec::new(1 << 16);
    let publisher = TcpClient::builder(&format!("localhost:{}", tls_addr.port()))
        .retry(RetryPolicy::no_retry())
        .tls(
            TlsConnector::builder()
                .ca_file(cert("ca.crt"))
                .build()
                .unwrap(),
        )
        .on_message(move |conn, input| {
            codec.on_message(conn, input, |_conn, f| {
                let _ = replies_tx.send(String::from_utf8_lossy(f).into_owned());
            })
        })
        .connect()
        .unwrap();
    let conn = publisher.wait_connected(WAIT).expect("publisher connected");
    assert!(conn.send(frame("PING")));
    assert_eq!(replies.recv_timeout(WAIT).as_deref(), Ok("PONG"));
    assert!(conn.send(frame("PUB prices ACME 42")));
    assert!(conn.send(frame("PUB other ignored-by-the-subscriber")));
    assert!(conn.send(frame("PUB prices ACME 43")));

    // The subscriber gets its topic only, in order; the browser gets everything.
    assert_eq!(read_frame(&mut sub), "MSG prices ACME 42");
    assert_eq!(read_frame(&mut sub), "MSG prices ACME 43");
    for want in [
        "got prices ACME 42",
        "got other ignored-by-the-subscriber",
        "got prices ACME 43",
    ] {
        assert_eq!(ws_lines.recv_timeout(WAIT).as_deref(), Ok(want));
    }

    // /stats and /metrics.
    let mut c = Client::new(http_addr);
    c.send(&get("/stats"));
    let r = c.response();
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.text(), r#"{"published":3,"delivered_tls":2}"#);
    // The loop bumps the sent counter right after each send: the browser may have the
    // frames a moment before the counter shows them, so scrape until it does (bounded).
    let deadline = Instant::now() + WAIT;
    let text = loop {
        c.send(&get("/metrics"));
        let text = c.response().text().to_string();
        if text.contains("muon_websocket_messages_sent_total 3\n") || Instant::now() > deadline {
            break text;
        }
    };
    for series in [
        "muon_server_connections_active{server=\"ticker\"} 2",
        "muon_server_connections_active{server=\"http\"} 2",
        "muon_websocket_messages_sent_total 3",
    ] {
        assert!(
            text.contains(&format!("{series}\n")),
            "{series} in:\n{text}"
        );
    }
    if let Some(promtool) = promtool {
        let mut check = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        check
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = check.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool: {}{}\n{text}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    drop(c);
    drop(publisher);

    // SIGTERM: both servers drain together.
    // SAFETY: kill(2) on the child we spawned (still running: we hold its Child).
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    assert_eq!(
        ws_lines.recv_timeout(WAIT).as_deref(),
        Ok("closed 1001 going away")
    );
    let mut rest = Vec::new();
    sub.read_to_end(&mut rest)
        .expect("an orderly end (close_notify, EOF)");
    assert!(rest.is_empty());
    drop(sub);
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the ticker did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "the ticker exited with {status}");
    let py_status = py.wait().unwrap();
    assert!(
        py_status.success(),
        "the WebSocket client failed: {py_status}"
    );
}
