//! PROXY protocol (v1 and v2) on a real server over loopback: every outcome.
//! A good header: `peer_addr()` is the original client, `proxy_addr()` the proxy, and
//! the bytes after the header (plain or TLS) are served. A bad, untrusted, oversized,
//! truncated or slow header: that connection is closed with a warning and counted, and
//! the server goes on serving.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::tls::*;
use common::*;
use crossbeam_channel::Receiver;
use muon::{Cidr, ProxyProtocol};

/// What the server saw of a connection that came up: (peer, proxy, LOCAL command, TLVs).
type SeenConn = (SocketAddr, Option<SocketAddr>, bool, Vec<(u8, Vec<u8>)>);
type Seen = Receiver<SeenConn>;

fn server(addr: &str, proxy: ProxyProtocol, tls: bool) -> (muon::ServerHandle, Seen) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut b = muon::TcpServer::builder(addr)
        .name("pp")
        .threads(2)
        .proxy_protocol(proxy)
        .on_connection(move |conn| {
            if conn.is_connected() {
                let info = conn.proxy_info().cloned();
                let _ = tx.send((
                    conn.peer_addr(),
                    conn.proxy_addr(),
                    info.as_ref().is_some_and(|i| i.local),
                    info.map(|i| i.tlvs).unwrap_or_default(),
                ));
            }
        })
        .echo();
    if tls {
        b = b.tls(acceptor_builder().build().unwrap());
    }
    (b.started(), rx)
}

fn v1(client: SocketAddr, dest: SocketAddr) -> Vec<u8> {
    let fam = if client.is_ipv4() { "TCP4" } else { "TCP6" };
    format!(
        "PROXY {fam} {} {} {} {}\r\n",
        client.ip(),
        dest.ip(),
        client.port(),
        dest.port()
    )
    .into_bytes()
}

/// A v2 header: PROXY with addresses (or LOCAL without), and TLVs.
fn v2(pair: Option<(SocketAddr, SocketAddr)>, tlvs: &[(u8, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    let fam = match pair {
        Some((SocketAddr::V4(s), SocketAddr::V4(d))) => {
            body.extend(s.ip().octets());
            body.extend(d.ip().octets());
            body.extend(s.port().to_be_bytes());
            body.extend(d.port().to_be_bytes());
            0x11
        }
        Some((SocketAddr::V6(s), SocketAddr::V6(d))) => {
            body.extend(s.ip().octets());
            body.extend(d.ip().octets());
            body.extend(s.port().to_be_bytes());
            body.extend(d.port().to_be_bytes());
            0x21
        }
        _ => 0,
    };
    for (t, v) in tlvs {
        body.push(*t);
        body.extend((v.len() as u16).to_be_bytes());
        body.extend(*v);
    }
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.push(if pair.is_some() { 0x21 } else { 0x20 });
    h.push(fam);
    h.extend((body.len() as u16).to_be_bytes());
    h.extend(body);
    h
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Sends `header` then echoes a message; returns what the server saw.
fn through(server: &muon::ServerHandle, seen: &Seen, header: &[u8]) -> SeenConn {
    let mut c = connect(server.local_addr());
    let local = c.local_addr().unwrap();
    // Header and first bytes in one segment: the server must not eat the message.
    c.write_all(&[header, b"ping"].concat()).unwrap();
    let mut back = [0; 4];
    c.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"ping");
    let got = seen.recv_timeout(IO_TIMEOUT).unwrap();
    assert_eq!(
        got.1,
        Some(local),
        "proxy_addr is the connection's real peer"
    );
    got
}

/// The connection is closed by the server (EOF or reset) without a byte echoed.
fn closed_without_reply(mut c: TcpStream) {
    let rest = expect_closed(&mut c, "a connection with a bad or untrusted header");
    assert!(rest.is_empty(), "got {rest:?}");
}

#[test]
fn v1_and_v2_over_ipv4_and_ipv6_give_the_original_client() {
    init_logging();
    for listen in ["127.0.0.1:0", "[::1]:0"] {
        let (server, seen) = server(listen, ProxyProtocol::default(), false);
        let c4 = (addr("192.0.2.10:40000"), addr("198.51.100.1:443"));
        let c6 = (addr("[2001:db8::10]:40001"), addr("[2001:db8::1]:443"));
        assert_eq!(through(&server, &seen, &v1(c4.0, c4.1)).0, c4.0);
        assert_eq!(through(&server, &seen, &v1(c6.0, c6.1)).0, c6.0);
        assert_eq!(through(&server, &seen, &v2(Some(c4), &[])).0, c4.0);
        let (peer, _, local, tlvs) = through(
            &server,
            &seen,
            &v2(Some(c6), &[(0x01, b"h2"), (0xe0, b"x")]),
        );
        assert_eq!((peer, local), (c6.0, false));
        assert_eq!(tlvs, vec![(0x01, b"h2".to_vec()), (0xe0, b"x".to_vec())]);
        let s = server.stats();
        assert_eq!(s.handshakes_failed.proxy_header, 0);
        stop_when_idle(&server);
    }
}

#[test]
fn local_and_unknown_keep_the_proxys_address() {
    init_logging();
    let (server, seen) = server("127.0.0.1:0", ProxyProtocol::default(), false);
    let (peer, proxy, local, _) = through(&server, &seen, &v2(None, &[]));
    assert_eq!((Some(peer), local), (proxy, true));
    let (peer, proxy, local, _) = through(&server, &seen, b"PROXY UNKNOWN\r\n");
    assert_eq!((Some(peer), local), (proxy, false));
    let (peer, proxy, _, _) = through(&server, &seen, b"PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n");
    assert_eq!(Some(peer), proxy);
    stop_when_idle(&server);
}

#[test]
fn tls_after_the_header_v1_and_v2() {
    init_logging();
    let (server, seen) = server("127.0.0.1:0", ProxyProtocol::default(), true);
    let config = client_config(None);
    let client = (addr("203.0.113.5:5555"), addr("203.0.113.1:443"));
    for header in [v1(client.0, client.1), v2(Some(client), &[])] {
        let mut tcp = connect(server.local_addr());
        tcp.write_all(&header).unwrap();
        let mut tls = config
            .connect("localhost", tcp)
            .expect("TLS after the header");
        assert_eq!(tls_echo(&mut tls, b"secret"), b"secret");
        let (peer, proxy, _, _) = seen.recv_timeout(IO_TIMEOUT).unwrap();
        assert_eq!(peer, client.0);
        assert!(proxy.unwrap().ip().is_loopback());
        tls.shutdown().unwrap();
    }
    assert_eq!(server.stats().handshakes_ok, 2);
    stop_when_idle(&server);
}

#[test]
fn bad_headers_close_only_their_connection_and_are_counted() {
    init_logging();
    let policy = ProxyProtocol::default()
        .max_header_len(256)
        .header_timeout(Duration::from_millis(300));
    let (server, seen) = server("127.0.0.1:0", policy, false);
    let a = server.local_addr();
    let mut failures = 0;
    let mut expect_closed = |bytes: &[u8], log: &str| {
        let mut c = connect(a);
        c.write_all(bytes).unwrap();
        closed_without_reply(c);
        failures += 1;
        assert!(
            wait_for_log(IO_TIMEOUT, |l| l.contains(log)).is_some(),
            "no log containing {log:?}"
        );
    };
    // Garbage: a plain request to a PROXY-protocol port.
    expect_closed(
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "not a PROXY protocol header",
    );
    // Malformed v1 and v2.
    expect_closed(
        b"PROXY TCP4 1.2.3.4 nope 1 2\r\n",
        "malformed PROXY protocol header: bad address",
    );
    let mut bad_v2 = v2(Some((addr("192.0.2.1:1"), addr("192.0.2.2:2"))), &[]);
    bad_v2[12] = 0x2f;
    expect_closed(&bad_v2, "command is not LOCAL or PROXY");
    // Oversized: a v2 header announcing more than the limit, a v1 line past 107 bytes.
    expect_closed(&v2(None, &[(0xe0, &[7; 400])]), "longer than 256 bytes");
    let long_v1 = [b"PROXY UNKNOWN ".to_vec(), vec![b'z'; 150]].concat();
    expect_closed(&long_v1, "longer than 107 bytes");
    // Truncated: the peer closes in the middle of the header.
    {
        let c = connect(a);
        (&c).write_all(b"PROXY TCP4 1.2.3.4").unwrap();
        half_close(&c);
        closed_without_reply(c);
        failures += 1;
        assert!(wait_for_log(IO_TIMEOUT, |l| l
            .contains("peer closed before the end of the PROXY"))
        .is_some());
    }
    // Slow: part of a header, then silence past the header timeout.
    {
        let c = connect(a);
        (&c).write_all(&v2(None, &[])[..10]).unwrap();
        closed_without_reply(c);
        failures += 1;
        assert!(wait_for_log(IO_TIMEOUT, |l| l
            .contains("not complete before the deadline"))
        .is_some());
    }
    // The server goes on: a good header is still served.
    let good = (addr("192.0.2.77:7777"), addr("192.0.2.1:80"));
    assert_eq!(through(&server, &seen, &v1(good.0, good.1)).0, good.0);
    assert!(wait_until(IO_TIMEOUT, || server
        .stats()
        .handshakes_failed
        .proxy_header
        == failures));
    stop_when_idle(&server);
    let s = server.stats();
    assert_eq!(s.closes.handshake_timeout, 1, "{s:?}");
    assert_eq!(
        s.closes.peer_eof, 2,
        "the truncated header and the good one: {s:?}"
    );
}

#[test]
fn an_untrusted_source_is_closed_before_its_header_is_read() {
    init_logging();
    let policy = ProxyProtocol::default().trust(["10.0.0.0/8".parse::<Cidr>().unwrap()]);
    let (server, _seen) = server("127.0.0.1:0", policy, false);
    let mut c = connect(server.local_addr());
    let _ = c.write_all(&v1(addr("192.0.2.1:1"), addr("192.0.2.2:2")));
    closed_without_reply(c);
    assert!(wait_for_log(IO_TIMEOUT, |l| l
        .contains("is not a trusted PROXY protocol source"))
    .is_some());
    assert!(wait_until(IO_TIMEOUT, || server
        .stats()
        .handshakes_failed
        .proxy_header
        == 1));
    stop_when_idle(&server);
}

#[test]
fn a_connection_still_in_its_header_is_closed_by_a_stop_and_counted() {
    init_logging();
    let (server, _seen) = server("127.0.0.1:0", ProxyProtocol::default(), false);
    let c = connect(server.local_addr());
    (&c).write_all(b"PROXY TCP4 ").unwrap();
    assert!(wait_until(IO_TIMEOUT, || server.connection_count() == 1));
    assert!(server.stop());
    closed_without_reply(c);
    let s = server.stats();
    assert_eq!((s.active, s.closes.total()), (0, 1), "{s:?}");
}
