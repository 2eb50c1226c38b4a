//! `HttpService` as a new user wires it: the builder's callbacks belong to the codec
//! once installed (a setter before or after makes `build()` fail instead of leaving
//! connections unanswered), and a stopping server ends its connections politely
//! (WebSockets with close 1001, keep-alive connections with `Connection: close`), over
//! TCP and over TLS on each provider (`name::openssl`, `name::rustls`).

mod common;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::http::{get, read_response, Client};
use common::tls::{cert, client_config, close_notify_received, tls_connect, Provider, ServerOpts};
use common::{read_until_closed, BuilderExt, Ending};
use muon::http::{HttpService, Response, Router};

fn router() -> Router {
    Router::new().get("/", |_r, _c| Response::text("root\n").into())
}

fn builder() -> muon::TcpServerBuilder {
    muon::TcpServer::builder("127.0.0.1:0").threads(1)
}

#[test]
fn a_callback_set_after_install_fails_the_build_with_a_clear_error() {
    let after = HttpService::new(router())
        .install(builder())
        .on_connection(|_c| {})
        .build();
    let e = after.err().expect("build must fail");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let text = e.to_string();
    assert!(
        text.contains("on_connection was called after HttpService::install"),
        "{text}"
    );
}

#[test]
fn a_callback_set_before_install_fails_the_build_too() {
    let before = HttpService::new(router())
        .install(builder().on_message(|_c, _input| {}))
        .build();
    let e = before.err().expect("build must fail");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(
        e.to_string().contains("on_message was called before"),
        "{e}"
    );
}

#[test]
fn a_callback_the_codec_leaves_alone_is_kept_and_http_is_served() {
    let server = HttpService::new(router())
        .install(
            builder()
                .high_water_mark(1 << 20)
                .on_high_water(|_c, _n| {}),
        )
        .started();
    let mut c = Client::new(server.local_addr());
    c.send(&get("/"));
    assert_eq!(c.response().text(), "root\n");
    drop(c);
    common::stop_when_idle(&server);
}

/// A server whose `/slow` answers only when the test sends its responder's answer,
/// and whose `/ws` tells `closes` the code its handler's `on_close` saw; over TLS of
/// `tls`'s provider if given.
fn draining_server(
    slow: crossbeam_channel::Sender<muon::http::Responder>,
    closes: crossbeam_channel::Sender<Option<u16>>,
    tls: Option<Provider>,
) -> muon::ServerHandle {
    struct Ws(crossbeam_channel::Sender<Option<u16>>);
    impl muon::http::WsHandler for Ws {
        fn on_message(&self, ws: &mut muon::http::WsConn<'_>, m: muon::http::Message) {
            ws.send(&m);
        }
        fn on_close(&self, _ws: &mut muon::http::WsConn<'_>, code: Option<u16>) {
            let _ = self.0.send(code);
        }
    }
    let router = router()
        .get("/slow", move |_r, ctx| {
            let _ = slow.send(ctx.responder());
            muon::http::Reply::Later
        })
        .websocket("/ws", Ws(closes));
    let mut server = builder().drain_grace(DRAIN_GRACE);
    if let Some(provider) = tls {
        server = server.tls(provider.acceptor(&ServerOpts {
            alpn: vec![muon::http::ALPN_HTTP11],
            ..ServerOpts::default()
        }));
    }
    HttpService::new(router).install(server).started()
}

/// Longer than any wait of these tests: a connection that ends only when the grace
/// is over makes them time out and fail.
const DRAIN_GRACE: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(10);

/// Stops `server` on a thread of its own; the receiver gets `stop()`'s result.
fn stop_in_background(server: &muon::ServerHandle) -> crossbeam_channel::Receiver<bool> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let server = server.clone();
    std::thread::spawn(move || {
        let _ = tx.send(server.stop());
    });
    rx
}

#[test]
fn a_drain_shuts_idle_keep_alive_connections_and_closes_busy_ones_after_their_answer() {
    let (slow_tx, slow_rx) = crossbeam_channel::unbounded();
    let (close_tx, _close_rx) = crossbeam_channel::unbounded();
    let server = draining_server(slow_tx, close_tx, None);
    let mut idle = Client::new(server.local_addr());
    idle.send(&get("/"));
    let r = idle.response();
    assert_eq!(r.header("connection"), None, "keep-alive before the stop");
    let mut busy = Client::new(server.local_addr());
    busy.send(&get("/slow"));
    let responder = slow_rx.recv_timeout(WAIT).expect("the /slow handler ran");
    let stopped = stop_in_background(&server);
    // The idle one is shut at once (not after the 30 s grace).
    idle.reader.get_ref().set_read_timeout(Some(WAIT)).unwrap();
    let mut rest = Vec::new();
    let eof = idle.reader.read_to_end(&mut rest);
    assert!(
        matches!(eof, Ok(0)),
        "idle keep-alive connection not shut by the drain: {eof:?}"
    );
    drop(idle);
    // The busy one gets its answer, marked as the last, then the EOF.
    assert!(responder.respond(Response::text("late\n")));
    let r = busy.response();
    assert_eq!(
        (r.text(), r.header("connection")),
        ("late\n", Some("close"))
    );
    busy.reader.get_ref().set_read_timeout(Some(WAIT)).unwrap();
    let eof = busy.reader.read_to_end(&mut rest);
    assert!(
        matches!(eof, Ok(0)),
        "no EOF after the last answer: {eof:?}"
    );
    // A client closes when it sees the EOF; the drain then ends long before its grace.
    drop(busy);
    assert_eq!(
        stopped.recv_timeout(WAIT),
        Ok(true),
        "stop did not finish early"
    );
}

per_provider!(a_drain_over_tls_shuts_idle_keep_alive_connections_and_answers_busy_ones);
/// The drain over TLS: the idle keep-alive connection ends at once with close_notify,
/// the busy one gets its answer (`Connection: close`) and then close_notify, and the
/// stop ends long before its grace.
fn a_drain_over_tls_shuts_idle_keep_alive_connections_and_answers_busy_ones(provider: Provider) {
    let (slow_tx, slow_rx) = crossbeam_channel::unbounded();
    let (close_tx, _close_rx) = crossbeam_channel::unbounded();
    let server = draining_server(slow_tx, close_tx, Some(provider));
    let config = client_config(None);
    let open = || BufReader::new(tls_connect(server.local_addr(), &config));
    let mut idle = open();
    idle.get_mut().write_all(&get("/")).unwrap();
    let r = read_response(&mut idle, false).expect("an answer");
    assert_eq!((r.text(), r.header("connection")), ("root\n", None));
    let mut busy = open();
    busy.get_mut().write_all(&get("/slow")).unwrap();
    let responder = slow_rx.recv_timeout(WAIT).expect("the /slow handler ran");
    let stopped = stop_in_background(&server);
    let socket = idle.get_ref().get_ref().try_clone().unwrap();
    let closed = read_until_closed(
        &mut idle,
        &socket,
        WAIT,
        "an idle TLS keep-alive connection",
    );
    assert_eq!(closed.ending, Ending::Eof, "{provider:?}: {closed:?}");
    assert!(closed.bytes.is_empty(), "{provider:?}: {closed:?}");
    assert!(
        close_notify_received(idle.get_mut()),
        "{provider:?}: idle: an EOF without close_notify"
    );
    drop(idle);
    assert!(responder.respond(Response::text("late\n")));
    let r = read_response(&mut busy, false).expect("the late answer");
    assert_eq!(
        (r.text(), r.header("connection")),
        ("late\n", Some("close"))
    );
    let socket = busy.get_ref().get_ref().try_clone().unwrap();
    let closed = read_until_closed(
        &mut busy,
        &socket,
        WAIT,
        "a TLS connection after its last answer",
    );
    assert_eq!(closed.ending, Ending::Eof, "{provider:?}: {closed:?}");
    assert!(closed.bytes.is_empty(), "{provider:?}: {closed:?}");
    assert!(
        close_notify_received(busy.get_mut()),
        "{provider:?}: busy: an EOF without close_notify"
    );
    drop(busy);
    assert_eq!(
        stopped.recv_timeout(WAIT),
        Ok(true),
        "{provider:?}: stop did not finish early"
    );
}

const PY_WS_CLIENT: &str = r#"
import asyncio, ssl, sys, websockets
async def main(url, ca=None):
    tls = {"ssl": ssl.create_default_context(cafile=ca)} if ca else {}
    async with websockets.connect(url, **tls) as ws:
        await ws.send("hi")
        print("echo", await ws.recv(), flush=True)
        try:
            msg = await asyncio.wait_for(ws.recv(), 20)
            print("unexpected message", msg, flush=True)
        except websockets.ConnectionClosed as e:
            r = e.rcvd
            print("closed", r.code if r else None, r.reason if r else "", flush=True)
asyncio.run(main(*sys.argv[1:]))
"#;

/// Whether `python3` can import the `websockets` client (CI installs it).

#[test]
fn a_drain_sends_websocket_close_1001_to_a_real_client() {
    drain_sends_close_1001(None);
}

per_provider!(a_drain_sends_websocket_close_1001_to_a_real_wss_client);
fn a_drain_sends_websocket_close_1001_to_a_real_wss_client(provider: Provider) {
    drain_sends_close_1001(Some(provider));
}

/// Python's `websockets` client (over wss with the development CA when `tls`) echoes
/// once, then sees the drain's close 1001.
fn drain_sends_close_1001(tls: Option<Provider>) {
    if !common::python_module("websockets", "websockets") {
        return;
    }
    let (slow_tx, _slow_rx) = crossbeam_channel::unbounded();
    let (close_tx, close_rx) = crossbeam_channel::unbounded();
    let server = draining_server(slow_tx, close_tx, tls);
    let port = server.local_addr().port();
    let mut args = vec!["-c".to_string(), PY_WS_CLIENT.to_string()];
    match tls {
        None => args.push(format!("ws://127.0.0.1:{port}/ws")),
        Some(_) => args.extend([format!("wss://localhost:{port}/ws"), cert("ca.crt")]),
    }
    let mut child = Command::new("python3")
        .args(&args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let (line_tx, lines) = crossbeam_channel::unbounded();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = line_tx.send(line);
        }
    });
    assert_eq!(lines.recv_timeout(WAIT).as_deref(), Ok("echo hi"));
    let stopped = stop_in_background(&server);
    assert_eq!(
        lines.recv_timeout(WAIT).as_deref(),
        Ok("closed 1001 going away")
    );
    assert_eq!(
        close_rx.recv_timeout(WAIT),
        Ok(Some(1001)),
        "on_close saw 1001"
    );
    assert_eq!(
        stopped.recv_timeout(WAIT),
        Ok(true),
        "stop did not finish early"
    );
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "python client did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "python client failed: {status}");
}
