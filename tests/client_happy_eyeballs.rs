//! Happy Eyeballs (RFC 8305) in `TcpClient`, with host names resolved by Muon's
//! resolver (from a hosts file the test writes): a host with several addresses is
//! tried whole within one attempt, IPv6 first; an IPv6 address that black-holes SYNs
//! loses to IPv4 after the attempt delay.

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::IO_TIMEOUT;
use muon::resolve::{Resolver, ResolverConfig};
use muon::{EventLoop, LoopHandle};
use socket2::{Domain, Socket, Type};

/// A resolver on a loop of its own whose hosts file is `hosts` (no nameserver is
/// ever asked: the test names are all in it).
struct HostsResolver {
    resolver: Resolver,
    lp: LoopHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    dir: std::path::PathBuf,
}

impl HostsResolver {
    fn new(tag: &str, hosts: &str) -> HostsResolver {
        let dir = std::env::temp_dir().join(format!("muon-he-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hosts"), hosts).unwrap();
        let cfg =
            ResolverConfig::from_files(dir.join("missing-resolv.conf"), dir.join("hosts")).unwrap();
        let event_loop = EventLoop::new("he-resolver").unwrap();
        let lp = event_loop.handle();
        let thread = Some(std::thread::spawn(move || event_loop.run().unwrap()));
        HostsResolver {
            resolver: Resolver::new(&lp, cfg),
            lp,
            thread,
            dir,
        }
    }
}

impl Drop for HostsResolver {
    fn drop(&mut self) {
        self.lp.quit();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A listener on [::1] whose accept queue is full and never drained: the kernel drops
/// further SYNs, so a connect to it neither succeeds nor fails (a black hole).
fn black_hole_v6() -> (Socket, Vec<TcpStream>, SocketAddr) {
    let s = Socket::new(Domain::IPV6, Type::STREAM, None).unwrap();
    s.bind(&"[::1]:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    s.listen(0).unwrap();
    let addr = s.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    // The queue takes backlog + 1; a third connect would already hang.
    for _ in 0..2 {
        if let Ok(c) = TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            fillers.push(c);
        }
    }
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err(),
        "the IPv6 listener still completes connects: no black hole"
    );
    (s, fillers, addr)
}

#[test]
fn a_black_holed_ipv6_address_loses_to_ipv4_after_the_delay() {
    // Both families on one port, as one host name: ::1 black-holes, 127.0.0.1 listens.
    let (hole, fillers, v6, v4_listener) = (0..20)
        .find_map(|_| {
            let (hole, fillers, v6) = black_hole_v6();
            let v4 = TcpListener::bind(("127.0.0.1", v6.port())).ok()?;
            Some((hole, fillers, v6, v4))
        })
        .expect("no port free on both families");
    let v4 = v4_listener.local_addr().unwrap();
    let r = HostsResolver::new("hole", "127.0.0.1 dual.test\n::1 dual.test\n");
    let (tx, rx) = crossbeam_channel::bounded(1);
    let started = Instant::now();
    let mut client = muon::TcpClient::builder(&format!("dual.test:{}", v6.port()))
        .name("he")
        .resolver(r.resolver.clone())
        .connect_timeout(Duration::from_secs(10))
        .on_connection(move |conn| {
            if conn.is_connected() {
                let _ = tx.send((conn.peer_addr(), started.elapsed()));
            }
        })
        .connect()
        .unwrap();
    let (peer, took) = rx.recv_timeout(IO_TIMEOUT).expect("no connection");
    assert_eq!(peer, v4, "IPv4 wins while IPv6 hangs");
    assert!(
        took >= Duration::from_millis(250),
        "IPv4 started before the attempt delay: {took:?}"
    );
    // Without Happy Eyeballs IPv4 would come only after the 10 s connect timeout; 5 s
    // leaves room for a loaded machine.
    assert!(took < Duration::from_secs(5), "IPv4 started late: {took:?}");
    client.stop();
    drop((hole, fillers));
}

#[test]
fn every_address_is_tried_within_one_attempt() {
    // Two refused addresses and one that listens, behind one name, the listening one
    // last in every order (IPv6 first): one attempt, no backoff (no retry allowed).
    let good = TcpListener::bind("127.0.0.3:0").unwrap();
    let port = good.local_addr().unwrap().port();
    let r = HostsResolver::new(
        "all",
        "127.0.0.3 multi.test\n::1 multi.test\n127.0.0.2 multi.test\n",
    );
    let (tx, rx) = crossbeam_channel::bounded(1);
    let mut client = muon::TcpClient::builder(&format!("multi.test:{port}"))
        .name("he-all")
        .resolver(r.resolver.clone())
        .retry(muon::RetryPolicy::no_retry())
        .on_connection(move |conn| {
            if conn.is_connected() {
                let _ = tx.send(conn.peer_addr());
            }
        })
        .connect()
        .unwrap();
    let peer = rx
        .recv_timeout(IO_TIMEOUT)
        .expect("no connection in the one attempt");
    assert_eq!(peer, good.local_addr().unwrap());
    client.stop();
}

#[test]
fn when_every_address_fails_the_error_says_so() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = HostsResolver::new(
        "none",
        "127.0.0.1 dead.test\n127.0.0.2 dead.test\n127.0.0.3 dead.test\n",
    );
    let (tx, rx) = crossbeam_channel::bounded(1);
    let mut client = muon::TcpClient::builder(&format!("dead.test:{port}"))
        .name("he-none")
        .resolver(r.resolver.clone())
        .retry(muon::RetryPolicy {
            initial_delay: Duration::from_millis(10),
            max_attempts: Some(2),
            ..Default::default()
        })
        .on_retry(move |_, _, e| {
            let _ = tx.send(e.to_string());
        })
        .connect()
        .unwrap();
    let e = rx.recv_timeout(IO_TIMEOUT).expect("no retry reported");
    assert!(e.contains("all 3 address(es) failed"), "{e}");
    client.stop();
}

/// A lookup that fails is a failed attempt: `connect()` does not wait for it, and
/// `wait_connected` returns the resolver's reason once the policy gives up.
#[test]
fn an_unknown_name_fails_wait_connected_with_the_resolver_error() {
    let r = HostsResolver::new("unknown", "");
    // No nameserver answers on this port: the resolver times out and says so.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let cfg = ResolverConfig::parse("nameserver 127.0.0.1\noptions timeout:1 attempts:1")
        .port(silent.local_addr().unwrap().port());
    let resolver = Resolver::new(&r.lp, cfg);
    let client = muon::TcpClient::builder("nowhere.test:80")
        .resolver(resolver)
        .retry(muon::RetryPolicy::no_retry())
        .connect()
        .unwrap();
    let err = match client.wait_connected(IO_TIMEOUT) {
        Ok(_) => panic!("connected to a name that does not resolve"),
        Err(e) => e,
    };
    assert!(client.gave_up(), "{err}");
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    assert!(
        err.to_string()
            .contains("nowhere.test: no answer after 1 queries"),
        "{err}"
    );
}
