//! The rustls provider (`muon::rustls`) against OpenSSL: the same `TlsInfo` for the
//! same session, Muon clients of one provider against servers of the other, sessions
//! resumed by Muon's own client, truncation reported as net-ssl reports it, rustls's
//! alerts reaching the peer, and peers that never finish a handshake.
#![cfg(feature = "rustls")]

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::tls::*;
use common::*;
use muon::TlsInfo;
use openssl::ssl::{SslConnector, SslMethod, SslVersion};

/// An in-process OpenSSL client pinned to one version and one suite, so both
/// providers must agree on every field of the session.
fn pinned_client(version: Version) -> SslConnector {
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_ca_file(cert("ca.crt")).unwrap();
    b.set_certificate_chain_file(cert("client.crt")).unwrap();
    b.set_private_key_file(cert("client.key"), openssl::ssl::SslFiletype::PEM)
        .unwrap();
    b.set_alpn_protos(b"\x08http/1.1").unwrap();
    let v = match version {
        Version::Tls12 => SslVersion::TLS1_2,
        Version::Tls13 => SslVersion::TLS1_3,
    };
    b.set_min_proto_version(Some(v)).unwrap();
    b.set_max_proto_version(Some(v)).unwrap();
    b.set_ciphersuites("TLS_AES_128_GCM_SHA256").unwrap();
    b.set_cipher_list("ECDHE-ECDSA-AES128-GCM-SHA256").unwrap();
    b.build()
}

/// The server's `TlsInfo` for one connection of the pinned client.
fn server_info(provider: Provider, version: Version) -> TlsInfo {
    let (tx, rx) = crossbeam_channel::unbounded();
    let opts = ServerOpts {
        alpn: vec!["h2", "http/1.1"],
        client_auth: Some(true),
        ..ServerOpts::default()
    };
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .tls(provider.acceptor(&opts))
        .on_connection(move |conn| {
            if conn.is_connected() {
                tx.send(conn.tls_info()).unwrap();
            }
        })
        .echo()
        .started();
    let mut s = tls_connect(server.local_addr(), &pinned_client(version));
    assert_eq!(tls_echo(&mut s, b"ping"), b"ping");
    let info = rx
        .recv_timeout(IO_TIMEOUT)
        .unwrap()
        .expect("a TLS connection has TlsInfo");
    drop(s);
    stop_when_idle(&server);
    info
}

#[test]
fn tls_info_is_filled_as_net_ssl_fills_it() {
    init_logging();
    for (version, protocol, cipher) in [
        (Version::Tls12, "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256"),
        (Version::Tls13, "TLSv1.3", "TLS_AES_128_GCM_SHA256"),
    ] {
        let openssl = server_info(Provider::OpenSsl, version);
        let rustls = server_info(Provider::Rustls, version);
        assert_eq!(openssl.protocol, protocol);
        assert_eq!(openssl.cipher, cipher);
        assert_eq!(openssl.alpn.as_deref(), Some(&b"http/1.1"[..]));
        assert_eq!(openssl.server_name.as_deref(), Some("localhost"));
        assert!(openssl.peer_certificate.is_some());
        assert_eq!(rustls, openssl, "{version:?}: rustls's TlsInfo differs");
    }
}

/// Echo with a Muon client of `client` against a Muon server of `server`; returns
/// both sides' `TlsInfo`.
fn muon_pair(server: Provider, client: Provider, version: Version) -> (TlsInfo, TlsInfo) {
    let (up_tx, up_rx) = crossbeam_channel::unbounded();
    let opts = ServerOpts {
        version: Some(version),
        ..ServerOpts::default()
    };
    let handle = muon::TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .tls(server.acceptor(&opts))
        .on_connection(move |conn| {
            if conn.is_connected() {
                up_tx.send(conn.tls_info()).unwrap();
            }
        })
        .echo()
        .started();
    let (builder, rx) = collecting_client(&handle.local_addr().to_string());
    let mut tcp = builder
        .tls(client.client(&ClientOpts::default()))
        .connect()
        .unwrap();
    let conn = tcp.wait_connected(IO_TIMEOUT).expect("TLS client up");
    let data = payload(300_000, 7);
    conn.send(&data[..]);
    assert!(
        recv_exactly(&rx, data.len()) == data,
        "{server:?} server, {client:?} client, {version:?}: echo differs"
    );
    let (tx, got) = crossbeam_channel::bounded(1);
    conn.with_connection(move |c| {
        let _ = tx.send(c.tls_info());
    });
    let client_info = got
        .recv_timeout(IO_TIMEOUT)
        .unwrap()
        .expect("client TlsInfo");
    let server_info = up_rx
        .recv_timeout(IO_TIMEOUT)
        .unwrap()
        .expect("server TlsInfo");
    tcp.stop();
    stop_when_idle(&handle);
    (server_info, client_info)
}

#[test]
fn muon_clients_and_servers_of_either_provider_talk_to_each_other() {
    init_logging();
    for server in PROVIDERS {
        for client in PROVIDERS {
            for (version, name) in [(Version::Tls12, "TLSv1.2"), (Version::Tls13, "TLSv1.3")] {
                let (s, c) = muon_pair(*server, *client, version);
                assert_eq!(s.protocol, name);
                assert_eq!(c.protocol, name);
                assert_eq!(s.cipher, c.cipher, "{server:?}/{client:?}");
                assert_eq!(s.server_name.as_deref(), Some("localhost"));
                assert_eq!(
                    c.peer_subject.as_deref(),
                    Some("/O=Muon Development/CN=localhost"),
                    "{server:?}/{client:?}"
                );
            }
        }
    }
}

#[test]
fn muon_clients_resume_their_sessions() {
    init_logging();
    for &provider in PROVIDERS {
        for version in [Version::Tls12, Version::Tls13] {
            let opts = ServerOpts {
                version: Some(version),
                ..ServerOpts::default()
            };
            let (tx, rx) = crossbeam_channel::unbounded();
            let server = muon::TcpServer::builder("127.0.0.1:0")
                .threads(1)
                .tls(provider.acceptor(&opts))
                .on_connection(move |conn| {
                    if conn.is_connected() {
                        tx.send(conn.tls_info().map(|i| i.resumed)).unwrap();
                    }
                })
                .echo()
                .started();
            // One factory: its clones share the connector's session cache.
            let factory = provider.client(&ClientOpts::default());
            for round in 0..2 {
                let (builder, got) = collecting_client(&server.local_addr().to_string());
                let mut client = builder.tls(factory.clone()).connect().unwrap();
                let conn = client.wait_connected(IO_TIMEOUT).expect("up");
                // The echo also proves the TLS 1.3 tickets (sent before it) arrived.
                conn.send(&b"ping"[..]);
                assert_eq!(recv_exactly(&got, 4), b"ping");
                let resumed = rx.recv_timeout(IO_TIMEOUT).unwrap();
                assert_eq!(
                    resumed,
                    Some(round == 1),
                    "{provider:?} {version:?}: connection {round}"
                );
                // A clean close (close_notify): OpenSSL drops a TLS 1.2 client session
                // whose connection ended without one.
                assert!(conn.shutdown());
                assert!(
                    wait_until(IO_TIMEOUT, || client.connection_count() == 0),
                    "{provider:?} {version:?}: the client did not close"
                );
                client.stop();
            }
            stop_when_idle(&server);
        }
    }
}

#[test]
fn truncation_is_reported_after_the_data_before_it_is_delivered() {
    init_logging();
    for &provider in PROVIDERS {
        let (tx, rx) = crossbeam_channel::unbounded();
        let server = muon::TcpServer::builder("127.0.0.1:0")
            .threads(1)
            .tls(provider.acceptor(&ServerOpts::default()))
            .on_message(move |_conn, input| {
                tx.send(input.retrieve_all_as_vec()).unwrap();
            })
            .started();
        let mut s = tls_connect(server.local_addr(), &client_config(None));
        s.write_all(b"last words").unwrap();
        let port = s.get_ref().local_addr().unwrap().port();
        // FIN without close_notify.
        s.get_ref().shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        while got.len() < 10 {
            got.extend(
                rx.recv_timeout(IO_TIMEOUT)
                    .expect("the data before the EOF"),
            );
        }
        assert_eq!(got, b"last words", "{provider:?}");
        let line = wait_for_log(IO_TIMEOUT, |l| {
            l.contains(&format!(
                ":{port}: peer closed without close_notify (truncated stream)"
            ))
        });
        assert!(line.is_some(), "{provider:?}: no truncation reported");
        drop(s);
        stop_when_idle(&server);
    }
}

#[test]
fn rustls_tells_a_garbage_peer_why_with_an_alert() {
    init_logging();
    let server = Provider::Rustls.echo_server(1);
    let mut bad = connect(server.local_addr());
    bad.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let back = read_to_eof(&mut bad).expect("closed, not timed out");
    // One plaintext alert record: type 21, level fatal (2).
    assert_eq!(back.len(), 7, "{back:?}");
    assert_eq!((back[0], back[5]), (21, 2), "{back:?}");
    let line = wait_for_log(IO_TIMEOUT, |l| {
        l.contains(&bad.local_addr().unwrap().to_string()) && l.contains("handshake failed")
    })
    .expect("a log line with the reason");
    assert!(line.contains("corrupt message"), "{line}");
    stop_when_idle(&server);
}

#[test]
fn a_trickling_handshake_is_closed_by_the_handshake_timeout() {
    init_logging();
    for &provider in PROVIDERS {
        let timeout = Duration::from_millis(400);
        let opts = ServerOpts {
            handshake_timeout: Some(timeout),
            ..ServerOpts::default()
        };
        let server = provider.echo_server_with(&opts, 1);
        let mut slow = connect(server.local_addr());
        let start = Instant::now();
        // A ClientHello record header announcing 512 bytes, then a byte every 50 ms:
        // progress, but never enough to finish.
        let mut closed = false;
        for (i, b) in [0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]
            .into_iter()
            .chain(std::iter::repeat(0))
            .enumerate()
        {
            if slow.write_all(&[b]).is_err() {
                closed = true;
                break;
            }
            let mut probe = [0u8; 64];
            slow.set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            match slow.read(&mut probe) {
                Ok(_) => {
                    closed = true;
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => {
                    closed = true;
                    break;
                }
            }
            assert!(i < 200, "{provider:?}: still open after 200 bytes");
        }
        let waited = start.elapsed();
        assert!(closed);
        assert!(
            waited >= timeout - Duration::from_millis(20) && waited < Duration::from_secs(5),
            "{provider:?}: closed after {waited:?}"
        );
        let port = slow.local_addr().unwrap().port();
        assert!(
            wait_for_log(IO_TIMEOUT, |l| l.contains(&format!(":{port}"))
                && l.contains("handshake timed out"))
            .is_some(),
            "{provider:?}: no timeout logged"
        );
        stop_when_idle(&server);
    }
}

#[test]
fn an_endless_handshake_message_is_refused_before_it_grows() {
    init_logging();
    for &provider in PROVIDERS {
        let server = provider.echo_server(1);
        let mut hog = connect(server.local_addr());
        // A ClientHello claiming 16 MiB, sent as full 16 KiB handshake records.
        let mut first = vec![0x01, 0xff, 0xff, 0xff];
        first.resize(16 * 1024, 0x41);
        let mut sent = 0usize;
        let record = |body: &[u8]| {
            let mut r = vec![0x16, 0x03, 0x01];
            r.extend_from_slice(&(body.len() as u16).to_be_bytes());
            r.extend_from_slice(body);
            r
        };
        let rest = vec![0x41; 16 * 1024];
        let mut write_failed = false;
        for i in 0..256 {
            let r = record(if i == 0 { &first } else { &rest });
            if hog.write_all(&r).is_err() {
                write_failed = true;
                break;
            }
            sent += r.len();
        }
        // Closed (reset or EOF) rather than still reading: a read that times out
        // means the server is still accepting the message.
        let outcome = read_to_eof(&mut hog);
        let closed = write_failed
            || match &outcome {
                Ok(_) => true,
                Err(e) => !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
            };
        assert!(
            closed,
            "{provider:?}: still open after {sent} bytes: {outcome:?}"
        );
        assert!(
            sent < 4 << 20 || write_failed,
            "{provider:?}: took all {sent} bytes"
        );
        stop_when_idle(&server);
    }
}

#[test]
fn a_ticket_from_the_other_provider_falls_back_to_a_full_handshake() {
    init_logging();
    let dir = common::tls_tools::TempDir::new("cross-ticket");
    let servers = [
        (Provider::OpenSsl, Provider::OpenSsl.echo_server(1)),
        (Provider::Rustls, Provider::Rustls.echo_server(1)),
    ];
    for flag in ["-tls1_2", "-tls1_3"] {
        for (from, to) in [(0, 1), (1, 0)] {
            let sess = dir.path(&format!("{flag}-{from}.pem"));
            let args = [flag, "-CAfile", &cert("ca.crt"), "-servername", "localhost"];
            let mut out_args = args.to_vec();
            out_args.extend(["-sess_out", &sess]);
            let first =
                common::tls_tools::s_client(&servers[from].1.local_addr().to_string(), &out_args);
            assert!(first.echoed, "{flag} first: {}", first.out);
            // The same provider resumes it (so the file holds a usable ticket) ...
            let mut in_args = args.to_vec();
            in_args.extend(["-sess_in", &sess]);
            let same =
                common::tls_tools::s_client(&servers[from].1.local_addr().to_string(), &in_args);
            assert!(
                same.echoed && same.out.contains("Reused, TLS"),
                "{flag} {:?} did not resume its own ticket: {}",
                servers[from].0,
                same.out
            );
            // ... the other one cannot, and does a full handshake instead.
            let other =
                common::tls_tools::s_client(&servers[to].1.local_addr().to_string(), &in_args);
            assert!(
                other.echoed && other.out.contains("New, TLS"),
                "{flag} {:?}'s ticket at {:?}: {}",
                servers[from].0,
                servers[to].0,
                other.out
            );
        }
    }
    for (_, s) in servers {
        stop_when_idle(&s);
    }
}

/// Connects a Muon client through `factory` and echoes once; `Some(resumed)` if the
/// server served it, `None` if it refused it (TLS 1.3 clients are up before the server
/// checks their certificate, so "served" means the echo came back).
fn try_session(addr: std::net::SocketAddr, factory: &AnyClient) -> Option<bool> {
    enum Ev {
        Up(Option<bool>),
        Down,
        Echo,
    }
    let (tx, rx) = crossbeam_channel::unbounded();
    let tx2 = tx.clone();
    let mut client = muon::TcpClient::builder(&addr.to_string())
        .tls(factory.clone())
        .on_connection(move |conn| {
            let _ = tx.send(if conn.is_connected() {
                conn.send(b"ping");
                Ev::Up(conn.tls_info().map(|i| i.resumed))
            } else {
                Ev::Down
            });
        })
        .on_message(move |_conn, input| {
            if input.readable_bytes() >= 4 {
                input.retrieve_all();
                let _ = tx2.send(Ev::Echo);
            }
        })
        .connect()
        .unwrap();
    let mut resumed = None;
    let deadline = Instant::now() + IO_TIMEOUT;
    let served = loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Ev::Up(r)) => resumed = r,
            Ok(Ev::Echo) => break true,
            Ok(Ev::Down) => break false,
            // A refused TLS 1.2 client never comes up: its attempt fails instead.
            Err(_) if client.failures() > 0 => break false,
            Err(_) => assert!(Instant::now() < deadline, "neither served nor refused"),
        }
    };
    client.stop();
    if served {
        Some(resumed.expect("up before the echo"))
    } else {
        None
    }
}

#[test]
fn reload_keeps_tickets_but_a_client_auth_change_forces_a_full_handshake() {
    use muon::rustls::{ClientAuth, RustlsAcceptor};
    init_logging();
    for version in [Version::Tls12, Version::Tls13] {
        let v = match version {
            Version::Tls12 => muon::rustls::TlsVersion::Tls12,
            Version::Tls13 => muon::rustls::TlsVersion::Tls13,
        };
        let builder = || {
            RustlsAcceptor::builder(cert("server.crt"), cert("server.key"))
                .min_protocol(v)
                .max_protocol(v)
        };
        let acceptor = builder().build().unwrap();
        let server = tls_echo_server(acceptor.clone(), 1);
        let addr = server.local_addr();
        let factory = Provider::Rustls.client(&ClientOpts::default());
        assert_eq!(try_session(addr, &factory), Some(false), "{version:?}");
        // A reload keeps the ticket keys: the session resumes.
        let summary = acceptor.reload().unwrap();
        assert!(summary.changed.is_empty(), "{summary}");
        assert_eq!(summary.unchanged.len(), 2, "{summary}");
        assert_eq!(try_session(addr, &factory), Some(true), "{version:?}");
        // A bad reconfigure changes nothing: the error names the file, old config serves.
        let missing = std::env::temp_dir().join(format!("muon-missing-{}.crt", std::process::id()));
        let err = acceptor
            .reconfigure(RustlsAcceptor::builder(&missing, cert("server.key")))
            .unwrap_err()
            .to_string();
        assert!(err.contains(&*missing.to_string_lossy()), "{err}");
        assert_eq!(try_session(addr, &factory), Some(true), "{version:?}");
        // mTLS turned on: the old ticket must not skip the certificate request.
        acceptor
            .reconfigure(
                builder()
                    .client_ca_file(cert("ca.crt"))
                    .client_auth(ClientAuth::Required),
            )
            .unwrap();
        assert_eq!(
            try_session(addr, &factory),
            None,
            "{version:?}: a ticket from before mTLS let a client without a certificate in"
        );
        // A client with a certificate gets a full handshake, then resumes under mTLS.
        let with_cert = Provider::Rustls.client(&ClientOpts {
            client_cert: true,
            ..ClientOpts::default()
        });
        assert_eq!(try_session(addr, &with_cert), Some(false), "{version:?}");
        assert_eq!(try_session(addr, &with_cert), Some(true), "{version:?}");
        stop_when_idle(&server);
    }
}

#[test]
fn the_rustls_client_refuses_a_wrong_name_and_an_unknown_issuer_with_reasons() {
    use muon::rustls::RustlsConnector;
    init_logging();
    let server = Provider::OpenSsl.echo_server(1);
    let dev_ca = RustlsConnector::builder()
        .ca_file(cert("ca.crt"))
        .build()
        .unwrap();
    // The system bundle does not know the development CA.
    let system = RustlsConnector::builder().build().unwrap();
    for (connector, host, reason) in [
        (&dev_ca, "wrong.example", "not valid for name"),
        (&system, "localhost", "UnknownIssuer"),
    ] {
        let client = muon::TcpClient::builder(&server.local_addr().to_string())
            .retry(muon::RetryPolicy::no_retry())
            .tls(connector.for_host(host))
            .connect()
            .unwrap();
        let err = client.wait_connected(IO_TIMEOUT).unwrap_err().to_string();
        assert!(
            err.contains("handshake failed") && err.contains(reason),
            "{host}: expected {reason:?} in: {err}"
        );
    }
    stop_when_idle(&server);
}

/// A clock a test moves by hand (rustls's `TimeProvider`, given to the acceptor).
#[derive(Debug)]
struct HandClock(std::sync::atomic::AtomicU64);

impl HandClock {
    fn starting_now() -> std::sync::Arc<HandClock> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        std::sync::Arc::new(HandClock(now.as_secs().into()))
    }

    fn advance(&self, by: Duration) {
        self.0
            .fetch_add(by.as_secs(), std::sync::atomic::Ordering::SeqCst);
    }
}

impl muon::rustls::rustls::time_provider::TimeProvider for HandClock {
    fn current_time(&self) -> Option<muon::rustls::rustls::pki_types::UnixTime> {
        let secs = self.0.load(std::sync::atomic::Ordering::SeqCst);
        Some(muon::rustls::rustls::pki_types::UnixTime::since_unix_epoch(
            Duration::from_secs(secs),
        ))
    }
}

/// Random ticket keys rotate every `ticket_key_rotation` of the acceptor's clock: a
/// ticket from the previous period still resumes, one issued before two rotations does
/// not (a full handshake). The clock is moved by hand, so no time has to pass.
#[test]
fn random_ticket_keys_rotate_with_the_configured_period() {
    use muon::rustls::RustlsAcceptor;
    init_logging();
    assert_eq!(
        muon::rustls::DEFAULT_TICKET_KEY_ROTATION,
        muon::ssl::DEFAULT_TICKET_KEY_ROTATION,
        "both providers rotate random keys on the same default period"
    );
    let period = Duration::from_secs(3600);
    for version in [Version::Tls12, Version::Tls13] {
        let v = match version {
            Version::Tls12 => muon::rustls::TlsVersion::Tls12,
            Version::Tls13 => muon::rustls::TlsVersion::Tls13,
        };
        let clock = HandClock::starting_now();
        let acceptor = RustlsAcceptor::builder(cert("server.crt"), cert("server.key"))
            .min_protocol(v)
            .max_protocol(v)
            .ticket_key_rotation(period)
            .time_provider(clock.clone())
            .build()
            .unwrap();
        let server = tls_echo_server(acceptor, 1);
        let addr = server.local_addr();
        // Each client factory has its own session cache, so holds its own tickets.
        let (old, recent) = (
            Provider::Rustls.client(&ClientOpts::default()),
            Provider::Rustls.client(&ClientOpts::default()),
        );
        assert_eq!(try_session(addr, &old), Some(false), "{version:?}");
        assert_eq!(
            try_session(addr, &old),
            Some(true),
            "{version:?}: a ticket resumes within its period"
        );
        clock.advance(period);
        assert_eq!(try_session(addr, &recent), Some(false), "{version:?}");
        clock.advance(period);
        assert_eq!(
            try_session(addr, &recent),
            Some(true),
            "{version:?}: a ticket of the previous period resumes"
        );
        assert_eq!(
            try_session(addr, &old),
            Some(false),
            "{version:?}: a ticket from before two rotations must not resume"
        );
        stop_when_idle(&server);
    }
}
