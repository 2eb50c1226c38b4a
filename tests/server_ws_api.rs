//! WebSocket API a service needs outside its handlers: a `WsBroadcaster` from the
//! service (all of its WebSockets, or those a filter picks, and no other service's),
//! ids shared by `WsConn` and `WsHandle`, `WsHandle::close`, a handler behind an `Arc`,
//! and `Response::json`; and wss (echo and the close handshake, then close_notify) on
//! each TLS provider (`wss_echo_and_close::openssl`, `::rustls`).

mod common;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use common::http::{get, read_ws_frame, ws_frame, ws_upgrade, Client};
use common::tls::{client_config, close_notify_received, Provider, ServerOpts};
use common::{stop_when_idle, BuilderExt};
use muon::http::{HttpService, Message, Response, Router, WsConn, WsHandle, WsHandler};
use muon::ConnId;

const TEXT: u8 = 1;
const BINARY: u8 = 2;
const CLOSE: u8 = 8;
const WAIT: Duration = Duration::from_secs(10);

/// A subscriber's topic, kept in its connection's extensions.
struct Topic(String);

/// "sub <topic>" subscribes and answers "ok"; every open hands (id, handle) out.
struct Subscribers(crossbeam_channel::Sender<(ConnId, WsHandle)>);

impl WsHandler for Subscribers {
    fn on_open(&self, ws: &mut WsConn<'_>) {
        let _ = self.0.send((ws.id(), ws.handle()));
    }
    fn on_message(&self, ws: &mut WsConn<'_>, m: Message) {
        if let Some(topic) = std::str::from_utf8(m.as_bytes())
            .ok()
            .and_then(|t| t.strip_prefix("sub "))
        {
            ws.extensions_mut().insert(Topic(topic.to_string()));
            ws.send_text("ok");
        }
    }
}

fn service(handler: Arc<Subscribers>) -> HttpService {
    HttpService::new(
        Router::new()
            .get("/json", |_r, _c| Response::json(r#"{"ok":true}"#).into())
            // The handler is shared: the test keeps its own Arc.
            .websocket("/ws", handler),
    )
}

fn text(c: &mut Client) -> String {
    let (_, op, payload) = read_ws_frame(&mut c.reader).expect("a frame");
    assert_eq!(op, TEXT);
    String::from_utf8(payload).unwrap()
}

fn subscribe(addr: std::net::SocketAddr, topic: &str) -> Client {
    let mut c = Client::new(addr);
    ws_upgrade(&mut c, "/ws");
    c.send(&ws_frame(true, TEXT, format!("sub {topic}").as_bytes()));
    assert_eq!(text(&mut c), "ok");
    c
}

#[test]
fn a_broadcaster_reaches_its_services_websockets_from_any_thread_filtered_or_not() {
    let (tx, opened) = crossbeam_channel::unbounded();
    let handler = Arc::new(Subscribers(tx.clone()));
    let svc = service(handler.clone());
    let broadcaster = svc.broadcaster();
    let server = svc
        .install(muon::TcpServer::builder("127.0.0.1:0").threads(2))
        .started();
    // A second service with the same handler type: its WebSockets are not ours.
    let other_svc = service(Arc::new(Subscribers(tx)));
    let other_broadcaster = other_svc.broadcaster();
    let other = other_svc
        .install(muon::TcpServer::builder("127.0.0.1:0").threads(1))
        .started();
    let mut a = subscribe(server.local_addr(), "a");
    let mut b = subscribe(server.local_addr(), "b");
    let mut b2 = subscribe(server.local_addr(), "b");
    let mut stranger = subscribe(other.local_addr(), "a");
    // Four opens, in order; the ids of one server's three connections differ.
    let ids: std::collections::HashSet<ConnId> = (0..4)
        .map(|_| opened.recv_timeout(WAIT).expect("open").0)
        .take(3)
        .collect();
    assert_eq!(ids.len(), 3);
    // From a thread of its own, to topic "a" only; then to all.
    let from = broadcaster.clone();
    std::thread::spawn(move || {
        from.broadcast_where(&Message::Text("for a".into()), |c| {
            c.extensions().get::<Topic>().is_some_and(|t| t.0 == "a")
        });
        from.broadcast(&Message::Text("for all".into()));
    })
    .join()
    .unwrap();
    assert_eq!(text(&mut a), "for a");
    assert_eq!(text(&mut a), "for all");
    // b and b2 never got "for a": the next frame they read is "for all" (each loop
    // runs the two broadcasts in order).
    assert_eq!(text(&mut b), "for all");
    assert_eq!(text(&mut b2), "for all");
    // The other service's broadcaster reaches only its own WebSocket.
    other_broadcaster.broadcast(&Message::Text("other".into()));
    assert_eq!(text(&mut stranger), "other");
    broadcaster.broadcast(&Message::Text("last".into()));
    assert_eq!(text(&mut a), "last");
    drop((a, b, b2, stranger));
    stop_when_idle(&server);
    stop_when_idle(&other);
}

#[test]
fn handle_ids_match_their_connections_and_a_handle_closes_with_a_code() {
    let (tx, opened) = crossbeam_channel::unbounded();
    let server = service(Arc::new(Subscribers(tx)))
        .install(muon::TcpServer::builder("127.0.0.1:0").threads(2))
        .started();
    let mut one = subscribe(server.local_addr(), "x");
    let mut two = subscribe(server.local_addr(), "y");
    let (id1, h1) = opened.recv_timeout(WAIT).expect("open");
    let (id2, h2) = opened.recv_timeout(WAIT).expect("open");
    assert_eq!((h1.id(), h2.id()), (id1, id2));
    assert_ne!(id1, id2);
    // Kept in a map by id, as an application would.
    let handles: std::collections::HashMap<ConnId, WsHandle> = [(id1, h1), (id2, h2)].into();
    assert!(handles[&id2].close(4001, "bye"));
    // `two` upgraded second (after `one` had its "ok"), so it is id2.
    let (_, op, closed) = read_ws_frame(&mut two.reader).expect("close frame");
    assert_eq!(op, CLOSE);
    assert_eq!(&closed[..2], &4001u16.to_be_bytes());
    assert_eq!(&closed[2..], b"bye");
    // The other one is still served.
    assert!(handles[&id1].send(&Message::Text("still here".into())));
    assert_eq!(text(&mut one), "still here");
    two.send(&ws_frame(true, CLOSE, &closed[..2]));
    assert!(two.closed_by_server());
    drop((one, two));
    stop_when_idle(&server);
}

#[test]
fn response_json_has_the_json_content_type() {
    let (tx, _opened) = crossbeam_channel::unbounded();
    let server = service(Arc::new(Subscribers(tx)))
        .install(muon::TcpServer::builder("127.0.0.1:0").threads(1))
        .started();
    let mut c = Client::new(server.local_addr());
    c.send(&get("/json"));
    let r = c.response();
    assert_eq!(
        (r.header("content-type"), r.text()),
        (Some("application/json"), r#"{"ok":true}"#)
    );
    drop(c);
    stop_when_idle(&server);
}

per_provider!(wss_echo_and_close);
fn wss_echo_and_close(provider: Provider) {
    fn echo(ws: &mut WsConn<'_>, m: Message) {
        ws.send(&m);
    }
    let tls = provider.acceptor(&ServerOpts {
        alpn: vec![muon::http::ALPN_HTTP11],
        ..ServerOpts::default()
    });
    let server = HttpService::new(Router::new().websocket("/echo", echo))
        .install(muon::TcpServer::builder("127.0.0.1:0").threads(2).tls(tls))
        .started();
    let mut s = client_config(None)
        .connect("localhost", common::connect(server.local_addr()))
        .expect("TLS handshake");
    s.write_all(
        b"GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let mut reader = std::io::BufReader::new(s);
    let r = common::http::read_response(&mut reader, true).unwrap();
    assert_eq!(r.status, 101);
    let big = common::payload(60_000, 3);
    for (op, data) in [(TEXT, &b"over tls"[..]), (BINARY, &big[..])] {
        reader
            .get_mut()
            .write_all(&ws_frame(true, op, data))
            .unwrap();
        assert_eq!(
            read_ws_frame(&mut reader).unwrap(),
            (true, op, data.to_vec())
        );
    }
    reader
        .get_mut()
        .write_all(&ws_frame(true, CLOSE, &[0x03, 0xe8]))
        .unwrap();
    assert_eq!(read_ws_frame(&mut reader).unwrap().1, CLOSE);
    // After its close frame the server ends TLS with close_notify: the stream reads a
    // clean end, nothing more.
    let socket = reader.get_ref().get_ref().try_clone().unwrap();
    let closed = common::read_until_closed(
        &mut reader,
        &socket,
        common::CLOSE_WITHIN,
        "a WebSocket after its close frame",
    );
    assert_eq!(closed.ending, common::Ending::Eof, "{closed:?}");
    assert!(closed.bytes.is_empty(), "after the close frame: {closed:?}");
    assert!(
        close_notify_received(reader.get_mut()),
        "{provider:?}: an EOF without close_notify"
    );
    drop(reader);
    stop_when_idle(&server);
}
