//! TcpClient over loopback: echo, retry with backoff, reconnect, half-close, and
//! stopping in every state.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use muon::{RetryPolicy, TcpClient};

/// A port with nothing listening (bound, then released).
fn refused_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[test]
fn client_echoes_through_muon_server() {
    init_logging();
    let server = echo_server(2);
    let (b, rx) = collecting_client(&server.local_addr().to_string());
    let client = b.connect().unwrap();
    let conn = client.wait_connected(IO_TIMEOUT).unwrap();
    let data = payload(1 << 20, 9);
    assert!(conn.send(data.clone()));
    assert!(recv_exactly(&rx, data.len()) == data);
    drop(client);
    stop_when_idle(&server);
}

#[test]
fn refused_port_backs_off_then_gives_up() {
    init_logging();
    let delays = Arc::new(Mutex::new(Vec::new()));
    let seen = delays.clone();
    let started = Instant::now();
    let client = TcpClient::builder(&refused_port().to_string())
        .retry(RetryPolicy {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_secs(1),
            max_attempts: Some(5),
            jitter: true,
        })
        .on_retry(move |_n, delay, err| {
            assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
            seen.lock().unwrap().push((delay, Instant::now()));
        })
        .connect()
        .unwrap();
    let err = client.wait_connected(IO_TIMEOUT).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    assert!(client.gave_up());
    assert_eq!(client.failures(), 5);
    let delays = delays.lock().unwrap().clone();
    assert_eq!(delays.len(), 4, "a retry after each failure but the last");
    // The chosen delays grow (equal jitter keeps each within [d/2, d] of a doubling d).
    for w in delays.windows(2) {
        assert!(w[1].0 >= w[0].0, "delays shrank: {delays:?}");
    }
    assert!(delays[3].0 >= 2 * delays[0].0, "no growth: {delays:?}");
    // Each is equal jitter around its doubling: the retry after n failures waits
    // within [d/2, d] of d = 20 ms x 2^(n-1).
    for (i, (delay, at)) in delays.iter().enumerate() {
        let d = Duration::from_millis(20) * (1 << i);
        assert!(
            *delay >= d / 2 && *delay <= d,
            "retry {}: {delay:?} outside [{:?}, {d:?}]: {delays:?}",
            i + 1,
            d / 2
        );
        assert!(*at > started);
    }
    // And the observed gaps between attempts follow them.
    let gaps: Vec<_> = delays.windows(2).map(|w| w[1].1 - w[0].1).collect();
    for (gap, (delay, _)) in gaps.iter().zip(&delays) {
        assert!(
            *gap >= *delay,
            "retried after {gap:?}, before its delay {delay:?}"
        );
    }
}

#[test]
fn reconnects_after_the_server_comes_back() {
    init_logging();
    let server = echo_server(1);
    let addr = server.local_addr();
    let (b, rx) = collecting_client(&addr.to_string());
    let client = b
        .reconnect(true)
        .retry(RetryPolicy {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            max_attempts: None,
            jitter: true,
        })
        .connect()
        .unwrap();
    let first = client.wait_connected(IO_TIMEOUT).unwrap();
    assert!(first.send(b"one".to_vec()));
    assert_eq!(recv_exactly(&rx, 3), b"one");
    assert!(server.stop());
    assert!(wait_until(Duration::from_secs(5), || client
        .connection()
        .is_none()));
    // Same port again.
    let server = muon::TcpServer::builder(addr).threads(1).echo().started();
    let second = client.wait_connected(IO_TIMEOUT).unwrap();
    assert_ne!(first.id(), second.id());
    assert!(second.send(b"two".to_vec()));
    assert_eq!(recv_exactly(&rx, 3), b"two");
    drop(client);
    assert!(server.stop());
}

#[test]
fn client_half_close_still_receives_the_whole_reply() {
    init_logging();
    let reply = payload(2 << 20, 5);
    let r = reply.clone();
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .on_message(|_conn, input| input.retrieve_all())
        .on_half_close(move |conn| {
            conn.send(&r);
            conn.shutdown();
        })
        .started();
    let (down_tx, down_rx) = crossbeam_channel::unbounded();
    let (b, rx) = collecting_client(&server.local_addr().to_string());
    let client = b
        .on_connection(move |conn| {
            if !conn.is_connected() {
                let _ = down_tx.send(conn.is_peer_closed());
            }
        })
        .connect()
        .unwrap();
    let conn = client.wait_connected(IO_TIMEOUT).unwrap();
    assert!(conn.send(b"request".to_vec()));
    assert!(conn.shutdown());
    assert!(recv_exactly(&rx, reply.len()) == reply);
    assert!(
        down_rx.recv_timeout(IO_TIMEOUT).unwrap(),
        "closed after the server's EOF"
    );
    drop(client);
    assert!(server.stop());
}

#[test]
fn stopping_in_every_state_releases_everything() {
    init_logging();
    // Backing off.
    let mut backing_off = TcpClient::builder(&refused_port().to_string())
        .retry(RetryPolicy {
            initial_delay: Duration::from_secs(30),
            ..Default::default()
        })
        .connect()
        .unwrap();
    assert!(wait_until(Duration::from_secs(5), || backing_off
        .failures()
        == 1));
    let t = Instant::now();
    backing_off.stop();
    assert!(t.elapsed() < Duration::from_secs(2));
    // Connected, on a loop the caller owns: stopping closes the connection there.
    let server = echo_server(1);
    let lp = muon::EventLoop::new("user-loop").unwrap();
    let lh = lp.handle();
    let thread = std::thread::spawn(move || lp.run());
    let mut client = TcpClient::builder(&server.local_addr().to_string())
        .event_loop(lh.clone())
        .connect()
        .unwrap();
    client.wait_connected(IO_TIMEOUT).unwrap();
    client.stop();
    assert!(wait_until(Duration::from_secs(5), || client
        .connection_count()
        == 0));
    assert!(wait_until(Duration::from_secs(5), || server
        .connection_count()
        == 0));
    let (tx, rx) = crossbeam_channel::bounded(1);
    lh.queue_in_loop(move |ctx| {
        tx.send((ctx.connection_count(), ctx.timer_count()))
            .unwrap()
    });
    assert_eq!(
        rx.recv_timeout(IO_TIMEOUT).unwrap(),
        (0, 0),
        "left on the loop"
    );
    lh.quit();
    thread.join().unwrap().unwrap();
    // Dropped while connected, on its own loop.
    let client = TcpClient::builder(&server.local_addr().to_string())
        .connect()
        .unwrap();
    client.wait_connected(IO_TIMEOUT).unwrap();
    drop(client);
    stop_when_idle(&server);
}
