//! OCSP responses are checked against the certificate they are stapled for, at build
//! and at reload, on both TLS providers: a response for another certificate, a revoked
//! or unknown status, or a passed `nextUpdate` is refused with an error naming the file
//! and the reason, and a refused reload keeps the previous response stapled. Responses
//! are made by the `openssl ocsp` command line as a responder (and `faketime` for an
//! old one). Beside an RSA certificate, a response for the EC one is stapled only for
//! the EC one; each SNI identity staples its own response (`openssl s_client -status
//! -servername`).

mod common;

use std::net::TcpStream;
use std::process::Command;

use common::tls::{cert, tls_echo_server, AnyAcceptor, Provider, PROVIDERS};
use common::tls_tools::{replace_file, s_client, TempDir};
use common::{init_logging, IO_TIMEOUT};
use muon::ssl::TlsAcceptor;
use openssl::ssl::{SslConnector, SslMethod, SslVersion, StatusType};

/// What a test acceptor is made of, for either provider.
#[derive(Clone, Default)]
struct Spec {
    /// The default identity's certificates and keys (files in `certs/`).
    certs: Vec<(&'static str, &'static str)>,
    ocsp: Option<String>,
    /// SNI identities: name, certificate, key (files in `certs/`).
    sni: Vec<(&'static str, &'static str, &'static str)>,
    sni_ocsp: Vec<(&'static str, String)>,
}

impl Spec {
    fn new(crt: &'static str, key: &'static str) -> Spec {
        Spec {
            certs: vec![(crt, key)],
            ..Spec::default()
        }
    }

    fn ocsp(mut self, path: &str) -> Spec {
        self.ocsp = Some(path.to_string());
        self
    }

    /// The acceptor, or the build error as text.
    fn build(&self, provider: Provider) -> Result<AnyAcceptor, String> {
        let (crt, key) = self.certs[0];
        // The two providers' builders have the same methods but no common trait.
        macro_rules! configure {
            ($b:expr) => {{
                let mut b = $b;
                for (c, k) in &self.certs[1..] {
                    b = b.certificate(cert(c), cert(k));
                }
                if let Some(o) = &self.ocsp {
                    b = b.ocsp_response_file(o);
                }
                for (name, c, k) in &self.sni {
                    b = b.sni_certificate(name, cert(c), cert(k));
                }
                for (name, o) in &self.sni_ocsp {
                    b = b.sni_ocsp_response_file(name, o);
                }
                b.build().map_err(|e| e.to_string())
            }};
        }
        match provider {
            Provider::OpenSsl => {
                configure!(TlsAcceptor::builder(cert(crt), cert(key))).map(AnyAcceptor::OpenSsl)
            }
            #[cfg(feature = "rustls")]
            Provider::Rustls => {
                configure!(muon::rustls::RustlsAcceptor::builder(cert(crt), cert(key)))
                    .map(AnyAcceptor::Rustls)
            }
        }
    }
}

/// Reloads `acceptor`: the summary, or the error, as text.
fn reload(acceptor: &AnyAcceptor) -> Result<String, String> {
    match acceptor {
        AnyAcceptor::OpenSsl(a) => a.reload().map(|s| s.to_string()).map_err(|e| e.to_string()),
        #[cfg(feature = "rustls")]
        AnyAcceptor::Rustls(a) => a.reload().map(|s| s.to_string()).map_err(|e| e.to_string()),
    }
}

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

/// `name` from `certs/`, or a path as is (an issuer made by the test).
fn file(name: &str) -> String {
    if name.starts_with('/') {
        name.to_string()
    } else {
        cert(name)
    }
}

/// A CA in `dir` with the intermediate CA's very name but a new key: `openssl ocsp`
/// names the leaf's issuer by the leaf's issuer field and this CA's key, so the
/// response's CertId has the right name hash and another key hash.
fn same_name_other_key(dir: &TempDir) -> (String, String) {
    let (crt, key) = (dir.path("same-name.crt"), dir.path("same-name.key"));
    let subject = "/O=Muon Development/CN=Muon Development Intermediate CA";
    let out = Command::new("openssl")
        .args(["req", "-x509", "-nodes", "-days", "30", "-subj", subject])
        .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])
        .args(["-keyout", &key, "-out", &crt])
        .output()
        .expect("openssl req");
    assert!(out.status.success(), "openssl req: {out:?}");
    (crt, key)
}

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
    let (issuer, key) = (file(r.issuer), file(r.issuer_key));
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
            {
                let (issuer, issuer_key) = same_name_other_key(dir);
                make(
                    dir,
                    "same-name-other-key",
                    &Response {
                        issuer: &issuer,
                        issuer_key: &issuer_key,
                        ..GOOD
                    },
                )
            },
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
    let good256 = make(
        &dir,
        "good-sha256",
        &Response {
            sha256: true,
            ..GOOD
        },
    );
    let bad = bad_responses(&dir);
    let mut wrong = Vec::new();
    for &provider in PROVIDERS {
        let chain = || Spec::new("chain.crt", "chain.key");
        if let Err(e) = chain().ocsp(&good).build(provider) {
            wrong.push(format!("{provider:?}: a good response for the leaf: {e}"));
        }
        if let Err(e) = chain().ocsp(&good256).build(provider) {
            wrong.push(format!(
                "{provider:?}: a good response whose CertId is hashed with SHA-256: {e}"
            ));
        }
        for (path, reason) in &bad {
            match chain().ocsp(path).build(provider) {
                Ok(_) => wrong.push(format!("{provider:?} {path}: accepted, want {reason:?}")),
                Err(e) => {
                    println!("{provider:?} refused: {e}");
                    if !e.contains(path.as_str()) || !e.contains(reason) {
                        wrong.push(format!(
                            "{provider:?} {path}: {e:?} should name the file and {reason:?}"
                        ));
                    }
                }
            }
        }
        // Per SNI name too: the response must fit that name's certificate, and a name
        // needs a certificate to have a response.
        let sni = Spec {
            sni: vec![("localhost", "chain.crt", "chain.key")],
            sni_ocsp: vec![("localhost", bad[0].0.clone())],
            ..Spec::new("server.crt", "server.key")
        };
        let e = sni.build(provider).err().unwrap_or_default();
        if !e.contains("does not cover") || !e.contains(bad[0].0.as_str()) {
            wrong.push(format!("{provider:?} SNI: {e:?}"));
        }
        let nameless = Spec {
            sni_ocsp: vec![("nobody.test", good.clone())],
            ..Spec::new("server.crt", "server.key")
        };
        let e = nameless.build(provider).err().unwrap_or_default();
        if !e.contains("nobody.test") || !e.contains("no certificate") {
            wrong.push(format!("{provider:?} SNI without a certificate: {e:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn a_refused_reload_keeps_the_previous_response_stapled() {
    init_logging();
    for &provider in PROVIDERS {
        refused_reload_on(provider);
    }
}

fn refused_reload_on(provider: Provider) {
    let dir = TempDir::new(&format!("ocsp-reload-{provider:?}"));
    let good = make(&dir, "good", &GOOD);
    let good_der = std::fs::read(&good).unwrap();
    let live = dir.path("live.der");
    replace_file(&good, &live);
    let acceptor = Spec::new("chain.crt", "chain.key")
        .ocsp(&live)
        .build(provider)
        .unwrap();
    let server = tls_echo_server(acceptor.clone(), 2);
    let addr = server.local_addr();
    for version in [SslVersion::TLS1_2, SslVersion::TLS1_3] {
        assert_eq!(
            stapled(addr, version).as_ref(),
            Some(&good_der),
            "{provider:?} {version:?}"
        );
    }
    let mut wrong = Vec::new();
    for (path, reason) in bad_responses(&dir) {
        replace_file(&path, &live);
        match reload(&acceptor) {
            Ok(summary) => wrong.push(format!("{provider:?} {path}: reload accepted ({summary})")),
            Err(e) => {
                if !e.contains(&live) || !e.contains(reason) {
                    wrong.push(format!(
                        "{provider:?} {path}: {e:?} should name {live} and {reason:?}"
                    ));
                }
            }
        }
        for version in [SslVersion::TLS1_2, SslVersion::TLS1_3] {
            if stapled(addr, version).as_ref() != Some(&good_der) {
                wrong.push(format!(
                    "{provider:?} {path}: {version:?} no longer gets the good response"
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
    let dir = TempDir::new("ocsp-dual");
    let good = make(&dir, "good", &GOOD);
    let (ec, rsa) = (
        ("chain.crt", "chain.key"),
        ("wildcard-rsa.crt", "wildcard-rsa.key"),
    );
    for &provider in PROVIDERS {
        // Both orders: the response goes with the certificate it covers, not with the
        // first one added.
        for certs in [vec![ec, rsa], vec![rsa, ec]] {
            let spec = Spec {
                certs,
                ocsp: Some(good.clone()),
                ..Spec::default()
            };
            stapled_for_its_certificate_on(provider, &spec, &good);
        }
    }
}

fn stapled_for_its_certificate_on(provider: Provider, spec: &Spec, good: &str) {
    use openssl::ssl::SslVerifyMode;
    let good_der = std::fs::read(good).unwrap();
    let server = tls_echo_server(spec.build(provider).unwrap(), 1);
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
            let what = format!("{provider:?} {:?} {sigalgs} {version:?}", spec.certs);
            assert_eq!(key.bits(), bits, "{what}");
            assert_eq!(
                s.ssl().ocsp_status().map(|d| d.to_vec()).as_ref(),
                want,
                "{what}"
            );
            let _ = s.shutdown();
        }
    }
    assert!(server.stop());
}

/// The serial number of `certs/NAME`, as `openssl` prints it (upper-case hex).
fn serial(name: &str) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-in", &cert(name)])
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl x509: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    text.trim().trim_start_matches("serial=").to_string()
}

/// Two SNI identities (an exact name and a wildcard), each with its own response:
/// `openssl s_client -status -servername` gets the response for the certificate it is
/// served, the default identity (which has none) staples nothing, and a reload that
/// would staple a revoked response for one name changes nothing for either.
#[test]
fn each_sni_identity_staples_its_own_response() {
    init_logging();
    for &provider in PROVIDERS {
        sni_ocsp_on(provider);
    }
}

fn sni_ocsp_on(provider: Provider) {
    let dir = TempDir::new(&format!("ocsp-sni-{provider:?}"));
    let exact = Response {
        cert: "exact.crt",
        ..GOOD
    };
    let wildcard = Response {
        cert: "wildcard.crt",
        ..GOOD
    };
    let (live_exact, live_wildcard) = (dir.path("exact-live.der"), dir.path("wildcard-live.der"));
    replace_file(make(&dir, "exact", &exact), &live_exact);
    replace_file(make(&dir, "wildcard", &wildcard), &live_wildcard);
    let acceptor = Spec {
        sni: vec![
            ("api.example.com", "exact.crt", "exact.key"),
            ("*.example.com", "wildcard.crt", "wildcard.key"),
        ],
        sni_ocsp: vec![
            ("api.example.com", live_exact.clone()),
            ("*.example.com", live_wildcard.clone()),
        ],
        ..Spec::new("server.crt", "server.key")
    }
    .build(provider)
    .unwrap();
    let server = tls_echo_server(acceptor.clone(), 1);
    let addr = server.local_addr().to_string();
    let root = cert("root-ca.crt");
    let (exact_serial, wildcard_serial) = (serial("exact.crt"), serial("wildcard.crt"));
    let check = |when: &str| {
        for (name, want, other) in [
            ("api.example.com", &exact_serial, &wildcard_serial),
            ("www.example.com", &wildcard_serial, &exact_serial),
        ] {
            let run = s_client(&addr, &["-CAfile", &root, "-servername", name, "-status"]);
            let what = format!("{provider:?} {when} {name}: {}", run.out);
            assert!(run.echoed, "{what}");
            assert!(run.out.contains("Cert Status: good"), "{what}");
            assert!(
                run.out.contains(&format!("Serial Number: {want}")),
                "{what}"
            );
            assert!(
                !run.out.contains(&format!("Serial Number: {other}")),
                "{what}"
            );
        }
        let run = s_client(&addr, &["-servername", "localhost", "-status"]);
        assert!(
            run.echoed && run.out.contains("OCSP response: no response sent"),
            "{provider:?} {when} the default identity: {}",
            run.out
        );
    };
    check("at start");

    // All or nothing: a revoked response for the wildcard refuses the whole reload,
    // naming its file; both names keep their responses.
    let revoked = make(
        &dir,
        "wildcard-revoked",
        &Response {
            status: Some("R"),
            ..wildcard
        },
    );
    replace_file(&revoked, &live_wildcard);
    let e = reload(&acceptor).expect_err("a revoked response must refuse the reload");
    assert!(
        e.contains(&live_wildcard) && e.contains("is revoked"),
        "{provider:?}: {e}"
    );
    check("after a refused reload");
    assert!(server.stop());
}
