//! `UdpClient` against real loopback peers: replies, timeouts, ICMP "port
//! unreachable", late replies, close with requests waiting.

mod common;

use std::io;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::{wait_until, IO_TIMEOUT};
use crossbeam_channel::{bounded, Receiver};
use muon::udp::{UdpClient, UdpServer};

type Reply = Result<Vec<u8>, io::ErrorKind>;

fn ask(client: &UdpClient, data: &[u8], timeout: Duration) -> Receiver<Reply> {
    let (tx, rx) = bounded(1);
    client
        .request(data, timeout, move |_ctx, r| {
            let _ = tx.send(r.map(<[u8]>::to_vec).map_err(|e| e.kind()));
        })
        .unwrap();
    rx
}

fn answer(rx: &Receiver<Reply>) -> Reply {
    rx.recv_timeout(IO_TIMEOUT).expect("the callback never ran")
}

#[test]
fn requests_get_their_replies_in_order() {
    let lp = common::LoopThread::start("udp-client-test");
    let server = UdpServer::builder("127.0.0.1:0")
        .threads(1)
        .on_datagram(|ctx, d, _, _| {
            ctx.reply(d);
        })
        .build()
        .unwrap()
        .start()
        .unwrap();
    let client = UdpClient::connect(&lp.handle, server.local_addr()).unwrap();
    let pending: Vec<_> = (0..50u32)
        .map(|i| ask(&client, &i.to_be_bytes(), IO_TIMEOUT))
        .collect();
    for (i, rx) in pending.iter().enumerate() {
        assert_eq!(answer(rx), Ok((i as u32).to_be_bytes().to_vec()));
    }
    let s = client.stats();
    assert_eq!((s.datagrams_out, s.datagrams_in), (50, 50));
    assert!(server.stop());
}

#[test]
fn a_silent_server_times_out_within_the_timeout() {
    let lp = common::LoopThread::start("udp-client-test");
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let client = UdpClient::connect(&lp.handle, silent.local_addr().unwrap()).unwrap();
    let started = Instant::now();
    let rx = ask(&client, b"anyone?", Duration::from_millis(200));
    assert_eq!(answer(&rx), Err(io::ErrorKind::TimedOut));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200),
        "timed out early: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "timed out late: {took:?}");
}

#[test]
fn nobody_listening_is_connection_refused() {
    let lp = common::LoopThread::start("udp-client-test");
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // The socket above is closed: the kernel answers with ICMP port unreachable.
    let client = UdpClient::connect(&lp.handle, port).unwrap();
    let rx = ask(&client, b"hello?", IO_TIMEOUT);
    assert_eq!(answer(&rx), Err(io::ErrorKind::ConnectionRefused));
    assert_eq!(client.stats().drops.unreachable, 1);
}

#[test]
fn a_late_reply_is_counted_and_does_not_answer_the_next_request() {
    let lp = common::LoopThread::start("udp-client-test");
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let client = UdpClient::connect(&lp.handle, server.local_addr().unwrap()).unwrap();
    let first = ask(&client, b"one", Duration::from_millis(100));
    let mut buf = [0u8; 64];
    let (n, from) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"one");
    assert_eq!(answer(&first), Err(io::ErrorKind::TimedOut));
    server.send_to(b"late one", from).unwrap();
    assert!(wait_until(IO_TIMEOUT, || client.stats().drops.unexpected == 1));
    let second = ask(&client, b"two", IO_TIMEOUT);
    let (n, _) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"two");
    server.send_to(b"reply two", from).unwrap();
    assert_eq!(answer(&second), Ok(b"reply two".to_vec()));
}

#[test]
fn closing_fails_the_requests_still_waiting() {
    let lp = common::LoopThread::start("udp-client-test");
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let client = UdpClient::connect(&lp.handle, silent.local_addr().unwrap()).unwrap();
    let rx = ask(&client, b"x", IO_TIMEOUT);
    // The request reached the socket: the server side saw it.
    silent.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut buf = [0u8; 8];
    silent.recv_from(&mut buf).unwrap();
    client.close();
    assert_eq!(answer(&rx), Err(io::ErrorKind::ConnectionAborted));
    let err = client.request(b"y", IO_TIMEOUT, |_, _| {}).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotConnected);
}

/// A one-loop UDP echo server, and a resolver on `lp` whose only source is a hosts
/// file (in the returned directory, which the caller removes) naming it `echo.test`.
fn echo_server_and_resolver(
    lp: &common::LoopThread,
    tag: &str,
) -> (
    muon::udp::UdpServerHandle,
    muon::resolve::Resolver,
    std::path::PathBuf,
) {
    let server = UdpServer::builder("127.0.0.1:0")
        .threads(1)
        .on_datagram(|ctx, d, _, _| {
            ctx.reply(d);
        })
        .build()
        .unwrap()
        .start()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("muon-udp-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hosts"), "127.0.0.1 echo.test\n").unwrap();
    let cfg =
        muon::resolve::ResolverConfig::from_files(dir.join("none"), dir.join("hosts")).unwrap();
    let resolver = muon::resolve::Resolver::new(&lp.handle, cfg);
    (server, resolver, dir)
}

#[test]
fn a_client_by_host_name_through_the_resolver() {
    let lp = common::LoopThread::start("udp-client-test");
    let (server, resolver, dir) = echo_server_and_resolver(&lp, "host");
    let target = format!("echo.test:{}", server.local_addr().port());
    let client = UdpClient::connect_host(&lp.handle, &resolver, &target).unwrap();
    assert_eq!(client.peer_addr(), server.local_addr());
    let rx = ask(&client, b"by name", IO_TIMEOUT);
    assert_eq!(answer(&rx), Ok(b"by name".to_vec()));
    let err = match UdpClient::connect_host(&lp.handle, &resolver, "nothing.test") {
        Ok(_) => panic!("a target without a port connected"),
        Err(e) => e,
    };
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(server.stop());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// From a callback on the resolver's own loop, where the waiting `connect_host` is
/// refused, `resolve_then_connect` resolves, connects and hands over a working client
/// on that loop; an unknown name reaches the callback as the resolver's error.
#[test]
fn resolve_then_connect_works_from_the_resolvers_own_loop() {
    let lp = common::LoopThread::start("udp-client-test");
    let (server, resolver, dir) = echo_server_and_resolver(&lp, "then");
    let port = server.local_addr().port();
    let (tx, rx) = bounded(2);
    let (r, h) = (resolver.clone(), lp.handle.clone());
    assert!(lp.handle.queue_in_loop(move |_ctx| {
        let refused = UdpClient::connect_host(&h, &r, &format!("echo.test:{port}"));
        assert_eq!(
            refused.err().map(|e| e.kind()),
            Some(io::ErrorKind::WouldBlock)
        );
        for name in ["echo.test", "nothing.test"] {
            let tx = tx.clone();
            let on_loop = h.clone();
            UdpClient::resolve_then_connect(&h, &r, &format!("{name}:{port}"), move |c| {
                assert!(
                    on_loop.is_in_loop_thread(),
                    "done runs on the resolver's loop"
                );
                let _ = tx.send((name, c));
            })
            .unwrap();
        }
    }));
    let mut found = std::collections::HashMap::new();
    for _ in 0..2 {
        let (name, c) = rx.recv_timeout(IO_TIMEOUT).expect("done never ran");
        found.insert(name, c);
    }
    let client = found
        .remove("echo.test")
        .unwrap()
        .expect("echo.test connects");
    assert_eq!(client.peer_addr(), server.local_addr());
    assert_eq!(
        answer(&ask(&client, b"by name", IO_TIMEOUT)),
        Ok(b"by name".to_vec())
    );
    let err = match found.remove("nothing.test").unwrap() {
        Ok(c) => panic!("an unknown name connected to {}", c.peer_addr()),
        Err(e) => e,
    };
    assert!(err.to_string().contains("nothing.test"), "{err}");
    let bad = UdpClient::resolve_then_connect(&lp.handle, &resolver, "no-port", |_| {});
    assert_eq!(bad.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    assert!(server.stop());
    std::fs::remove_dir_all(&dir).unwrap();
}
