//! Accept modes, SO_REUSEPORT, the connection limit and the graceful stop.
//!
//! The whole core suites also run with every server accepting per loop:
//! `MUON_ACCEPT_PER_LOOP=1 cargo test --test core_echo --test core_flow --test tls ...`
//! (.ci/run does).

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

/// An echo server that records which loop took each connection.
fn recording_server(
    threads: usize,
    per_loop: bool,
) -> (muon::ServerHandle, Arc<Mutex<HashMap<usize, usize>>>) {
    let counts: Arc<Mutex<HashMap<usize, usize>>> = Arc::default();
    let seen = counts.clone();
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .threads(threads)
        .accept_per_loop(per_loop)
        .on_connection(move |conn| {
            if conn.is_connected() {
                *seen
                    .lock()
                    .unwrap()
                    .entry(conn.id().loop_index())
                    .or_default() += 1;
            }
        })
        .echo()
        .build()
        .unwrap()
        .start()
        .unwrap();
    (server, counts)
}

#[test]
fn per_loop_accept_spreads_connections_over_every_loop() {
    init_logging();
    let (server, counts) = recording_server(4, true);
    let clients: Vec<_> = (0..200).map(|_| connect(server.local_addr())).collect();
    for (i, c) in clients.iter().enumerate() {
        let data = payload(100, i as u64);
        assert_eq!(echo_round_trip(c, &data), data);
    }
    let counts = counts.lock().unwrap().clone();
    assert_eq!(counts.values().sum::<usize>(), 200);
    // 200 connections hashed over 4 listeners: a loop left empty would be a 4 * 0.75^200
    // (about 1e-25) accident; the bound below is just as safe.
    assert_eq!(counts.len(), 4, "every loop accepted: {counts:?}");
    assert!(counts.values().all(|n| *n >= 10), "spread: {counts:?}");
    assert!(wait_for_log(IO_TIMEOUT, |l| l.contains("each loop accepting for itself")).is_some());
    drop(clients);
    stop_when_idle(&server);
}

#[test]
fn per_loop_accept_on_ipv6_and_with_zero_workers() {
    init_logging();
    for (addr, threads) in [("[::1]:0", 2), ("127.0.0.1:0", 0)] {
        let server = muon::TcpServer::builder(addr)
            .threads(threads)
            .accept_per_loop(true)
            .echo()
            .build()
            .unwrap()
            .start()
            .unwrap();
        let c = connect(server.local_addr());
        assert_eq!(echo_round_trip(&c, b"per loop"), b"per loop");
        drop(c);
        stop_when_idle(&server);
    }
}

#[test]
fn reuse_port_lets_two_servers_share_a_port() {
    init_logging();
    let first = muon::TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .reuse_port(true)
        .echo()
        .build()
        .unwrap();
    let addr = first.local_addr();
    // Without SO_REUSEPORT the port is taken.
    assert!(muon::TcpServer::builder(addr).threads(1).build().is_err());
    let second = muon::TcpServer::builder(addr)
        .threads(1)
        .reuse_port(true)
        .accept_per_loop(true)
        .echo()
        .build()
        .unwrap();
    let (first, second) = (first.start().unwrap(), second.start().unwrap());
    let clients: Vec<_> = (0..100).map(|_| connect(addr)).collect();
    for c in &clients {
        assert_eq!(echo_round_trip(c, b"shared"), b"shared");
    }
    let (a, b) = (first.stats().accepted, second.stats().accepted);
    assert_eq!(a + b, 100);
    assert!(a > 0 && b > 0, "the kernel used both: {a} and {b}");
    drop(clients);
    stop_when_idle(&first);
    stop_when_idle(&second);
}

/// Beyond the limit a connection is accepted and closed at once (EOF or reset), it is
/// counted, and once a connection leaves a new one is served again.
fn limit_in_mode(per_loop: bool) {
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .threads(2)
        .accept_per_loop(per_loop)
        .max_connections(3)
        .echo()
        .started();
    let addr = server.local_addr();
    let held: Vec<_> = (0..3).map(|_| connect(addr)).collect();
    for c in &held {
        assert_eq!(echo_round_trip(c, b"in"), b"in");
    }
    for _ in 0..5 {
        let mut over = connect(addr);
        let _ = over.write_all(b"over");
        let got = expect_closed(&mut over, "a connection over the limit");
        assert!(
            got.is_empty(),
            "a connection over the limit was served: {got:?}"
        );
    }
    let s = server.stats();
    assert_eq!((s.closes.limit, s.active), (5, 3), "{s:?}");
    assert!(wait_for_log(IO_TIMEOUT, |l| l.contains("connection limit 3 reached")).is_some());
    drop(held);
    assert!(wait_until(IO_TIMEOUT, || server.connection_count() == 0));
    let again = connect(addr);
    assert_eq!(echo_round_trip(&again, b"again"), b"again");
    drop(again);
    stop_when_idle(&server);
}

#[test]
fn connection_limit_main_reactor() {
    init_logging();
    limit_in_mode(false);
}

#[test]
fn connection_limit_per_loop() {
    init_logging();
    limit_in_mode(true);
}

#[test]
fn drain_grace_lets_a_connection_finish_its_exchange_after_the_stop_began() {
    init_logging();
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .threads(2)
        .drain_grace(Duration::from_secs(10))
        .echo()
        .started();
    let addr = server.local_addr();
    let mut client = connect(addr);
    assert!(wait_until(IO_TIMEOUT, || server.connection_count() == 1));
    let stopper = {
        let server = server.clone();
        std::thread::spawn(move || server.stop())
    };
    // The stop has begun once the port refuses new connections.
    assert!(wait_until(IO_TIMEOUT, || std::net::TcpStream::connect(
        addr
    )
    .is_err()));
    assert_eq!(echo_round_trip(&client, b"still served"), b"still served");
    half_close(&client);
    assert!(read_to_eof(&mut client).unwrap().is_empty());
    assert!(
        stopper.join().unwrap(),
        "the stop completed once the client left"
    );
    // Nothing was cut: every connection (ours, and the probes that got in before the
    // stop) ended by its client.
    let s = server.stats();
    assert_eq!((s.closes.shutdown, s.closes.forced), (0, 0), "{s:?}");
}

#[test]
fn stop_without_grace_shuts_idle_connections_down_and_forces_at_the_deadline() {
    init_logging();
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .threads(2)
        .accept_per_loop(true)
        .stop_timeout(Duration::from_millis(300))
        .echo()
        .started();
    let addr = server.local_addr();
    // One idle client that answers our FIN, one that never reads nor closes.
    let mut polite = connect(addr);
    let stubborn = connect(addr);
    assert!(wait_until(IO_TIMEOUT, || server.connection_count() == 2));
    let closer = std::thread::spawn(move || {
        let eof = read_to_eof(&mut polite).unwrap();
        drop(polite);
        eof
    });
    assert!(server.stop());
    assert!(
        closer.join().unwrap().is_empty(),
        "the idle client saw a clean EOF"
    );
    let s = server.stats();
    assert_eq!(s.active, 0);
    assert_eq!(
        s.closes.shutdown + s.closes.forced + s.closes.close_delay_timeout,
        2,
        "{s:?}"
    );
    assert!(s.closes.shutdown >= 1, "{s:?}");
    drop(stubborn);
}
