//! `/metrics` as a scraper sees it: two servers counted into one `Metrics` give valid
//! exposition text (checked by Prometheus's own `promtool check metrics`, lint
//! included), and every WebSocket send path counts in
//! `muon_websocket_messages_sent_total`.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::http::{get, read_ws_frame, ws_frame, ws_upgrade, Client};
use common::{echo_server, require_tool, BuilderExt};
use muon::http::{metrics, HttpService, Message, Metrics, Response, Router, WsConn, WsHandle};

const TEXT: u8 = 1;

fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{series} missing in:\n{text}"))
}

/// An HTTP server whose `/metrics` renders `counters`, with a `/ws` endpoint that
/// hands each new WebSocket's handle to `handles`, echoes "echo" and broadcasts "all".
fn server(
    counters: Arc<Metrics>,
    handles: crossbeam_channel::Sender<WsHandle>,
) -> muon::ServerHandle {
    let for_metrics = counters.clone();
    struct Ws(crossbeam_channel::Sender<WsHandle>);
    impl muon::http::WsHandler for Ws {
        fn on_open(&self, ws: &mut WsConn<'_>) {
            let _ = self.0.send(ws.handle());
        }
        fn on_message(&self, ws: &mut WsConn<'_>, m: Message) {
            match m.as_bytes() {
                b"echo" => {
                    ws.send(&m);
                }
                b"all" => ws.broadcast(&m),
                _ => {}
            }
        }
    }
    let router = Router::new()
        .get("/metrics", move |_r, _c| {
            Response::new(200)
                .header("Content-Type", metrics::CONTENT_TYPE)
                .body(for_metrics.render())
                .into()
        })
        .websocket("/ws", Ws(handles));
    HttpService::new(router)
        .share_metrics(counters)
        .install(
            muon::TcpServer::builder("127.0.0.1:0")
                .name("http")
                .threads(2),
        )
        .started()
}

/// Runs `promtool check metrics` on `text`; `None` when promtool is missing outside CI.
fn promtool_check(text: &str) -> Option<(bool, String)> {
    let promtool = require_tool("promtool", "prometheus")?;
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), said))
}

#[test]
fn two_servers_give_exposition_text_that_promtool_accepts() {
    let counters = Metrics::new();
    let (tx, _rx) = crossbeam_channel::unbounded();
    let http = server(counters.clone(), tx);
    let echo = echo_server(1);
    counters.add_server("http", http.clone());
    counters.add_server("echo", echo.clone());
    let mut c = Client::new(http.local_addr());
    c.send(&get("/metrics"));
    let text = c.response().text().to_string();
    // Both servers' samples are there...
    assert_eq!(
        sample(&text, "muon_server_connections_active{server=\"http\"}"),
        1.0
    );
    assert_eq!(
        sample(&text, "muon_server_connections_active{server=\"echo\"}"),
        0.0
    );
    // ...under one HELP/TYPE per metric, as a real scraper requires.
    if let Some((ok, said)) = promtool_check(&text) {
        assert!(ok, "promtool check metrics failed: {said}\n{text}");
    }
    drop(c);
    common::stop_when_idle(&http);
    common::stop_when_idle(&echo);
}

#[test]
fn every_websocket_send_path_counts_as_a_message_sent() {
    let counters = Metrics::new();
    let (tx, rx) = crossbeam_channel::unbounded();
    let http = server(counters.clone(), tx);
    let mut ws = Client::new(http.local_addr());
    ws_upgrade(&mut ws, "/ws");
    let handle = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("on_open ran");
    // From another thread, through the handle.
    assert!(handle.send(&Message::Text("from a handle".into())));
    assert_eq!(read_ws_frame(&mut ws.reader).unwrap().2, b"from a handle");
    // From the handler: a send, and a broadcast reaching this one WebSocket.
    ws.send(&ws_frame(true, TEXT, b"echo"));
    assert_eq!(read_ws_frame(&mut ws.reader).unwrap().2, b"echo");
    ws.send(&ws_frame(true, TEXT, b"all"));
    assert_eq!(read_ws_frame(&mut ws.reader).unwrap().2, b"all");
    // Counted on the loop right after the send: the client may read the frame first.
    common::wait_until(Duration::from_secs(10), || counters.ws_messages_sent() >= 3);
    assert_eq!(counters.ws_messages_sent(), 3);
    assert_eq!(counters.ws_messages_received(), 2);
    let mut c = Client::new(http.local_addr());
    c.send(&get("/metrics"));
    let text = c.response().text().to_string();
    assert_eq!(sample(&text, "muon_websocket_messages_sent_total"), 3.0);
    drop((c, ws));
    common::stop_when_idle(&http);
}
