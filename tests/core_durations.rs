//! The duration rule (issue 25): every duration a user can pass saturates — at
//! `Duration::MAX` it means "never" — and never panics; `Duration::ZERO` means "at
//! once". Each setting is tried at both ends on real loopback sockets; the server's
//! counts (`connection_count()`, `stats().active`) must balance afterwards, and a
//! panic anywhere in the intake must not unbalance them either.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::tls::{acceptor_builder, client_config, tls_connect, tls_echo};
use common::*;
use muon::{EventLoop, Layer, LayerFactory, RetryPolicy, TcpClient, TcpServer};

const MAX: Duration = Duration::MAX;
const ZERO: Duration = Duration::ZERO;

/// Stops `server` after its connections are gone and checks that the counts
/// balanced and that the stop was prompt (a leaked count makes stop wait its whole
/// timeout).
fn stop_balanced(server: &muon::ServerHandle) {
    assert!(
        wait_until(Duration::from_secs(10), || server.connection_count() == 0),
        "{} connections still counted",
        server.connection_count()
    );
    let stats = server.stats();
    assert_eq!(stats.active, 0, "{stats:?}");
    assert_eq!(stats.accepted, stats.closes.total(), "{stats:?}");
    let t = Instant::now();
    assert!(server.stop(), "server did not stop");
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "stop took {:?}",
        t.elapsed()
    );
}

fn echo_once(addr: SocketAddr) {
    let mut s = connect(addr);
    s.write_all(b"ping").unwrap();
    let mut back = [0; 4];
    s.read_exact(&mut back).expect("echo");
    assert_eq!(&back, b"ping");
}

#[test]
fn idle_timeout_max_never_fires() {
    init_logging();
    let server = TcpServer::builder("127.0.0.1:0")
        .idle_timeout(MAX)
        .stop_timeout(Duration::from_secs(2))
        .echo()
        .started();
    echo_once(server.local_addr());
    stop_balanced(&server);
}

#[test]
fn idle_timeout_zero_closes_at_once() {
    init_logging();
    let server = TcpServer::builder("127.0.0.1:0")
        .idle_timeout(ZERO)
        .echo()
        .started();
    let mut s = connect(server.local_addr());
    let got = read_to_eof(&mut s).expect("EOF from the server, not a read timeout");
    assert!(got.is_empty());
    assert!(wait_until(IO_TIMEOUT, || server
        .stats()
        .closes
        .idle_timeout
        == 1));
    stop_balanced(&server);
}

#[test]
fn tls_handshake_timeout_max_never_fires() {
    init_logging();
    let acceptor = acceptor_builder().handshake_timeout(MAX).build().unwrap();
    let server = TcpServer::builder("127.0.0.1:0")
        .tls(acceptor)
        .echo()
        .started();
    let mut s = tls_connect(server.local_addr(), &client_config(None));
    assert_eq!(tls_echo(&mut s, b"over tls"), b"over tls");
    drop(s);
    stop_balanced(&server);
}

#[test]
fn tls_handshake_timeout_zero_fails_the_handshake() {
    init_logging();
    let acceptor = acceptor_builder().handshake_timeout(ZERO).build().unwrap();
    let server = TcpServer::builder("127.0.0.1:0")
        .tls(acceptor)
        .echo()
        .started();
    let s = connect(server.local_addr());
    // The client's Finished needs a round trip; the timer is due before it.
    assert!(client_config(None).connect("localhost", s).is_err());
    assert!(wait_until(IO_TIMEOUT, || server
        .stats()
        .closes
        .handshake_timeout
        == 1));
    stop_balanced(&server);
}

#[test]
fn connection_run_after_at_both_ends() {
    init_logging();
    let server = TcpServer::builder("127.0.0.1:0")
        .on_connection(|conn| {
            if conn.is_connected() {
                conn.run_after(MAX, |c| {
                    c.send(b"never");
                });
                conn.run_after(ZERO, |c| {
                    c.send(b"tick");
                });
            }
        })
        .echo()
        .started();
    let mut s = connect(server.local_addr());
    let mut tick = [0; 4];
    s.read_exact(&mut tick)
        .expect("the zero-delay timer's bytes");
    assert_eq!(&tick, b"tick");
    // The connection is still served (before the fix the MAX timer's overflow was
    // caught as a callback panic, which closed the connection).
    s.write_all(b"ping").unwrap();
    let mut back = [0; 4];
    s.read_exact(&mut back)
        .expect("echo after the timers were set");
    assert_eq!(&back, b"ping");
    drop(s);
    stop_balanced(&server);
}

#[test]
fn loop_timers_at_both_ends() {
    init_logging();
    let lp = EventLoop::new("durations").unwrap();
    let handle = lp.handle();
    let thread = std::thread::spawn(move || lp.run());
    let (tx, rx) = mpsc::channel::<&'static str>();

    // From another thread: LoopHandle.
    let never_a = handle.run_after(MAX, |_| panic!("run_after(MAX) fired"));
    let never_b = handle.run_every(MAX, |_| panic!("run_every(MAX) fired"));
    let t = tx.clone();
    handle.run_after(ZERO, move |_| {
        let _ = t.send("handle run_after(0)");
    });
    let fired = Arc::new(AtomicUsize::new(0));
    let (f, t) = (fired.clone(), tx.clone());
    let every = handle.run_every(ZERO, move |_| {
        if f.fetch_add(1, Ordering::SeqCst) == 2 {
            let _ = t.send("handle run_every(0) x3");
        }
    });
    assert_eq!(rx.recv_timeout(IO_TIMEOUT), Ok("handle run_after(0)"));
    assert_eq!(rx.recv_timeout(IO_TIMEOUT), Ok("handle run_every(0) x3"));
    handle.cancel(every);

    // On the loop: LoopCtx.
    let t = tx.clone();
    handle.queue_in_loop(move |ctx| {
        let a = ctx.run_after(MAX, |_| panic!("ctx run_after(MAX) fired"));
        let b = ctx.run_every(MAX, |_| panic!("ctx run_every(MAX) fired"));
        // The two LoopHandle timers at MAX and these two are pending.
        assert_eq!(ctx.timer_count(), 4);
        assert!(ctx.cancel(a) && ctx.cancel(b));
        let t2 = t.clone();
        ctx.run_after(ZERO, move |_| {
            let _ = t2.send("ctx run_after(0)");
        });
        let n = Arc::new(AtomicUsize::new(0));
        ctx.run_every(ZERO, move |ctx| {
            if n.fetch_add(1, Ordering::SeqCst) == 2 {
                let _ = t.send("ctx run_every(0) x3");
                let _ = ctx; // cancelled below, from the test thread's handle
            }
        });
    });
    let mut got = vec![
        rx.recv_timeout(IO_TIMEOUT).unwrap(),
        rx.recv_timeout(IO_TIMEOUT).unwrap(),
    ];
    got.sort();
    assert_eq!(got, ["ctx run_after(0)", "ctx run_every(0) x3"]);
    handle.cancel(never_a);
    handle.cancel(never_b);
    handle.quit();
    thread.join().unwrap().unwrap();
}

#[test]
fn client_connect_timeout_and_wait_at_both_ends() {
    init_logging();
    let server = echo_server(1);
    let addr = server.local_addr().to_string();
    {
        let (b, rx) = collecting_client(&addr);
        let mut client = b.connect_timeout(MAX).connect().unwrap();
        // "Wait forever" (documented): returns as soon as the connection is up.
        let conn = client.wait_connected(MAX).expect("connected");
        assert!(conn.send(b"max".to_vec()));
        assert_eq!(recv_exactly(&rx, 3), b"max");
        // Up already: a zero wait returns the connection.
        assert!(client.wait_connected(ZERO).is_ok());
        client.stop();
        assert_eq!(client.connection_count(), 0);
    }
    {
        // A zero connect timeout ends the attempt at the next timer pass unless the
        // connect completed first: either outcome, but no panic, and a clean stop.
        let mut client = TcpClient::builder(&addr)
            .connect_timeout(ZERO)
            .retry(RetryPolicy::no_retry())
            .connect()
            .unwrap();
        match client.wait_connected(IO_TIMEOUT) {
            Ok(_) => {}
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}"),
        }
        client.stop();
        assert_eq!(client.connection_count(), 0);
    }
    {
        // Nothing listens and the client retries forever: a zero wait times out at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let client = TcpClient::builder(&port.to_string()).connect().unwrap();
        let t = Instant::now();
        let e = client.wait_connected(ZERO).unwrap_err();
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::ConnectionRefused
            ),
            "{e}"
        );
        assert!(t.elapsed() < Duration::from_secs(1));
    }
    stop_balanced(&server);
}

#[test]
fn retry_policy_at_both_ends() {
    for jitter in [false, true] {
        let p = RetryPolicy {
            initial_delay: MAX,
            max_delay: MAX,
            max_attempts: None,
            jitter,
        };
        for n in [0, 1, 2, 31, 32, 1000, u32::MAX] {
            let d = p.delay(n);
            assert!(d <= MAX && (jitter || d == MAX), "{n}: {d:?}");
        }
        let p = RetryPolicy {
            initial_delay: ZERO,
            max_delay: ZERO,
            max_attempts: None,
            jitter,
        };
        assert_eq!(p.delay(u32::MAX), ZERO);
    }
}

#[test]
fn server_stop_timeout_and_grace_at_both_ends() {
    init_logging();
    for (grace, stop) in [(MAX, MAX), (ZERO, ZERO), (MAX, ZERO), (ZERO, MAX)] {
        let server = TcpServer::builder("127.0.0.1:0")
            .drain_grace(grace)
            .stop_timeout(stop)
            .echo()
            .started();
        echo_once(server.local_addr());
        stop_balanced(&server);
    }
}

#[test]
fn proxy_header_timeout_at_both_ends() {
    init_logging();
    let server = TcpServer::builder("127.0.0.1:0")
        .proxy_protocol(muon::ProxyProtocol::default().header_timeout(MAX))
        .echo()
        .started();
    let mut s = connect(server.local_addr());
    s.write_all(b"PROXY TCP4 10.0.0.1 10.0.0.2 1111 2222\r\nping")
        .unwrap();
    let mut back = [0; 4];
    s.read_exact(&mut back).expect("echo after the header");
    assert_eq!(&back, b"ping");
    drop(s);
    stop_balanced(&server);

    let server = TcpServer::builder("127.0.0.1:0")
        .proxy_protocol(muon::ProxyProtocol::default().header_timeout(ZERO))
        .echo()
        .started();
    let mut s = connect(server.local_addr());
    // No header at all: the zero timeout closes the connection at once.
    let got = read_to_eof(&mut s).expect("EOF from the server, not a read timeout");
    assert!(got.is_empty());
    stop_balanced(&server);
}

#[test]
fn http_timeouts_at_both_ends() {
    use muon::http::{Limits, Response, Router};
    init_logging();
    let router = || Router::new().get("/", |_r, _c| Response::text("root\n").into());
    let limits = Limits {
        header_read_timeout: MAX,
        keep_alive_timeout: MAX,
        ..Limits::default()
    };
    let server = common::http::http_server(router(), limits, 1);
    let mut s = connect(server.local_addr());
    let mut r = std::io::BufReader::new(s.try_clone().unwrap());
    for _ in 0..2 {
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let resp = common::http::read_response(&mut r, false).expect("response");
        assert_eq!((resp.status, resp.text()), (200, "root\n"));
    }
    drop((s, r));
    stop_balanced(&server);

    let limits = Limits {
        header_read_timeout: ZERO,
        keep_alive_timeout: ZERO,
        ..Limits::default()
    };
    let server = common::http::http_server(router(), limits, 1);
    let mut s = connect(server.local_addr());
    let got = read_to_eof(&mut s).expect("EOF from the server, not a read timeout");
    assert!(
        got.is_empty() || got.starts_with(b"HTTP/1.1 408"),
        "{got:?}"
    );
    stop_balanced(&server);
}

/// A layer factory whose `new_layer` panics: user code that runs in the intake, after
/// the connection was counted and before it is stored.
struct PanickingFactory;

impl LayerFactory for PanickingFactory {
    fn new_layer(&self, _peer: SocketAddr) -> std::io::Result<Box<dyn Layer>> {
        panic!("injected panic in the intake");
    }
    fn handshake_timeout(&self) -> Option<Duration> {
        None
    }
}

#[test]
fn a_panic_in_the_intake_gives_the_count_back() {
    init_logging();
    for per_loop in [false, true] {
        let server = TcpServer::builder("127.0.0.1:0")
            .threads(2)
            .accept_per_loop(per_loop)
            .tls(PanickingFactory)
            .stop_timeout(Duration::from_secs(2))
            .echo()
            .build()
            .unwrap()
            .start()
            .unwrap();
        for _ in 0..4 {
            let mut s = connect(server.local_addr());
            // The server drops the socket: EOF or a reset, never data.
            let mut buf = [0; 1];
            assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
        }
        assert!(wait_until(IO_TIMEOUT, || server.stats().closes.total() == 4));
        let stats = server.stats();
        assert_eq!(stats.accepted, 4, "{stats:?}");
        assert_eq!(stats.handshakes_failed.other, 4, "{stats:?}");
        stop_balanced(&server);
    }
}
