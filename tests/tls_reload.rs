//! Hot reload: certificates replaced and reloaded many times while a bounded churn of
//! handshakes runs; no handshake fails, connections opened before each reload keep
//! echoing, new ones see the new certificate, and a bad reload changes nothing. Then
//! the same through the `echo` example's SIGHUP.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::tls::{cert, tls_echo, tls_echo_server, Provider, PROVIDERS};
use common::tls_tools::*;
use common::{init_logging, wait_until, IO_TIMEOUT};
use muon::ssl::TlsAcceptor;
use openssl::hash::MessageDigest;
use openssl::ssl::{SslConnector, SslMethod, SslStream};

/// A client trusting both development roots (the reloads alternate between them).
fn client() -> SslConnector {
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_ca_file(cert("ca.crt")).unwrap();
    b.set_ca_file(cert("root-ca.crt")).unwrap();
    b.build()
}

fn open(addr: SocketAddr, config: &SslConnector) -> Result<SslStream<TcpStream>, String> {
    let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    tcp.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    config.connect("localhost", tcp).map_err(|e| e.to_string())
}

fn leaf_digest(stream: &SslStream<TcpStream>) -> Vec<u8> {
    let leaf = stream
        .ssl()
        .peer_certificate()
        .expect("a server certificate");
    leaf.digest(MessageDigest::sha256()).unwrap().to_vec()
}

fn file_digest(name: &str) -> Vec<u8> {
    let pem = std::fs::read(cert(name)).unwrap();
    let leaf = openssl::x509::X509::from_pem(&pem).unwrap();
    leaf.digest(MessageDigest::sha256()).unwrap().to_vec()
}

#[test]
fn reload_under_handshake_churn_fails_nothing_and_keeps_old_connections() {
    init_logging();
    let dir = TempDir::new("reload-churn");
    let (live_crt, live_key) = (dir.path("live.crt"), dir.path("live.key"));
    replace_file(cert("chain.crt"), &live_crt);
    replace_file(cert("chain.key"), &live_key);
    let acceptor = TlsAcceptor::from_pem_files(&live_crt, &live_key).unwrap();
    let server = tls_echo_server(acceptor.clone(), 2);
    let addr = server.local_addr();
    let config = Arc::new(client());

    // The churn: handshakes and one echo each, bounded in count, until told to stop.
    const MAX_HANDSHAKES: usize = 4000;
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new((
        0usize,
        Vec::<String>::new(),
        Vec::<Vec<u8>>::new(),
    )));
    let churn: Vec<_> = (0..2)
        .map(|_| {
            let (stop, seen, config) = (stop.clone(), seen.clone(), config.clone());
            std::thread::spawn(move || {
                for _ in 0..MAX_HANDSHAKES / 2 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let result = open(addr, &config).and_then(|mut s| {
                        let back = tls_echo(&mut s, b"churn");
                        (back == b"churn")
                            .then(|| leaf_digest(&s))
                            .ok_or("bad echo".into())
                    });
                    let mut seen = seen.lock().unwrap();
                    seen.0 += 1;
                    match result {
                        Ok(d) if !seen.2.contains(&d) => seen.2.push(d),
                        Ok(_) => {}
                        Err(e) => seen.1.push(e),
                    }
                }
            })
        })
        .collect();

    let (a, b) = (file_digest("chain.crt"), file_digest("server.crt"));
    let mut old = Vec::new();
    for round in 0..12 {
        let (crt, key, want) = match round % 2 {
            0 => ("server.crt", "server.key", &b),
            _ => ("chain.crt", "chain.key", &a),
        };
        let mut before = open(addr, &config).expect("handshake before the reload");
        assert_eq!(tls_echo(&mut before, b"before"), b"before");
        old.push(before);
        replace_file(cert(crt), &live_crt);
        replace_file(cert(key), &live_key);
        let summary = acceptor.reload().expect("a good reload");
        assert!(
            summary.changed.iter().any(|p| p.ends_with("live.crt")),
            "{summary}"
        );
        let fresh = open(addr, &config).expect("handshake after the reload");
        assert_eq!(
            &leaf_digest(&fresh),
            want,
            "round {round}: the new certificate"
        );

        // Bad reloads: garbage, a key of another certificate, a missing file.
        write_file(&live_key, b"-----BEGIN PRIVATE KEY-----\ngarbage\n");
        let err = acceptor.reload().expect_err("garbage key").to_string();
        assert!(err.contains("live.key"), "{err}");
        replace_file(cert("other.key"), &live_key);
        let err = acceptor.reload().expect_err("mismatched key").to_string();
        assert!(err.contains("does not match"), "{err}");
        std::fs::remove_file(&live_key).unwrap();
        let err = acceptor.reload().expect_err("missing key").to_string();
        assert!(err.contains("live.key"), "{err}");
        let after_bad = open(addr, &config).expect("handshake after bad reloads");
        assert_eq!(
            &leaf_digest(&after_bad),
            want,
            "round {round}: bad reloads change nothing"
        );
        replace_file(cert(key), &live_key);

        for (i, conn) in old.iter_mut().enumerate() {
            assert_eq!(
                tls_echo(conn, b"still here"),
                b"still here",
                "round {round}, old {i}"
            );
        }
    }
    // Let the churn overlap the reloads for a while longer (bounded), then stop it.
    assert!(wait_until(IO_TIMEOUT, || seen.lock().unwrap().0 >= 50));
    stop.store(true, Ordering::Relaxed);
    for t in churn {
        t.join().unwrap();
    }
    let seen = seen.lock().unwrap();
    assert!(
        seen.1.is_empty(),
        "{} of {} handshakes failed: {:?}",
        seen.1.len(),
        seen.0,
        seen.1
    );
    assert!(
        seen.2.contains(&a) && seen.2.contains(&b),
        "churn saw both certificates"
    );
    eprintln!(
        "reload churn: {} handshakes, 12 reloads, 36 rejected reloads",
        seen.0
    );
    drop(old);
    assert!(server.stop());
}

fn issuer(out: &str) -> Option<&str> {
    out.lines().find(|l| l.starts_with("issuer="))
}

#[test]
fn sighup_reloads_the_echo_examples_files_and_a_bad_reload_keeps_serving() {
    for &provider in PROVIDERS {
        sighup_reloads_on(provider);
    }
}

fn sighup_reloads_on(provider: Provider) {
    let dir = TempDir::new(&format!("reload-sighup-{provider:?}"));
    let (live_crt, live_key) = (dir.path("live.crt"), dir.path("live.key"));
    replace_file(cert("chain.crt"), &live_crt);
    replace_file(cert("chain.key"), &live_key);
    let mut flags = vec!["--cert", &live_crt, "--key", &live_key];
    flags.extend(provider.flag());
    let echo = EchoProcess::start(&flags);
    let (ca, root) = (cert("ca.crt"), cert("root-ca.crt"));
    let args = ["-CAfile", &root, "-CAfile", &ca, "-servername", "localhost"];
    let run = s_client(&echo.addr, &args);
    assert!(run.echoed, "{}", run.out);
    assert!(
        issuer(&run.out).unwrap_or("").contains("Intermediate CA"),
        "{}",
        run.out
    );

    replace_file(cert("server.crt"), &live_crt);
    replace_file(cert("server.key"), &live_key);
    echo.sighup();
    let line = echo.wait_for_log("TLS reload").expect("a reload log line");
    assert!(
        line.contains("changed:") && line.contains("live.crt"),
        "{line}"
    );
    let run = s_client(
        &echo.addr,
        &[
            "-CAfile",
            &ca,
            "-verify_return_error",
            "-servername",
            "localhost",
        ],
    );
    assert!(run.echoed, "{}", run.out);
    assert!(
        issuer(&run.out)
            .unwrap_or("")
            .contains("CN = Muon Development CA"),
        "{}",
        run.out
    );

    write_file(&live_crt, b"garbage");
    echo.sighup();
    let line = echo.wait_for_log("TLS reload").expect("a reload log line");
    assert!(
        line.contains("ERROR") || line.contains("rejected"),
        "{line}"
    );
    assert!(line.contains("live.crt"), "{line}");
    let run = s_client(
        &echo.addr,
        &[
            "-CAfile",
            &ca,
            "-verify_return_error",
            "-servername",
            "localhost",
        ],
    );
    assert!(
        run.echoed,
        "{provider:?}: the old configuration keeps serving: {}",
        run.out
    );
}

#[test]
fn sighup_reloads_the_ocsp_response_and_the_client_ca() {
    for &provider in PROVIDERS {
        sighup_ocsp_and_ca_on(provider);
    }
}

fn sighup_ocsp_and_ca_on(provider: Provider) {
    let dir = TempDir::new(&format!("reload-ocsp-ca-{provider:?}"));
    let (ocsp, client_ca) = (dir.path("live.ocsp"), dir.path("client-ca.pem"));
    replace_file(ocsp_response(&dir, "V"), &ocsp);
    replace_file(cert("ca.crt"), &client_ca);
    let (chain, key) = (cert("chain.crt"), cert("chain.key"));
    let mut flags = vec![
        "--cert",
        &chain,
        "--key",
        &key,
        "--ocsp",
        &ocsp,
        "--client-ca",
        &client_ca,
    ];
    flags.extend(provider.flag());
    let echo = EchoProcess::start(&flags);
    let (root, c, k) = (cert("root-ca.crt"), cert("client.crt"), cert("client.key"));
    let args = [
        "-CAfile",
        &root,
        "-servername",
        "localhost",
        "-status",
        "-cert",
        &c,
        "-key",
        &k,
    ];
    let run = s_client(&echo.addr, &args);
    assert!(
        run.echoed && run.out.contains("Cert Status: good"),
        "{}",
        run.out
    );

    // A revoked status is refused (naming the file and why); the good response from
    // before keeps being stapled.
    replace_file(ocsp_response(&dir, "R"), &ocsp);
    echo.sighup();
    let line = echo.wait_for_log("TLS reload").expect("a reload log line");
    assert!(
        line.contains("rejected") && line.contains("live.ocsp") && line.contains("revoked"),
        "{provider:?}: {line}"
    );
    let run = s_client(&echo.addr, &args);
    assert!(
        run.echoed && run.out.contains("Cert Status: good"),
        "{provider:?}: {}",
        run.out
    );

    // The client CA becomes the other root: the client certificate is refused now.
    // (A good response goes back first: a reload reads every file, and the revoked
    // one would refuse it.)
    replace_file(ocsp_response(&dir, "V"), &ocsp);
    replace_file(cert("root-ca.crt"), &client_ca);
    echo.sighup();
    let line = echo.wait_for_log("TLS reload").expect("a reload log line");
    assert!(line.contains("client-ca.pem"), "{line}");
    let run = s_client(&echo.addr, &args);
    assert!(
        !run.echoed,
        "{provider:?}: a client certificate of the old CA: {}",
        run.out
    );
}

#[test]
fn sessions_resume_across_a_reload_and_reconfigure_adds_a_server_name() {
    init_logging();
    let acceptor = TlsAcceptor::from_pem_files(cert("chain.crt"), cert("chain.key")).unwrap();
    let server = tls_echo_server(acceptor.clone(), 2);
    let addr = server.local_addr();
    let config = client();
    for version in [
        openssl::ssl::SslVersion::TLS1_2,
        openssl::ssl::SslVersion::TLS1_3,
    ] {
        let connect = |session: Option<&openssl::ssl::SslSessionRef>| {
            let mut ssl = config.configure().unwrap().into_ssl("localhost").unwrap();
            ssl.set_min_proto_version(Some(version)).unwrap();
            ssl.set_max_proto_version(Some(version)).unwrap();
            if let Some(s) = session {
                // SAFETY: the session comes from a connection with the same settings.
                unsafe { ssl.set_session(s).unwrap() };
            }
            let tcp = TcpStream::connect(addr).unwrap();
            tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            let mut s = ssl.connect(tcp).expect("handshake");
            // The echo comes after the TLS 1.3 tickets: the session is resumable now.
            assert_eq!(tls_echo(&mut s, b"x"), b"x");
            s
        };
        let first = connect(None);
        let session = first.ssl().session().unwrap().to_owned();
        assert!(!first.ssl().session_reused());
        acceptor.reload().unwrap();
        let second = connect(Some(&session));
        assert!(
            second.ssl().session_reused(),
            "{version:?}: the ticket keys survive"
        );
    }

    // reconfigure: a new SNI name for new handshakes.
    let builder = TlsAcceptor::builder(cert("chain.crt"), cert("chain.key")).sni_certificate(
        "*.example.com",
        cert("wildcard.crt"),
        cert("wildcard.key"),
    );
    let summary = acceptor.reconfigure(builder).unwrap();
    assert!(
        summary.changed.iter().any(|p| p.ends_with("wildcard.crt")),
        "{summary}"
    );
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut s = config.connect("www.example.com", tcp).expect("handshake");
    assert_eq!(tls_echo(&mut s, b"sni"), b"sni");
    assert_eq!(leaf_digest(&s), file_digest("wildcard.crt"));
    assert!(server.stop());
}

#[test]
fn reloads_from_several_threads_at_once_are_safe() {
    init_logging();
    let acceptor = TlsAcceptor::from_pem_files(cert("chain.crt"), cert("chain.key")).unwrap();
    let server = tls_echo_server(acceptor.clone(), 2);
    let config = client();
    let reloaders: Vec<_> = (0..4)
        .map(|_| {
            let acceptor = acceptor.clone();
            std::thread::spawn(move || {
                for _ in 0..25 {
                    acceptor.reload().expect("reload");
                }
            })
        })
        .collect();
    for _ in 0..20 {
        let mut s = open(server.local_addr(), &config).expect("handshake during reloads");
        assert_eq!(tls_echo(&mut s, b"r"), b"r");
    }
    for t in reloaders {
        t.join().expect("no reload thread panicked");
    }
    assert!(server.stop());
}

#[test]
fn chat_server_takes_the_same_tls_flags_and_reloads_on_sighup() {
    let dir = TempDir::new("reload-chat");
    let key = dir.path("ticket.key");
    std::fs::write(&key, [3u8; 80]).unwrap();
    let (chain, chain_key) = (cert("chain.crt"), cert("chain.key"));
    let sni = format!(
        "*.example.com={},{}",
        cert("wildcard.crt"),
        cert("wildcard.key")
    );
    let chat = EchoProcess::try_start_example(
        "chat_server",
        &[
            "--cert",
            &chain,
            "--key",
            &chain_key,
            "--sni",
            &sni,
            "--ticket-keys",
            &key,
        ],
    )
    .unwrap_or_else(|log| panic!("chat_server did not start:\n{log}"));
    let root = cert("root-ca.crt");
    let run = s_client(
        &chat.addr,
        &[
            "-CAfile",
            &root,
            "-verify_return_error",
            "-servername",
            "www.example.com",
        ],
    );
    // The chat protocol is framed, so no echo: the handshake's verdict is what counts.
    assert!(
        run.out.contains("Verify return code: 0 (ok)"),
        "{}",
        run.out
    );
    assert!(run.out.contains("CN = *.example.com"), "{}", run.out);
    chat.sighup();
    let line = chat.wait_for_log("TLS reload").expect("a reload log line");
    assert!(line.contains("no file changed"), "{line}");
}
