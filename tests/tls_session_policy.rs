//! A session resumes only under the client-authentication policy it was made under:
//! after a reload that turns client certificates on, or drops a client CA, a session
//! from before the reload is not resumed (the client gets a full handshake and the new
//! policy's verdict), over TLS 1.2 and 1.3; an unchanged reload still resumes. The
//! ticket keys survive reloads on purpose, so this rests on the session id context
//! (derived from the policy) being checked for tickets too. Processes with the same
//! policy and ticket keys still resume each other's sessions. Every test runs once per
//! TLS provider of the server (`name::openssl`, `name::rustls`); the client is OpenSSL's.

mod common;

use std::net::{SocketAddr, TcpStream};

use common::tls::{cert, tls_echo_server, Provider, ServerOpts};
use common::tls_tools::TempDir;
use common::{init_logging, IO_TIMEOUT};
use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslSession, SslStream, SslVersion};

const VERSIONS: [SslVersion; 2] = [SslVersion::TLS1_2, SslVersion::TLS1_3];

/// A client of one TLS version trusting the development CA, with or without the
/// development client certificate.
fn client(version: SslVersion, with_cert: bool) -> SslConnector {
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_ca_file(cert("ca.crt")).unwrap();
    b.set_min_proto_version(Some(version)).unwrap();
    b.set_max_proto_version(Some(version)).unwrap();
    if with_cert {
        b.set_certificate_file(cert("client.crt"), SslFiletype::PEM)
            .unwrap();
        b.set_private_key_file(cert("client.key"), SslFiletype::PEM)
            .unwrap();
    }
    b.build()
}

/// Handshake (offering `session` if given) and one echo: a TLS 1.3 server refuses a
/// client certificate after the client's handshake returned, so only the echo tells.
/// The echo also comes after the TLS 1.3 tickets, so the session is resumable then.
fn exchange(
    addr: SocketAddr,
    config: &SslConnector,
    session: Option<&SslSession>,
) -> Result<SslStream<TcpStream>, String> {
    let mut ssl = config.configure().unwrap().into_ssl("localhost").unwrap();
    if let Some(s) = session {
        // SAFETY: the session comes from a connection made with the same connector
        // settings to the same server.
        unsafe { ssl.set_session(s).unwrap() };
    }
    let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    tcp.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut s = ssl.connect(tcp).map_err(|e| format!("handshake: {e}"))?;
    use std::io::{Read, Write};
    s.write_all(b"x").map_err(|e| format!("write: {e}"))?;
    let mut back = [0u8; 1];
    s.read_exact(&mut back).map_err(|e| format!("read: {e}"))?;
    if &back != b"x" {
        return Err("echo differs".into());
    }
    Ok(s)
}

/// An orderly close (close_notify): OpenSSL marks the session of a connection freed
/// without one as not resumable, which would hide what these tests look at.
fn close(mut s: SslStream<TcpStream>) {
    let _ = s.shutdown();
}

fn session_of(s: &SslStream<TcpStream>) -> SslSession {
    s.ssl().session().expect("a session").to_owned()
}

per_provider!(turning_client_auth_on_refuses_sessions_from_before);
fn turning_client_auth_on_refuses_sessions_from_before(provider: Provider) {
    init_logging();
    // Both versions run even if one fails, so a failure names every version it hits.
    let mut served = Vec::new();
    for version in VERSIONS {
        let acceptor = provider.acceptor(&ServerOpts::default());
        let server = tls_echo_server(acceptor.clone(), 2);
        let addr = server.local_addr();
        let anonymous = client(version, false);
        let first = exchange(addr, &anonymous, None).expect("no client auth yet");
        let session = session_of(&first);
        close(first);

        acceptor
            .reconfigure(&ServerOpts {
                client_auth: Some(true),
                ..ServerOpts::default()
            })
            .unwrap();
        assert!(
            exchange(addr, &anonymous, None).is_err(),
            "{provider:?} {version:?}: a fresh client without a certificate is refused"
        );
        match exchange(addr, &anonymous, Some(&session)) {
            Ok(s) => served.push(format!(
                "{provider:?} {version:?}: a session from before client auth was required was served \
                 (resumed: {})",
                s.ssl().session_reused()
            )),
            Err(e) => println!("{provider:?} {version:?}: old session without a certificate refused: {e}"),
        }
        let with_cert = exchange(addr, &client(version, true), None).expect("a valid certificate");
        assert!(!with_cert.ssl().session_reused());
        close(with_cert);
        assert!(server.stop());
    }
    assert!(served.is_empty(), "{served:#?}");
}

per_provider!(dropping_a_client_ca_refuses_sessions_from_before_and_an_unchanged_reload_resumes);
fn dropping_a_client_ca_refuses_sessions_from_before_and_an_unchanged_reload_resumes(
    provider: Provider,
) {
    init_logging();
    // Both versions run even if one fails, so a failure names every version it hits.
    let mut served = Vec::new();
    for version in VERSIONS {
        let dir = TempDir::new(&format!("session-policy-{}-{version:?}", provider.name()));
        let ca_file = dir.path("client-ca.pem");
        let both = [
            std::fs::read(cert("ca.crt")).unwrap(),
            std::fs::read(cert("root-ca.crt")).unwrap(),
        ]
        .concat();
        common::tls_tools::write_file(&ca_file, &both);
        let acceptor = provider.acceptor(&ServerOpts {
            client_auth: Some(true),
            client_ca_file: Some(ca_file.clone().into()),
            ..ServerOpts::default()
        });
        let server = tls_echo_server(acceptor.clone(), 2);
        let addr = server.local_addr();
        let config = client(version, true);
        let first = exchange(addr, &config, None).expect("the client CA is trusted");
        let session = session_of(&first);
        close(first);

        // Nothing changed: the session resumes (the ticket keys and the policy are the
        // same), so the refusals below are the policy's doing.
        acceptor.reload().unwrap();
        let again = exchange(addr, &config, Some(&session)).expect("unchanged reload");
        assert!(
            again.ssl().session_reused(),
            "{provider:?} {version:?}: an unchanged reload still resumes"
        );
        close(again);
        // The same CAs in another order are the same policy.
        let reordered = [
            std::fs::read(cert("root-ca.crt")).unwrap(),
            std::fs::read(cert("ca.crt")).unwrap(),
        ]
        .concat();
        common::tls_tools::write_file(&ca_file, &reordered);
        acceptor.reload().unwrap();
        let again = exchange(addr, &config, Some(&session)).expect("same CA set");
        assert!(
            again.ssl().session_reused(),
            "{provider:?} {version:?}: the same CA set in another order still resumes"
        );
        close(again);

        // The rotation drops the CA that issued the client's certificate.
        common::tls_tools::write_file(&ca_file, &std::fs::read(cert("root-ca.crt")).unwrap());
        acceptor.reload().unwrap();
        assert!(
            exchange(addr, &config, None).is_err(),
            "{provider:?} {version:?}: a fresh handshake with the dropped CA's certificate is refused"
        );
        match exchange(addr, &config, Some(&session)) {
            Ok(s) => served.push(format!(
                "{provider:?} {version:?}: a session from before the CA was dropped was served \
                 (resumed: {})",
                s.ssl().session_reused()
            )),
            Err(e) => {
                println!("{provider:?} {version:?}: old session after the CA rotation refused: {e}")
            }
        }
        assert!(server.stop());
    }
    assert!(served.is_empty(), "{served:#?}");
}

per_provider!(processes_with_the_same_policy_share_sessions_and_another_policy_does_not);
/// Two `echo` processes with the same ticket key file and the same client-auth policy
/// (`--client-ca`, which requires a certificate) resume each other's sessions with
/// `openssl s_client`, over TLS 1.2 and 1.3: the derived context is the same in both,
/// though the second's CA file lists the CA twice (the same set, another file); a third
/// process whose CA file holds another CA does not resume them.
fn processes_with_the_same_policy_share_sessions_and_another_policy_does_not(provider: Provider) {
    use common::tls_tools::{s_client, EchoProcess};
    let dir = TempDir::new(&format!("session-policy-fleet-{}", provider.name()));
    let key = dir.path("ticket.key");
    std::fs::write(
        &key,
        (0..80u8).map(|i| i.wrapping_mul(29)).collect::<Vec<_>>(),
    )
    .unwrap();
    let both = dir.path("both-cas.pem");
    common::tls_tools::write_file(
        &both,
        &[
            std::fs::read(cert("ca.crt")).unwrap(),
            std::fs::read(cert("root-ca.crt")).unwrap(),
        ]
        .concat(),
    );
    let flag = provider.flag();
    let start = |ca: &str| {
        EchoProcess::start(&["--ticket-keys", &key, "--client-ca", ca, flag[0], flag[1]])
    };
    let twice = dir.path("ca-twice.pem");
    let ca_pem = std::fs::read(cert("ca.crt")).unwrap();
    common::tls_tools::write_file(&twice, &[&ca_pem[..], &ca_pem[..]].concat());
    let (a, b) = (start(&cert("ca.crt")), start(&twice));
    let other = start(&both);
    let (ca, c, k) = (cert("ca.crt"), cert("client.crt"), cert("client.key"));
    for proto in ["-tls1_2", "-tls1_3"] {
        let sess = dir.path(&format!("sess{proto}.pem"));
        let base = [
            "-CAfile",
            &ca,
            "-servername",
            "localhost",
            "-cert",
            &c,
            "-key",
            &k,
            proto,
        ];
        let run = s_client(&a.addr, &[&base[..], &["-sess_out", &sess]].concat());
        assert!(
            run.echoed && run.out.contains("New, TLS"),
            "{provider:?} {proto}: {}",
            run.out
        );
        let run = s_client(&b.addr, &[&base[..], &["-sess_in", &sess]].concat());
        assert!(
            run.echoed && run.out.contains("Reused, TLS"),
            "{provider:?} {proto}: same key and policy must resume: {}",
            run.out
        );
        let run = s_client(&other.addr, &[&base[..], &["-sess_in", &sess]].concat());
        assert!(
            run.echoed && run.out.contains("New, TLS"),
            "{provider:?} {proto}: another CA set must not resume: {}",
            run.out
        );
    }
}
