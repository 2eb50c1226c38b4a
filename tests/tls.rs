//! TLS over real loopback sockets with real OpenSSL on both ends.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::tls::*;
use common::*;
use muon::ssl::{ClientAuth, TlsConnectionExt, TlsVersion};
use openssl::ssl::{ShutdownResult, SslConnector, SslMethod, SslVersion};

fn forced(version: TlsVersion) -> muon::ssl::TlsAcceptor {
    acceptor_builder()
        .min_protocol(version)
        .max_protocol(version)
        .build()
        .unwrap()
}

fn round_trips(version: TlsVersion, expect: &str) {
    init_logging();
    let server = tls_echo_server(forced(version), 2);
    let mut s = tls_connect(server.local_addr(), &client_config(None));
    assert_eq!(s.ssl().version_str(), expect);
    let mut len = 1;
    while len <= 16 << 20 {
        let data = payload(len, len as u64);
        assert!(
            tls_echo(&mut s, &data) == data,
            "echo of {len} bytes differs"
        );
        len *= 8;
    }
    let data = payload(16 << 20, 1);
    assert!(tls_echo(&mut s, &data) == data, "16 MiB echo differs");
    drop(s);
    stop_when_idle(&server);
}

#[test]
fn round_trips_tls12() {
    round_trips(TlsVersion::Tls12, "TLSv1.2");
}

#[test]
fn round_trips_tls13() {
    round_trips(TlsVersion::Tls13, "TLSv1.3");
}

#[test]
fn session_details_are_visible_in_callbacks() {
    init_logging();
    let (tx, rx) = crossbeam_channel::unbounded();
    let acceptor = acceptor_builder()
        .alpn_protocols(&["h2", "http/1.1"])
        .sni_certificate("other.test", cert("other.crt"), cert("other.key"))
        .build()
        .unwrap();
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .tls(acceptor)
        .on_connection(move |conn| {
            if conn.is_connected() {
                let tls = conn.tls_layer().expect("a TLS connection");
                tx.send((
                    tls.protocol_version().to_string(),
                    tls.alpn_protocol().map(|p| p.to_vec()),
                    tls.server_name().map(str::to_string),
                ))
                .unwrap();
            }
        })
        .started();
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_ca_file(cert("ca.crt")).unwrap();
    b.set_alpn_protos(b"\x08http/1.1").unwrap();
    let client = b.build();
    // Default name: the default certificate, ALPN negotiated.
    let s = client
        .connect("localhost", connect(server.local_addr()))
        .unwrap();
    assert_eq!(s.ssl().selected_alpn_protocol(), Some(&b"http/1.1"[..]));
    let (version, alpn, sni) = rx.recv_timeout(IO_TIMEOUT).unwrap();
    assert_eq!(version, "TLSv1.3");
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(sni.as_deref(), Some("localhost"));
    // SNI "other.test" picks the other certificate (verified against its name).
    let s2 = client
        .connect("other.test", connect(server.local_addr()))
        .unwrap();
    let peer = s2.ssl().peer_certificate().unwrap();
    let cn = String::from_utf8(
        peer.subject_name()
            .entries()
            .last()
            .unwrap()
            .data()
            .as_slice()
            .to_vec(),
    )
    .unwrap();
    assert_eq!(cn, "other.test");
    let (_, _, sni) = rx.recv_timeout(IO_TIMEOUT).unwrap();
    assert_eq!(sni.as_deref(), Some("other.test"));
    drop((s, s2));
    assert!(server.stop());
}

#[test]
fn mtls_accepts_with_certificate_and_rejects_without() {
    init_logging();
    let acceptor = acceptor_builder()
        .client_ca_file(cert("ca.crt"))
        .client_auth(ClientAuth::Required)
        .build()
        .unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .tls(acceptor)
        .on_connection(move |conn| {
            if conn.is_connected() {
                tx.send(conn.tls_layer().and_then(|t| t.peer_subject()))
                    .unwrap();
            }
        })
        .echo()
        .started();
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_ca_file(cert("ca.crt")).unwrap();
    b.set_certificate_chain_file(cert("client.crt")).unwrap();
    b.set_private_key_file(cert("client.key"), openssl::ssl::SslFiletype::PEM)
        .unwrap();
    let mut s = b
        .build()
        .connect("localhost", connect(server.local_addr()))
        .unwrap();
    assert_eq!(tls_echo(&mut s, b"with cert"), b"with cert");
    let subject = rx
        .recv_timeout(IO_TIMEOUT)
        .unwrap()
        .expect("client certificate");
    assert!(subject.contains("CN="), "{subject}");

    // Without a certificate: TLS 1.3 reports the rejection on the first read.
    let mut bare = tls_connect(server.local_addr(), &client_config(None));
    let _ = bare.write_all(b"no cert");
    assert!(
        expect_tls_closed(&mut bare, "a client without a certificate").is_empty(),
        "served without a certificate"
    );
    let line = wait_for_log(IO_TIMEOUT, |l| {
        l.contains("handshake failed") && l.contains("certificate")
    })
    .expect("a log line naming the reason");
    assert!(line.contains("127.0.0.1:"), "no peer address: {line}");
    assert!(
        rx.try_recv().is_err(),
        "up callback fired without a certificate"
    );
    drop(s);
    assert!(server.stop());
}

#[test]
fn silent_client_is_closed_by_the_handshake_timeout() {
    init_logging();
    let timeout = Duration::from_millis(300);
    let server = tls_echo_server(
        acceptor_builder()
            .handshake_timeout(timeout)
            .build()
            .unwrap(),
        1,
    );
    let start = Instant::now();
    let mut silent = connect(server.local_addr());
    let got = expect_closed(&mut silent, "a silent client");
    let waited = start.elapsed();
    assert!(got.is_empty(), "{got:?}");
    assert!(
        waited >= timeout - Duration::from_millis(20),
        "closed after {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "closed after {waited:?}");
    assert!(wait_for_log(IO_TIMEOUT, |l| l.contains("handshake timed out")).is_some());
    stop_when_idle(&server);
}

#[test]
fn garbage_and_plain_http_are_closed_while_others_are_served() {
    init_logging();
    let server = tls_echo_server(acceptor_builder().build().unwrap(), 1);
    let mut good = tls_connect(server.local_addr(), &client_config(None));
    for junk in [
        &b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
        &payload(4096, 3),
        &[0x16, 0x03, 0x01, 0xff, 0xff, 0, 0, 0][..],
    ] {
        let mut bad = connect(server.local_addr());
        bad.write_all(junk).unwrap();
        let rest = expect_closed(&mut bad, "a non-TLS client");
        // Closed; at most an alert came back, never an echo.
        assert!(rest.len() < 64, "{} bytes came back", rest.len());
        assert_eq!(tls_echo(&mut good, b"still here"), b"still here");
    }
    drop(good);
    stop_when_idle(&server);
}

#[test]
fn peer_close_notify_flushes_our_reply_and_sends_ours() {
    init_logging();
    let server = tls_echo_server(acceptor_builder().build().unwrap(), 1);
    let mut s = tls_connect(server.local_addr(), &client_config(None));
    let data = payload(1 << 20, 11);
    s.write_all(&data).unwrap();
    // close_notify right behind the data: a TLS half-close.
    assert_eq!(s.shutdown().unwrap(), ShutdownResult::Sent);
    let mut back = Vec::new();
    s.read_to_end(&mut back).expect("reply, then a clean close");
    assert!(
        back == data,
        "reply differs: {} of {}",
        back.len(),
        data.len()
    );
    assert_eq!(
        s.shutdown().unwrap(),
        ShutdownResult::Received,
        "our close_notify"
    );
    stop_when_idle(&server);
}

#[test]
fn resets_mid_handshake_and_mid_transfer_leave_the_server_healthy() {
    init_logging();
    let server = tls_echo_server(acceptor_builder().build().unwrap(), 2);
    let config = client_config(None);
    for _ in 0..20 {
        // Mid-handshake: half a ClientHello, then RST.
        let raw = connect(server.local_addr());
        let mut w = &raw;
        w.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc])
            .unwrap();
        common::reset(&raw);
        drop(raw);
        // Mid-transfer: a large write, then RST before reading the echo.
        let mut s = tls_connect(server.local_addr(), &config);
        s.write_all(&payload(512 * 1024, 2)).unwrap();
        common::reset(s.get_ref());
        drop(s);
    }
    let mut ok = tls_connect(server.local_addr(), &config);
    assert_eq!(tls_echo(&mut ok, b"healthy"), b"healthy");
    drop(ok);
    stop_when_idle(&server);
}

#[test]
fn five_hundred_handshakes_release_every_connection() {
    init_logging();
    let server = tls_echo_server(acceptor_builder().build().unwrap(), 2);
    let config = client_config(Some(SslVersion::TLS1_3));
    for i in 0..500u32 {
        let mut s = tls_connect(server.local_addr(), &config);
        assert_eq!(tls_echo(&mut s, &i.to_be_bytes()), i.to_be_bytes());
        if i % 2 == 0 {
            let _ = s.shutdown();
        }
    }
    assert!(
        wait_until(Duration::from_secs(10), || server.connection_count() == 0),
        "{} connections left",
        server.connection_count()
    );
    assert!(server.stop());
}

#[test]
fn data_behind_the_handshake_reaches_the_application_after_the_up_callback() {
    use muon::{Buffer, LayerFactory};
    init_logging();
    let (tx, rx) = crossbeam_channel::unbounded();
    let up = tx.clone();
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .tls(acceptor_builder().build().unwrap())
        .on_connection(move |conn| {
            if conn.is_connected() {
                up.send(b"UP".to_vec()).unwrap();
            }
        })
        .on_message(move |conn, input| {
            tx.send(input.retrieve_all_as_vec()).unwrap();
            conn.send(b"reply");
        })
        .started();
    // Drive Muon's client layer by hand over a blocking socket: "early" is written
    // before the handshake completes, so it leaves in the same flight as the client's
    // Finished and reaches the server in the same read as the end of the handshake.
    let connector = muon::ssl::TlsConnector::builder()
        .ca_file(cert("ca.crt"))
        .build()
        .unwrap();
    let mut layer = connector
        .for_host("localhost")
        .new_layer(server.local_addr())
        .unwrap();
    let mut sock = connect(server.local_addr());
    let (mut out, mut wire_in, mut plain) = (Buffer::new(), Buffer::new(), Buffer::new());
    layer.start(&mut out).unwrap();
    layer.write(b"early", &mut out).unwrap();
    let deadline = Instant::now() + IO_TIMEOUT;
    while plain.readable_bytes() < 5 {
        assert!(Instant::now() < deadline, "no reply");
        sock.write_all(out.peek()).unwrap();
        out.retrieve_all();
        let mut buf = [0; 16384];
        let n = sock.read(&mut buf).unwrap();
        assert!(n > 0, "server closed");
        wire_in.append(&buf[..n]);
        layer
            .read(&mut wire_in, &mut plain, &mut out, false)
            .unwrap();
    }
    assert_eq!(plain.peek(), b"reply");
    assert_eq!(rx.recv_timeout(IO_TIMEOUT).unwrap(), b"UP");
    let mut got = Vec::new();
    while got.len() < 5 {
        got.extend(rx.recv_timeout(IO_TIMEOUT).unwrap());
    }
    assert_eq!(got, b"early");
    drop(sock);
    assert!(server.stop());
}
