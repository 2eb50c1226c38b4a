//! Several servers on one `LoopPool` (`TcpServerBuilder::event_loops`): both serve on
//! the pool's threads, one stops (its connections drained, its port closed) while the
//! other keeps serving, including its connections opened before; and a WebSocket
//! broadcaster reaches only its own service's WebSockets on the shared loops.

mod common;

use common::http::{read_ws_frame, ws_frame, ws_upgrade, Client};
use common::*;
use muon::http::{HttpService, Message, Router, WsConn};

/// An echo server on `pool` that reports the thread each connection came up on.
fn echo_on(
    pool: &muon::LoopPool,
    name: &str,
    threads: crossbeam_channel::Sender<String>,
) -> muon::ServerHandle {
    muon::TcpServer::builder("127.0.0.1:0")
        .name(name)
        .event_loops(pool)
        .on_connection(move |c| {
            if c.is_connected() {
                let thread = std::thread::current().name().unwrap_or("?").to_string();
                let _ = threads.send(thread);
            }
        })
        .echo()
        .started()
}

#[test]
fn two_servers_share_the_pool_and_one_stops_while_the_other_serves() {
    init_logging();
    let pool = muon::LoopPool::start("shared", 2).expect("pool");
    let (tx, threads) = crossbeam_channel::unbounded();
    let a = echo_on(&pool, "a", tx.clone());
    let b = echo_on(&pool, "b", tx);
    let a1 = connect(a.local_addr());
    let b1 = connect(b.local_addr());
    assert_eq!(echo_round_trip(&a1, b"to a"), b"to a");
    assert_eq!(echo_round_trip(&b1, b"to b"), b"to b");
    // Both servers' connections live on the pool's threads (no pool of their own).
    for _ in 0..2 {
        let t = threads.recv_timeout(IO_TIMEOUT).expect("up");
        assert!(t.starts_with("shared-"), "served on {t}");
    }
    // A stops: its connection gets the EOF (and closes, as a client does), its port
    // is closed.
    let stopping = {
        let a = a.clone();
        std::thread::spawn(move || a.stop())
    };
    let mut a1 = a1;
    assert!(read_to_eof(&mut a1).unwrap().is_empty());
    drop(a1);
    assert!(stopping.join().unwrap(), "a stopped in time");
    assert!(std::net::TcpStream::connect(a.local_addr()).is_err());
    // B goes on: its old connection and a new one, on the same loops.
    assert_eq!(echo_round_trip(&b1, b"still b"), b"still b");
    let b2 = connect(b.local_addr());
    assert_eq!(echo_round_trip(&b2, b"new b"), b"new b");
    let t = threads.recv_timeout(IO_TIMEOUT).expect("up");
    assert!(t.starts_with("shared-"), "served on {t}");
    drop((b1, b2));
    stop_when_idle(&b);
    drop(pool);
}

fn ws_service() -> HttpService {
    HttpService::new(
        Router::new().websocket("/ws", |ws: &mut WsConn<'_>, m: Message| {
            ws.send(&m);
        }),
    )
}

fn text(c: &mut Client) -> String {
    let (_, op, payload) = read_ws_frame(&mut c.reader).expect("a frame");
    assert_eq!(op, 1);
    String::from_utf8(payload).unwrap()
}

#[test]
fn a_broadcaster_reaches_only_its_services_websockets_on_shared_loops() {
    init_logging();
    let pool = muon::LoopPool::start("shared-ws", 1).expect("pool");
    let (svc_a, svc_b) = (ws_service(), ws_service());
    let (to_a, to_b) = (svc_a.broadcaster(), svc_b.broadcaster());
    let a = svc_a
        .install(muon::TcpServer::builder("127.0.0.1:0").event_loops(&pool))
        .started();
    let b = svc_b
        .install(muon::TcpServer::builder("127.0.0.1:0").event_loops(&pool))
        .started();
    let mut wa = Client::new(a.local_addr());
    ws_upgrade(&mut wa, "/ws");
    let mut wb = Client::new(b.local_addr());
    ws_upgrade(&mut wb, "/ws");
    // Both are open (an echo each) before the broadcasts.
    for c in [&mut wa, &mut wb] {
        c.send(&ws_frame(true, 1, b"hi"));
        assert_eq!(text(c), "hi");
    }
    // One loop holds both WebSockets; each broadcaster sends only to its own.
    to_a.broadcast(&Message::Text("for a".into()));
    to_b.broadcast(&Message::Text("for b".into()));
    assert_eq!(text(&mut wa), "for a");
    assert_eq!(text(&mut wb), "for b");
    for c in [&mut wa, &mut wb] {
        c.send(&ws_frame(true, 8, &1000u16.to_be_bytes()));
        assert_eq!(read_ws_frame(&mut c.reader).unwrap().1, 8, "close answered");
        assert!(c.closed_by_server());
    }
    drop((wa, wb));
    stop_when_idle(&a);
    stop_when_idle(&b);
    drop(pool);
}
