//! WebSocket over real sockets: echo, fragmentation with control frames between,
//! the close handshake, protocol failures with their close codes, refusals of bad
//! upgrades, sends from other threads, and broadcast across loops. (wss runs on both TLS
//! providers in the root package's tests/server_ws_api.rs.)

#[path = "../../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::io::Write;

use common::http::{get, http_server, read_ws_frame, ws_frame, ws_upgrade, Client};
use common::stop_when_idle;
use net_http::{Limits, Message, Response, Router, WsConn, WsHandler};

const TEXT: u8 = 1;
const BINARY: u8 = 2;
const CLOSE: u8 = 8;
const PING: u8 = 9;
const PONG: u8 = 10;

fn echo(ws: &mut WsConn<'_>, m: Message) {
    ws.send(&m);
}

struct Greeter;

impl WsHandler for Greeter {
    fn on_open(&self, ws: &mut WsConn<'_>) {
        let handle = ws.handle();
        std::thread::spawn(move || handle.send(&Message::Text("hello from a thread".into())));
    }
    fn on_message(&self, ws: &mut WsConn<'_>, m: Message) {
        if m == Message::Text("bye".into()) {
            ws.close(4000, "as you wish");
        }
    }
}

struct Chat;

impl WsHandler for Chat {
    fn on_message(&self, ws: &mut WsConn<'_>, m: Message) {
        ws.broadcast(&m);
    }
}

fn app() -> Router {
    Router::new()
        .get("/", |_r, _c| Response::text("root\n").into())
        .websocket("/echo", echo)
        .websocket("/greet", Greeter)
        .websocket("/chat", Chat)
}

fn limits() -> Limits {
    Limits {
        ws_max_message_bytes: 64 * 1024,
        ..Limits::default()
    }
}

fn close_code(payload: &[u8]) -> u16 {
    u16::from_be_bytes([payload[0], payload[1]])
}

#[test]
fn echo_fragments_ping_and_the_close_handshake() {
    let server = http_server(app(), limits(), 2);
    let mut c = Client::new(server.local_addr());
    ws_upgrade(&mut c, "/echo");
    c.send(&ws_frame(true, TEXT, "héllo".as_bytes()));
    assert_eq!(
        read_ws_frame(&mut c.reader).unwrap(),
        (true, TEXT, "héllo".as_bytes().to_vec())
    );
    let big = common::payload(60_000, 3);
    c.send(&ws_frame(true, BINARY, &big));
    assert_eq!(read_ws_frame(&mut c.reader).unwrap(), (true, BINARY, big));
    // A text message in three fragments with a ping between, the "é" cut in two.
    let e = "é".as_bytes();
    c.send(
        &[
            ws_frame(false, TEXT, &[b'a', e[0]]),
            ws_frame(true, PING, b"are you there"),
            ws_frame(false, 0, &[e[1], b'b']),
            ws_frame(true, 0, b"c"),
        ]
        .concat(),
    );
    assert_eq!(
        read_ws_frame(&mut c.reader).unwrap(),
        (true, PONG, b"are you there".to_vec())
    );
    assert_eq!(
        read_ws_frame(&mut c.reader).unwrap(),
        (true, TEXT, "aébc".as_bytes().to_vec())
    );
    // Close with a code: the server echoes it and closes.
    c.send(&ws_frame(true, CLOSE, &[0x03, 0xe8, b'o', b'k']));
    let (_, op, payload) = read_ws_frame(&mut c.reader).unwrap();
    assert_eq!((op, close_code(&payload)), (CLOSE, 1000));
    assert!(c.closed_by_server());
    drop(c);
    stop_when_idle(&server);
}

/// Sends `frames` after the upgrade; expects a close frame with `code`, then EOF.
fn fails_with(server: &net::ServerHandle, frames: &[u8], code: u16) {
    let mut c = Client::new(server.local_addr());
    ws_upgrade(&mut c, "/echo");
    c.send(frames);
    let (_, op, payload) = read_ws_frame(&mut c.reader).unwrap();
    assert_eq!((op, close_code(&payload)), (CLOSE, code), "{payload:?}");
    assert!(c.closed_by_server());
}

#[test]
fn protocol_violations_close_with_their_codes() {
    common::init_logging();
    let server = http_server(app(), limits(), 1);
    let mut unmasked = ws_frame(true, TEXT, b"");
    unmasked[1] &= 0x7f;
    fails_with(&server, &unmasked[..2], 1002);
    fails_with(
        &server,
        &ws_frame(true, TEXT, &[b'o', b'k', 0xc0, 0xaf]),
        1007,
    );
    // Invalid UTF-8 in the first fragment fails before the message ends.
    fails_with(&server, &ws_frame(false, TEXT, &[0xed, 0xa0, 0x80]), 1007);
    fails_with(
        &server,
        &ws_frame(true, BINARY, &vec![0; 64 * 1024 + 1]),
        1009,
    );
    fails_with(&server, &ws_frame(true, 0, b"orphan"), 1002);
    fails_with(&server, &ws_frame(false, PING, b""), 1002);
    fails_with(&server, &ws_frame(true, 3, b""), 1002);
    fails_with(&server, &ws_frame(true, CLOSE, &[0x03, 0xed]), 1002);
    let mut rsv = ws_frame(true, TEXT, b"x");
    rsv[0] |= 0x40;
    fails_with(&server, &rsv, 1002);
    stop_when_idle(&server);
}

#[test]
fn bad_upgrades_are_refused_and_plain_http_goes_on() {
    let server = http_server(app(), limits(), 1);
    let mut c = Client::new(server.local_addr());
    c.send(&get("/echo"));
    assert_eq!(c.response().status, 426);
    let upgrade = "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    c.send(format!("{upgrade}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n").as_bytes());
    let r = c.response();
    assert_eq!(
        (r.status, r.header("sec-websocket-version")),
        (426, Some("13"))
    );
    c.send(
        format!("{upgrade}Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(c.response().status, 400);
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    let r = c.response();
    assert_eq!((r.status, r.header("allow")), (405, Some("GET")));
    c.send(&get("/"));
    assert_eq!(c.response().text(), "root\n");
    // Frames pipelined right behind the upgrade request are WebSocket frames.
    c.send(&[
        format!("{upgrade}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").into_bytes(),
        ws_frame(true, TEXT, b"right behind"),
    ]
    .concat());
    assert_eq!(c.head_response().status, 101);
    assert_eq!(read_ws_frame(&mut c.reader).unwrap().2, b"right behind");
    drop(c);
    stop_when_idle(&server);
}

#[test]
fn a_thread_sends_through_a_handle_and_the_server_closes_with_a_code() {
    let server = http_server(app(), limits(), 1);
    let mut c = Client::new(server.local_addr());
    ws_upgrade(&mut c, "/greet");
    assert_eq!(
        read_ws_frame(&mut c.reader).unwrap().2,
        b"hello from a thread"
    );
    c.send(&ws_frame(true, TEXT, b"bye"));
    let (_, op, payload) = read_ws_frame(&mut c.reader).unwrap();
    assert_eq!(
        (op, close_code(&payload), &payload[2..]),
        (CLOSE, 4000, &b"as you wish"[..])
    );
    c.send(&ws_frame(true, CLOSE, &payload[..2]));
    assert!(c.closed_by_server());
    drop(c);
    stop_when_idle(&server);
}

#[test]
fn broadcast_reaches_every_websocket_on_every_loop_in_sender_order() {
    const CLIENTS: usize = 6;
    const PER_CLIENT: usize = 20;
    let server = http_server(app(), limits(), 3);
    let mut clients: Vec<Client> = (0..CLIENTS)
        .map(|_| {
            let mut c = Client::new(server.local_addr());
            ws_upgrade(&mut c, "/chat");
            c
        })
        .collect();
    // A plain HTTP connection is a sibling too, and must not get WebSocket frames.
    let mut plain = Client::new(server.local_addr());
    plain.send(&get("/"));
    assert_eq!(plain.response().status, 200);
    // Every client is known to every loop once its upgrade answered; now talk.
    for round in 0..PER_CLIENT {
        for (i, c) in clients.iter_mut().enumerate() {
            c.send(&ws_frame(true, TEXT, format!("{i}:{round}").as_bytes()));
        }
    }
    for c in clients.iter_mut() {
        let mut next: HashMap<usize, usize> = HashMap::new();
        for _ in 0..CLIENTS * PER_CLIENT {
            let (_, op, payload) = read_ws_frame(&mut c.reader).unwrap();
            assert_eq!(op, TEXT);
            let text = String::from_utf8(payload).unwrap();
            let (from, round) = text.split_once(':').unwrap();
            let (from, round): (usize, usize) = (from.parse().unwrap(), round.parse().unwrap());
            let expected = next.entry(from).or_default();
            assert_eq!(round, *expected, "messages from {from} out of order");
            *expected += 1;
        }
        assert_eq!(next.len(), CLIENTS);
    }
    plain.send(&get("/"));
    assert_eq!(plain.response().text(), "root\n");
    drop((clients, plain));
    stop_when_idle(&server);
}

#[test]
fn a_websocket_that_does_not_read_is_closed_instead_of_buffered_for() {
    const MESSAGES: usize = 2000;
    let limits = Limits {
        ws_max_queued_bytes: 256 * 1024,
        ..limits()
    };
    let server = http_server(app(), limits, 2);
    let mut lazy = Client::new(server.local_addr());
    ws_upgrade(&mut lazy, "/chat");
    let mut talker = Client::new(server.local_addr());
    ws_upgrade(&mut talker, "/chat");
    // The talker reads its own broadcasts back on a thread while it writes 32 MiB of
    // them; the lazy client reads nothing.
    let mut reader = talker.reader;
    let counted = std::thread::spawn(move || {
        (0..MESSAGES)
            .map(|_| read_ws_frame(&mut reader).unwrap().2.len())
            .sum::<usize>()
    });
    let message = vec![b'x'; 16 * 1024];
    for _ in 0..MESSAGES {
        talker
            .stream
            .write_all(&ws_frame(true, TEXT, &message))
            .unwrap();
    }
    assert_eq!(counted.join().unwrap(), MESSAGES * message.len());
    assert!(
        common::wait_until(common::IO_TIMEOUT, || server.connection_count() == 1),
        "the lazy client is still connected"
    );
    drop((lazy, talker.stream));
    stop_when_idle(&server);
}

#[test]
fn one_message_larger_than_the_queue_limit_still_reaches_a_reading_peer() {
    // Autobahn 9.1.4-9.4.9 echo 4-16 MiB messages: the queue limit is about a backlog,
    // not about one message.
    let limits = Limits {
        ws_max_queued_bytes: 16 * 1024,
        ..limits()
    };
    let server = http_server(app(), limits, 1);
    let mut c = Client::new(server.local_addr());
    ws_upgrade(&mut c, "/echo");
    let big = common::payload(60_000, 9);
    for _ in 0..3 {
        c.send(&ws_frame(true, BINARY, &big));
        assert_eq!(read_ws_frame(&mut c.reader).unwrap().2, big);
    }
    drop(c);
    stop_when_idle(&server);
}
