//! OCSP responses are checked against the certificate they are stapled for, at build
//! and at reload: a response for another certificate, a revoked or unknown status, or a
//! passed `nextUpdate` is refused with an error naming the file and the reason, and a
//! refused reload keeps the previous response stapled. Responses are made by the
//! `openssl ocsp` command line as a responder (and `faketime` for an old one). Beside
//! an RSA certificate, a response for the EC one is stapled only for the EC one.

mod common;

use std::net::TcpStream;
use std::process::Command;

use common::tls::{cert, tls_echo_server};
use common::tls_tools::{replace_file, TempDir};
use common::{init_logging, IO_TIMEOUT};
use muon::ssl::TlsAcceptor;
use openssl::ssl::{SslConnector, SslMethod, SslVersion, StatusType};

/// How a test response is made.
struct Response<'a> {
    /// The certificate asked about, and its issuer (also the responder) with its key.
    cert: &'a str,
    issuer: &'a str,
    issuer_key: &'a str,
    /// The index's status for the certificate's serial ("V" good, "R" revoked), or
    /// `None`: the serial is not in the index (status unknown).
    status: Option<&'a str>,
    /// Run the responder this far in the past (`faketime` offset, "-3d").
    past: Option<&'a str>,
    ndays: &'a str,
    /// The CertId's hash: `openssl ocsp`'s default SHA-1, or SHA-256.
    sha256: bool,
}

const GOOD: Response<'static> = Response {
    cert: "chain.crt",
    issuer: "intermediate-ca.crt",
    issuer_key: "intermediate-ca.key",
    status: Some("V"),
    past: None,
    ndays: "7",
    sha256: false,
};

fn make(dir: &TempDir, name: &str, r: &Response) -> String {
    let serial = Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-in", &cert(r.cert)])
        .output()
        .unwrap();
    assert!(serial.status.success());
    let serial = String::from_utf8(serial.stdout).unwrap();
    let serial = serial.trim().trim_start_matches("serial=").to_string();
    // index.txt: status, expiry, revocation date, serial, file, subject (tab separated).
    let index = match r.status {
        Some(status) => {
            let revoked = if status == "R" { "250101000000Z" } else { "" };
            format!("{status}\t991231235959Z\t{revoked}\t{serial}\tunknown\t/CN=x\n")
        }
        None => "V\t991231235959Z\t\t0123\tunknown\t/CN=someone-else\n".to_string(),
    };
    let index_path = dir.path(&format!("{name}.index"));
    std::fs::write(&index_path, index).unwrap();
    let out_path = dir.path(&format!("{name}.der"));
    let mut cmd = match r.past {
        Some(offset) => {
            let mut c = Command::new("faketime");
            c.args(["-f", offset, "openssl"]);
            c
        }
        None => Command::new("openssl"),
    };
    let (issuer, key) = (cert(r.issuer), cert(r.issuer_key));
    cmd.args([
        "ocsp",
        "-index",
        &index_path,
        "-rsigner",
        &issuer,
        "-rkey",
        &key,
    ])
    .args(["-CA", &issuer]);
    if r.sha256 {
        // Applies to the -cert after it.
        cmd.arg("-sha256");
    }
    let out = cmd
        .args(["-issuer", &issuer, "-cert", &cert(r.cert)])
        .args(["-respout", &out_path, "-ndays", r.ndays])
        .output()
        .expect("openssl ocsp (and faketime) installed");
    assert!(out.status.success(), "openssl ocsp: {out:?}");
    out_path
}

/// The bad responses, each with the reason its error must give.
fn bad_responses(dir: &TempDir) -> Vec<(String, &'static str)> {
    vec![
        (
            make(
                dir,
                "other-cert",
                &Response {
                    cert: "server.crt",
                    issuer: "ca.crt",
                    issuer_key: "ca.key",
                    ..GOOD
                },
            ),
            "does not cover the configured certificate",
        ),
        (
            make(
                dir,
                "revoked",
                &Response {
                    status: Some("R"),
                    ..GOOD
                },
            ),
            "is revoked",
        ),
        (
            make(
                dir,
                "unknown",
                &Response {
                    status: None,
                    ..GOOD
                },
            ),
            "is unknown",
        ),
        (
            make(
                dir,
                "expired",
                &Response {
                    past: Some("-3d"),
                    ndays: "1",
                    ..GOOD
                },
            ),
            "is out of date",
        ),
    ]
}

/// What a client asking for certificate status gets stapled (`None`: nothing).
fn stapled(addr: std::net::SocketAddr, version: SslVersion) -> Option<Vec<u8>> {
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_ca_file(cert("root-ca.crt")).unwrap();
    b.set_min_proto_version(Some(version)).unwrap();
    b.set_max_proto_version(Some(version)).unwrap();
    let mut ssl = b
        .build()
        .configure()
        .unwrap()
        .into_ssl("localhost")
        .unwrap();
    ssl.set_status_type(StatusType::OCSP).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut s = ssl.connect(tcp).expect("handshake");
    let got = s.ssl().ocsp_status().map(|d| d.to_vec());
    let _ = s.shutdown();
    got
}

#[test]
fn a_response_that_does_not_fit_the_certificate_is_refused_at_build() {
    let dir = TempDir::new("ocsp-build");
    let good = make(&dir, "good", &GOOD);
    TlsAcceptor::builder(cert("chain.crt"), cert("chain.key"))
        .ocsp_response_file(&good)
        .build()
        .expect("a good response for the leaf");
    let good256 = make(
        &dir,
        "good-sha256",
        &Response {
            sha256: true,
            ..GOOD
        },
    );
    TlsAcceptor::builder(cert("chain.crt"), cert("chain.key"))
        .ocsp_response_file(&good256)
        .build()
        .expect("a good response whose CertId is hashed with SHA-256");
    let mut wrong = Vec::new();
    for (path, reason) in bad_responses(&dir) {
        match TlsAcceptor::builder(cert("chain.crt"), cert("chain.key"))
            .ocsp_response_file(&path)
            .build()
        {
            Ok(_) => wrong.push(format!("{path}: accepted, want {reason:?}")),
            Err(e) => {
                let e = e.to_string();
                println!("refused: {e}");
                if !e.contains(&path) || !e.contains(reason) {
                    wrong.push(format!("{path}: {e:?} should name the file and {reason:?}"));
                }
            }
        }
    }
    // Per SNI name too: the response must fit that name's certificate.
    let (path, _) = &bad_responses(&dir)[0];
    let e = TlsAcceptor::builder(cert("server.crt"), cert("server.key"))
        .sni_certificate("localhost", cert("chain.crt"), cert("chain.key"))
        .sni_ocsp_response_file("localhost", path)
        .build()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    if !e.contains("does not cover") {
        wrong.push(format!("SNI: {e:?}"));
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn a_refused_reload_keeps_the_previous_response_stapled() {
    init_logging();
    let dir = TempDir::new("ocsp-reload");
    let good = make(&dir, "good", &GOOD);
    let good_der = std::fs::read(&good).unwrap();
    let live = dir.path("live.der");
    replace_file(&good, &live);
    let acceptor = TlsAcceptor::builder(cert("chain.crt"), cert("chain.key"))
        .ocsp_response_file(&live)
        .build()
        .unwrap();
    let server = tls_echo_server(acceptor.clone(), 2);
    let addr = server.local_addr();
    for version in [SslVersion::TLS1_2, SslVersion::TLS1_3] {
        assert_eq!(stapled(addr, version).as_ref(), Some(&good_der));
    }
    let mut wrong = Vec::new();
    for (path, reason) in bad_responses(&dir) {
        replace_file(&path, &live);
        match acceptor.reload() {
            Ok(summary) => wrong.push(format!("{path}: reload accepted ({summary})")),
            Err(e) => {
                let e = e.to_string();
                if !e.contains(&live) || !e.contains(reason) {
                    wrong.push(format!("{path}: {e:?} should name {live} and {reason:?}"));
                }
            }
        }
        for version in [SslVersion::TLS1_2, SslVersion::TLS1_3] {
            if stapled(addr, version).as_ref() != Some(&good_der) {
                wrong.push(format!(
                    "{path}: {version:?} no longer gets the good response"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(server.stop());
}

/// An EC and an RSA certificate side by side with a response for the EC one: only the
/// handshakes served the EC certificate get it (a response for another certificate is
/// worse than none).
#[test]
fn the_response_is_stapled_only_for_the_certificate_it_covers() {
    use openssl::ssl::SslVerifyMode;
    let dir = TempDir::new("ocsp-dual");
    let good = make(&dir, "good", &GOOD);
    let good_der = std::fs::read(&good).unwrap();
    let acceptor = TlsAcceptor::builder(cert("chain.crt"), cert("chain.key"))
        .certificate(cert("wildcard-rsa.crt"), cert("wildcard-rsa.key"))
        .ocsp_response_file(&good)
        .build()
        .unwrap();
    let server = tls_echo_server(acceptor, 1);
    for (sigalgs, bits, want) in [
        ("ECDSA+SHA256", 256, Some(&good_der)),
        ("RSA-PSS+SHA256:RSA+SHA256", 2048, None),
    ] {
        for version in [SslVersion::TLS1_2, SslVersion::TLS1_3] {
            let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
            // Only the staple matters here (the RSA certificate is for another name).
            b.set_verify(SslVerifyMode::NONE);
            b.set_sigalgs_list(sigalgs).unwrap();
            b.set_min_proto_version(Some(version)).unwrap();
            b.set_max_proto_version(Some(version)).unwrap();
            let mut ssl = b
                .build()
                .configure()
                .unwrap()
                .into_ssl("localhost")
                .unwrap();
            ssl.set_status_type(StatusType::OCSP).unwrap();
            let tcp = TcpStream::connect(server.local_addr()).unwrap();
            tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            let mut s = ssl.connect(tcp).expect("handshake");
            let key = s.ssl().peer_certificate().unwrap().public_key().unwrap();
            assert_eq!(key.bits(), bits, "{sigalgs} {version:?}");
            assert_eq!(
                s.ssl().ocsp_status().map(|d| d.to_vec()).as_ref(),
                want,
                "{sigalgs} {version:?}"
            );
            let _ = s.shutdown();
        }
    }
    assert!(server.stop());
}
