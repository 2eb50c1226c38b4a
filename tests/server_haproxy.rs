//! A real HAProxy (TCP mode, `send-proxy-v2`, health checks) in front of two `echo`
//! processes (TLS, one shared session ticket key file, PROXY protocol on): echo works
//! through it, the backends see the real client address, TLS sessions resume across
//! the two backends, and stopping one backend mid-run loses only that backend's live
//! connections while new ones go to the other.
//!
//! The HAProxy configuration is `haproxy_config` below, verbatim in docs/deployment.md.
//! Every test runs once per TLS provider of the backends (`name::openssl`,
//! `name::rustls`).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};

use common::echo_child::Echo;
use common::tls::*;
use common::tls_tools::{s_client, TempDir};
use common::*;

/// The tested configuration (docs/deployment.md). The frontend binds `FRONT`: in the
/// tests, `fd@N`, a listening socket the test made and HAProxy inherits, so no other
/// process can take the port between choosing it and HAProxy binding it (tests run in
/// parallel, and a released port 0 is soon handed out again).
fn haproxy_config(front: &str, a: u16, b: u16) -> String {
    format!(
        "global
    maxconn 4096

defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch

frontend muon_front
    bind {front}
    default_backend muon_echo

backend muon_echo
    balance roundrobin
    server a 127.0.0.1:{a} send-proxy-v2 check check-send-proxy inter 200ms fall 2 rise 1
    server b 127.0.0.1:{b} send-proxy-v2 check check-send-proxy inter 200ms fall 2 rise 1
"
    )
}

struct HaProxy(Child);

impl Drop for HaProxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A listening socket on a free loopback port that a child process inherits (its
/// descriptor stays open across exec).
fn inheritable_listener() -> std::net::TcpListener {
    use std::os::fd::AsRawFd;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fd = listener.as_raw_fd();
    // SAFETY: F_GETFD/F_SETFD on a descriptor this function owns; no memory is involved.
    let cleared = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        flags >= 0 && libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) == 0
    };
    assert!(cleared, "clearing FD_CLOEXEC on the frontend socket");
    listener
}

/// Two TLS echo backends of `provider` sharing `key`, PROXY protocol on, and HAProxy in
/// front.
fn setup(dir: &TempDir, provider: Provider) -> Option<(Echo, Echo, HaProxy, SocketAddr)> {
    let haproxy = require_tool("haproxy", "haproxy")?;
    let key = dir.path("ticket.key");
    std::fs::write(&key, common::payload(80, 7)).unwrap();
    let backend = || {
        Echo::start(&[
            "--addr",
            "127.0.0.1:0",
            "--tls",
            "--ticket-keys",
            &key,
            "--proxy-protocol",
            "--stop-timeout-ms",
            "2000",
            provider.flag()[0],
            provider.flag()[1],
        ])
    };
    let (a, b) = (backend(), backend());
    let (pa, pb) = (a.addr().port(), b.addr().port());
    let front = inheritable_listener();
    let cfg = dir.path("haproxy.cfg");
    let bind = format!("fd@{}", std::os::fd::AsRawFd::as_raw_fd(&front));
    std::fs::write(&cfg, haproxy_config(&bind, pa, pb)).unwrap();
    let child = Command::new(haproxy)
        .args(["-f", &cfg, "-db"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start haproxy");
    let proxy = HaProxy(child);
    let addr = front.local_addr().unwrap();
    // HAProxy has its own copy of the socket now.
    drop(front);
    assert!(
        wait_until(IO_TIMEOUT, || TcpStream::connect(addr).is_ok()),
        "haproxy listens"
    );
    // Ready when one TLS echo has gone through HAProxy to each backend: its start-up
    // (listener up, health checks started) once reset CI's very first connection.
    let mut reached = (false, false);
    assert!(
        wait_until(IO_TIMEOUT, || {
            if let Some(client) = try_through(addr) {
                match served_by(&a, &b, client) {
                    'a' => reached.0 = true,
                    _ => reached.1 = true,
                }
            }
            reached.0 && reached.1
        }),
        "a TLS echo through haproxy to both backends"
    );
    Some((a, b, proxy, addr))
}

/// One TLS echo through the proxy, closed again; its client-side address, or `None` if
/// it failed.
fn try_through(addr: SocketAddr) -> Option<SocketAddr> {
    let tcp = TcpStream::connect(addr).ok()?;
    tcp.set_read_timeout(Some(IO_TIMEOUT)).ok()?;
    let local = tcp.local_addr().ok()?;
    let mut s = client_config(None).connect("localhost", tcp).ok()?;
    s.write_all(b"ready?").ok()?;
    let mut back = [0; 6];
    s.read_exact(&mut back).ok()?;
    let _ = s.shutdown();
    (&back == b"ready?").then_some(local)
}

/// A TLS connection through the proxy: returns it and its client-side address.
fn through(addr: SocketAddr) -> (openssl::ssl::SslStream<TcpStream>, SocketAddr) {
    let tcp = connect(addr);
    let local = tcp.local_addr().unwrap();
    let mut s = client_config(None)
        .connect("localhost", tcp)
        .expect("TLS through haproxy");
    assert_eq!(tls_echo(&mut s, b"through haproxy"), b"through haproxy");
    (s, local)
}

/// Which backend logged the connection from `client` (the real client address).
fn served_by(a: &Echo, b: &Echo, client: SocketAddr) -> char {
    let needle = format!("connection from {client} via 127.0.0.1:");
    let mut who = None;
    assert!(
        wait_until(IO_TIMEOUT, || {
            who = match (a.count(&needle), b.count(&needle)) {
                (1, 0) => Some('a'),
                (0, 1) => Some('b'),
                _ => None,
            };
            who.is_some()
        }),
        "no backend logged {needle:?}"
    );
    who.unwrap()
}

per_provider!(echo_and_real_client_addresses_through_haproxy);
fn echo_and_real_client_addresses_through_haproxy(provider: Provider) {
    let dir = TempDir::new(&format!("haproxy-echo-{}", provider.name()));
    let Some((a, b, _proxy, addr)) = setup(&dir, provider) else {
        return;
    };
    let mut seen = Vec::new();
    for _ in 0..8 {
        let (mut s, client) = through(addr);
        seen.push(served_by(&a, &b, client));
        s.shutdown().unwrap();
    }
    assert!(
        seen.contains(&'a') && seen.contains(&'b'),
        "round robin: {seen:?}"
    );
}

per_provider!(tls_sessions_resume_across_the_two_backends);
fn tls_sessions_resume_across_the_two_backends(provider: Provider) {
    let dir = TempDir::new(&format!("haproxy-resume-{}", provider.name()));
    let Some((a, b, _proxy, addr)) = setup(&dir, provider) else {
        return;
    };
    let ca = cert("ca.crt");
    let front = addr.to_string();
    for proto in ["-tls1_2", "-tls1_3"] {
        let sess = dir.path(&format!("sess{proto}.pem"));
        let base = [
            "-CAfile",
            &ca,
            "-verify_return_error",
            "-servername",
            "localhost",
            proto,
        ];
        let total = || a.count("connection from") + b.count("connection from");
        let start = total();
        let first = s_client(&front, &[&base[..], &["-sess_out", &sess]].concat());
        assert!(
            first.echoed && first.out.contains("New, TLS"),
            "{provider:?} {proto}: {}",
            first.out
        );
        assert!(wait_until(IO_TIMEOUT, || total() == start + 1));
        let before = (a.count("connection from"), b.count("connection from"));
        // Round robin: four resumptions land on both backends.
        for i in 0..4 {
            let again = s_client(&front, &[&base[..], &["-sess_in", &sess]].concat());
            assert!(again.echoed, "{provider:?} {proto} #{i}: {}", again.out);
            assert!(
                again.out.contains("Reused, TLS"),
                "{provider:?} {proto} #{i} not resumed: {}",
                again.out
            );
        }
        assert!(
            wait_until(IO_TIMEOUT, || total() == start + 5),
            "{} connections logged",
            total() - start
        );
        let after = (a.count("connection from"), b.count("connection from"));
        assert!(
            after.0 > before.0 && after.1 > before.1,
            "{provider:?} {proto}: resumed on both backends: {before:?} -> {after:?}"
        );
    }
}

per_provider!(stopping_one_backend_loses_only_its_live_connections);
fn stopping_one_backend_loses_only_its_live_connections(provider: Provider) {
    let dir = TempDir::new(&format!("haproxy-stop-{}", provider.name()));
    let Some((mut a, b, _proxy, addr)) = setup(&dir, provider) else {
        return;
    };
    let live: Vec<_> = (0..6)
        .map(|_| {
            let (s, client) = through(addr);
            (s, served_by(&a, &b, client))
        })
        .collect();
    assert!(live.iter().any(|(_, w)| *w == 'a') && live.iter().any(|(_, w)| *w == 'b'));
    a.sigterm();
    assert!(a.exits_0(), "backend a drained and exited 0");
    for (mut s, who) in live {
        if who == 'b' {
            assert_eq!(
                tls_echo(&mut s, b"still here"),
                b"still here",
                "b's connections live on"
            );
        } else {
            // a's connections end (orderly: close_notify and EOF through haproxy).
            let _ = s.write_all(b"anyone?");
            let socket = s.get_ref().try_clone().unwrap();
            let closed = read_until_closed(&mut s, &socket, CLOSE_WITHIN, "a's connection");
            assert_eq!(closed.ending, Ending::Eof, "{closed:?}");
            assert!(
                closed.bytes.is_empty(),
                "a's connection was served: {closed:?}"
            );
        }
    }
    // New connections all go to b, none fails (a refuses; haproxy redispatches and its
    // health check takes a out).
    for _ in 0..10 {
        let (mut s, client) = through(addr);
        assert_eq!(served_by(&a, &b, client), 'b');
        s.shutdown().unwrap();
    }
}
