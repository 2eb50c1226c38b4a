//! Per-server counters (`ServerHandle::stats`): every accepted connection is counted
//! once in a close cause, bytes match what the clients moved, handshakes are counted
//! ok or failed by reason.

mod common;

use std::io::Write;
use std::time::Duration;

use common::tls::*;
use common::*;

/// Waits until the server has accepted `accepted` connections and released every one,
/// then returns its stats.
fn settled(server: &muon::ServerHandle, accepted: u64) -> muon::ServerStats {
    assert!(wait_until(IO_TIMEOUT, || server.stats().accepted
        == accepted
        && server.connection_count() == 0));
    let s = server.stats();
    assert_eq!(s.active, 0);
    assert_eq!(
        s.closes.total(),
        s.accepted,
        "every accepted connection closed once: {s:?}"
    );
    s
}

#[test]
fn plain_echo_counts_connections_bytes_and_peer_eof() {
    let server = echo_server(2);
    let mut sent = 0u64;
    for i in 0..10 {
        let mut c = connect(server.local_addr());
        let data = payload(1000 + i * 100, i as u64);
        assert_eq!(echo_round_trip(&c, &data), data);
        sent += data.len() as u64;
        half_close(&c);
        assert!(read_to_eof(&mut c).unwrap().is_empty());
    }
    let s = settled(&server, 10);
    assert_eq!((s.bytes_in, s.bytes_out), (sent, sent));
    assert_eq!(s.closes.peer_eof, 10, "{s:?}");
    assert_eq!(s.handshakes_ok + s.handshakes_failed.total(), 0);
    assert!(server.stop());
}

#[test]
fn our_shutdown_force_close_and_idle_timeout_are_told_apart() {
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .idle_timeout(Duration::from_millis(200))
        .on_message(|conn, input| match input.retrieve_all_as_vec().as_slice() {
            b"shutdown" => conn.shutdown(),
            b"force" => conn.force_close(),
            _ => {}
        })
        .started();
    let addr = server.local_addr();
    for cmd in [&b"shutdown"[..], b"force"] {
        let mut c = connect(addr);
        c.write_all(cmd).unwrap();
        expect_closed(&mut c, "a connection closed by its command"); // EOF, or a reset after force_close
    }
    let mut idle = connect(addr);
    expect_closed(&mut idle, "an idle connection");
    let s = settled(&server, 3);
    assert_eq!((s.closes.shutdown, s.closes.forced), (1, 1), "{s:?}");
    assert_eq!(s.closes.idle_timeout, 1, "{s:?}");
    assert!(server.stop());
}

#[test]
fn a_peer_reset_counts_as_an_error() {
    let server = echo_server(1);
    let c = connect(server.local_addr());
    assert_eq!(echo_round_trip(&c, b"x"), b"x");
    common::reset(&c);
    drop(c);
    let s = settled(&server, 1);
    assert_eq!(s.closes.error, 1, "{s:?}");
    assert!(server.stop());
}

#[test]
fn tls_handshakes_ok_and_failed_by_reason() {
    let acceptor = acceptor_builder()
        .handshake_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let server = tls_echo_server(acceptor, 2);
    let addr = server.local_addr();
    let config = client_config(None);
    for _ in 0..3 {
        let mut s = tls_connect(addr, &config);
        assert_eq!(tls_echo(&mut s, b"hello"), b"hello");
        s.shutdown().unwrap();
    }
    // Not TLS: the layer refuses it.
    let mut garbage = connect(addr);
    garbage.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    expect_closed(&mut garbage, "a non-TLS client");
    // Silent: the handshake timer fires.
    let mut silent = connect(addr);
    expect_closed(&mut silent, "a silent client");
    // Gone before saying anything.
    drop(connect(addr));
    let s = settled(&server, 6);
    assert_eq!(s.handshakes_ok, 3, "{s:?}");
    let f = s.handshakes_failed;
    assert_eq!((f.protocol, f.timeout, f.peer_closed), (1, 1, 1), "{s:?}");
    assert_eq!(s.closes.handshake_timeout, 1, "{s:?}");
    assert!(server.stop());
}

#[test]
fn stats_are_readable_from_another_thread_while_serving() {
    let server = echo_server(2);
    let reader = {
        let server = server.clone();
        std::thread::spawn(move || {
            let mut last = 0;
            for _ in 0..1000 {
                let a = server.stats().accepted;
                assert!(a >= last, "accepted went down");
                last = a;
            }
        })
    };
    for i in 0..20 {
        let c = connect(server.local_addr());
        assert_eq!(echo_round_trip(&c, &payload(64, i)), payload(64, i));
    }
    reader.join().unwrap();
    settled(&server, 20);
    assert!(server.stop());
}
