//! TcpClient with TLS: against Muon and against `openssl s_server`, verification
//! failures, a stalled server, reconnect with session resumption.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::process::{lines_of, wait_for_line};
use common::tls::*;
use common::*;
use muon::ssl::{TlsConnectionExt, TlsConnector, TlsVersion};
use muon::{RetryPolicy, TcpClient};

fn connector() -> TlsConnector {
    TlsConnector::builder()
        .ca_file(cert("ca.crt"))
        .build()
        .unwrap()
}

/// A collecting client that tries once.
fn collecting(addr: &str) -> (muon::TcpClientBuilder, crossbeam_channel::Receiver<Vec<u8>>) {
    let (b, rx) = collecting_client(addr);
    (b.retry(RetryPolicy::no_retry()), rx)
}

#[test]
fn echoes_against_muon_over_tls12_and_tls13() {
    init_logging();
    for v in [TlsVersion::Tls12, TlsVersion::Tls13] {
        let server = tls_echo_server(
            acceptor_builder()
                .min_protocol(v)
                .max_protocol(v)
                .build()
                .unwrap(),
            2,
        );
        let (b, rx) = collecting(&format!("localhost:{}", server.local_addr().port()));
        let (vtx, vrx) = crossbeam_channel::unbounded();
        let client = b
            .tls(connector().for_host("localhost"))
            .on_connection(move |c| {
                if c.is_connected() {
                    vtx.send(c.tls_layer().unwrap().protocol_version().to_string())
                        .unwrap();
                }
            })
            .connect()
            .unwrap();
        let conn = client.wait_connected(IO_TIMEOUT).unwrap();
        let data = payload(2 << 20, 4);
        assert!(conn.send(data.clone()));
        assert!(recv_exactly(&rx, data.len()) == data);
        let want = if v == TlsVersion::Tls12 {
            "TLSv1.2"
        } else {
            "TLSv1.3"
        };
        assert_eq!(vrx.recv_timeout(IO_TIMEOUT).unwrap(), want);
        drop(client);
        assert!(server.stop());
    }
}

#[test]
fn echoes_against_openssl_s_server() {
    for &provider in PROVIDERS {
        s_server_on(provider);
    }
}

fn s_server_on(provider: Provider) {
    init_logging();
    for flag in ["-tls1_2", "-tls1_3"] {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                &format!("127.0.0.1:{port}"),
                "-rev",
                flag,
            ])
            .args(["-cert", &cert("server.crt"), "-key", &cert("server.key")])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server");
        let out = lines_of(server.stdout.take().unwrap());
        wait_for_line(
            &out,
            Instant::now() + IO_TIMEOUT,
            "s_server's ACCEPT",
            |l| l.contains("ACCEPT"),
        );
        let (b, rx) = collecting(&format!("localhost:{port}"));
        let client = b
            .tls(provider.client(&ClientOpts::default()))
            .connect()
            .unwrap();
        let conn = client.wait_connected(IO_TIMEOUT).unwrap();
        // s_server -rev answers each line reversed.
        assert!(conn.send(b"hello muon\n".to_vec()));
        let got = recv_exactly(&rx, b"noum olleh".len());
        assert!(
            String::from_utf8_lossy(&got).contains("noum olleh"),
            "{provider:?} {flag}: {got:?}"
        );
        drop(client);
        let _ = server.kill();
        let _ = server.wait();
    }
}

fn expect_verify_failure(
    client_conn: TlsConnector,
    host: &str,
    addr: std::net::SocketAddr,
    reason: &str,
) {
    let client = TcpClient::builder(&addr.to_string())
        .retry(RetryPolicy::no_retry())
        .tls(client_conn.for_host(host))
        .connect()
        .unwrap();
    let err = client.wait_connected(IO_TIMEOUT).unwrap_err().to_string();
    assert!(err.contains("certificate verify failed"), "{host}: {err}");
    assert!(
        err.contains(reason),
        "{host}: expected {reason:?} in: {err}"
    );
}

#[test]
fn wrong_host_untrusted_ca_and_expired_certificate_fail_with_reasons() {
    init_logging();
    let server = tls_echo_server(acceptor_builder().build().unwrap(), 1);
    expect_verify_failure(
        connector(),
        "wrong.example",
        server.local_addr(),
        "hostname mismatch",
    );
    let system_trust = TlsConnector::new().unwrap();
    expect_verify_failure(
        system_trust,
        "localhost",
        server.local_addr(),
        "certificate",
    );
    assert!(server.stop());

    let (cert_pem, key_pem) = expired_certificate();
    let acceptor = muon::ssl::TlsAcceptor::from_pem(&cert_pem, &key_pem).unwrap();
    let server = tls_echo_server(acceptor, 1);
    expect_verify_failure(connector(), "localhost", server.local_addr(), "expired");
    assert!(server.stop());
}

/// A leaf for "localhost" signed by the development CA that expired last year.
fn expired_certificate() -> (Vec<u8>, Vec<u8>) {
    leaf_certificate(-2 * 365 * 86_400, -365 * 86_400, true)
}

/// A leaf for "localhost" (and 127.0.0.1 with `with_ip`) signed by the development
/// CA, valid between now + `from` and now + `to` seconds.
fn leaf_certificate(from: i64, to: i64, with_ip: bool) -> (Vec<u8>, Vec<u8>) {
    use openssl::asn1::Asn1Time;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::extension::SubjectAlternativeName;
    use openssl::x509::{X509NameBuilder, X509};
    let ca = X509::from_pem(&std::fs::read(cert("ca.crt")).unwrap()).unwrap();
    let ca_key = PKey::private_key_from_pem(&std::fs::read(cert("ca.key")).unwrap()).unwrap();
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "localhost").unwrap();
    let name = name.build();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(ca.subject_name()).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(now + from).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(now + to).unwrap())
        .unwrap();
    let mut san = SubjectAlternativeName::new();
    san.dns("localhost");
    if with_ip {
        san.ip("127.0.0.1");
    }
    let san = san.build(&b.x509v3_context(Some(&ca), None)).unwrap();
    b.append_extension(san).unwrap();
    b.sign(&ca_key, MessageDigest::sha256()).unwrap();
    let mut chain = b.build().to_pem().unwrap();
    chain.extend(ca.to_pem().unwrap());
    (chain, key.private_key_to_pem_pkcs8().unwrap())
}

#[test]
fn stalled_server_trips_the_handshake_timeout() {
    init_logging();
    // Accepts TCP (the kernel does, via the backlog) and never speaks.
    let stalled = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let timeout = Duration::from_millis(400);
    let tls = TlsConnector::builder()
        .ca_file(cert("ca.crt"))
        .handshake_timeout(timeout)
        .build()
        .unwrap();
    let start = Instant::now();
    let client = TcpClient::builder(&stalled.local_addr().unwrap().to_string())
        .retry(RetryPolicy::no_retry())
        .tls(tls.for_host("localhost"))
        .connect()
        .unwrap();
    let err = client.wait_connected(IO_TIMEOUT).unwrap_err();
    let waited = start.elapsed();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    assert!(err.to_string().contains("handshake timed out"), "{err}");
    assert!(
        waited >= timeout - Duration::from_millis(20) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    drop(client); // joins the client's loop thread: nothing hangs
}

#[test]
fn reconnect_resumes_the_tls_session() {
    init_logging();
    let acceptor = acceptor_builder().build().unwrap();
    let server = tls_echo_server(acceptor.clone(), 1);
    let addr = server.local_addr();
    let (tx, rx) = crossbeam_channel::unbounded();
    let (echoed_tx, echoed_rx) = crossbeam_channel::unbounded::<Vec<u8>>();
    let client = TcpClient::builder(&addr.to_string())
        .reconnect(true)
        .retry(RetryPolicy {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            ..Default::default()
        })
        .tls(connector().for_host("localhost"))
        .on_connection(move |c| {
            if c.is_connected() {
                tx.send(c.tls_layer().unwrap().session_reused()).unwrap();
            }
        })
        .on_message(move |_c, input| {
            echoed_tx.send(input.retrieve_all_as_vec()).unwrap();
        })
        .connect()
        .unwrap();
    assert!(
        !rx.recv_timeout(IO_TIMEOUT).unwrap(),
        "first connection is a full handshake"
    );
    // The TLS 1.3 ticket follows the handshake, before any application data:
    // once the echo of "ping" is back, the client has read (and stored) it.
    let conn = client.wait_connected(IO_TIMEOUT).unwrap();
    assert!(conn.send(b"ping".to_vec()));
    let mut echoed = Vec::new();
    while echoed.len() < 4 {
        echoed.extend(echoed_rx.recv_timeout(IO_TIMEOUT).expect("echo of ping"));
    }
    assert_eq!(echoed, b"ping");
    assert!(server.stop());
    // Same port, same acceptor (same ticket keys).
    let server = muon::TcpServer::builder(addr)
        .threads(1)
        .tls(acceptor)
        .started();
    assert!(
        rx.recv_timeout(IO_TIMEOUT).unwrap(),
        "reconnect did not resume the session"
    );
    drop(client);
    assert!(server.stop());
}

#[test]
fn tls_client_half_close_still_receives_the_whole_reply() {
    init_logging();
    let reply = payload(1 << 20, 8);
    let r = reply.clone();
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .tls(acceptor_builder().build().unwrap())
        .on_message(|_c, input| input.retrieve_all())
        .on_half_close(move |conn| {
            conn.send(&r);
            conn.shutdown();
        })
        .started();
    let (b, rx) = collecting(&server.local_addr().to_string());
    let client = b.tls(connector().for_host("localhost")).connect().unwrap();
    let conn = client.wait_connected(IO_TIMEOUT).unwrap();
    assert!(conn.send(b"request".to_vec()));
    assert!(conn.shutdown()); // close_notify, then FIN
    assert!(recv_exactly(&rx, reply.len()) == reply);
    drop(client);
    assert!(server.stop());
}

#[test]
fn a_connector_given_to_a_client_takes_the_server_name_from_its_address() {
    init_logging();
    let (sni_tx, sni) = crossbeam_channel::unbounded();
    // A certificate for the name "localhost" only (no IP address in it).
    let (cert_pem, key_pem) = leaf_certificate(-86_400, 86_400, false);
    let acceptor = muon::ssl::TlsAcceptor::from_pem(&cert_pem, &key_pem).unwrap();
    let server = muon::TcpServer::builder("127.0.0.1:0")
        .threads(1)
        .tls(acceptor)
        .on_connection(move |c| {
            if c.is_connected() {
                let _ = sni_tx.send(c.tls_info().and_then(|t| t.server_name));
            }
        })
        .echo()
        .started();
    let port = server.local_addr().port();
    // No for_host: the connector is given as it is, the name comes from "localhost:port".
    let (b, rx) = collecting(&format!("localhost:{port}"));
    let client = b.tls(connector()).connect().unwrap();
    let conn = client.wait_connected(IO_TIMEOUT).unwrap();
    assert_eq!(
        sni.recv_timeout(IO_TIMEOUT).unwrap().as_deref(),
        Some("localhost"),
        "the client sent its address's host as SNI"
    );
    assert!(conn.send(b"ping".to_vec()));
    assert_eq!(recv_exactly(&rx, 4), b"ping");
    drop(client);
    // The name is verified too: the same server by its IP address, which the
    // certificate does not name, fails verification.
    let wrong = TcpClient::builder(&format!("127.0.0.1:{port}"))
        .retry(RetryPolicy::no_retry())
        .tls(connector())
        .connect()
        .unwrap();
    let err = wrong.wait_connected(IO_TIMEOUT).unwrap_err().to_string();
    assert!(err.contains("certificate verify failed"), "{err}");
    assert!(err.contains("mismatch"), "{err}");
    drop(wrong);
    assert!(server.stop());
}

#[test]
fn a_connector_used_as_a_server_layer_refuses_clearly() {
    use muon::LayerFactory;
    let e = connector()
        .new_layer("127.0.0.1:1".parse().unwrap())
        .err()
        .expect("no server name, no layer");
    assert!(e.to_string().contains("needs the server's name"), "{e}");
}
