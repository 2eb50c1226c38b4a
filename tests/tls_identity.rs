//! Production TLS identities, checked with `openssl s_client` against the `echo`
//! example: the intermediate of a chain file is sent and verifies against the root
//! alone; SNI picks exact, wildcard, EC or RSA certificates and the default; strict SNI
//! refuses unknown names; an OCSP response made with `openssl ocsp` is stapled.

mod common;

use common::tls::cert;
use common::tls_tools::*;

fn subject_cn(out: &str) -> Option<&str> {
    // s_client prints "subject=O = Muon Development, CN = NAME" for the leaf.
    let line = out.lines().find(|l| l.starts_with("subject="))?;
    Some(line.rsplit("CN = ").next()?.trim())
}

#[test]
fn chain_intermediate_is_sent_and_verifies_against_the_root_only() {
    let echo = EchoProcess::start(&["--cert", &cert("chain.crt"), "--key", &cert("chain.key")]);
    for proto in ["-tls1_2", "-tls1_3"] {
        let run = s_client(
            &echo.addr,
            &[proto, "-showcerts", "-CAfile", &cert("root-ca.crt")]
                .into_iter()
                .chain(["-verify_return_error", "-servername", "localhost"])
                .collect::<Vec<_>>(),
        );
        assert!(run.echoed, "{proto}: {}", run.out);
        assert!(
            run.out.contains("Verify return code: 0 (ok)"),
            "{}",
            run.out
        );
        assert_eq!(
            certificates_shown(&run.out),
            2,
            "leaf + intermediate: {}",
            run.out
        );
        assert!(
            run.out.contains("CN = Muon Development Intermediate CA"),
            "{}",
            run.out
        );
    }
    // The leaf alone (server.crt has no intermediate) does not verify against the
    // chain's root: the test above would fail if the intermediate were not sent.
    let run = s_client(
        &echo.addr,
        &[
            "-CAfile",
            &cert("ca.crt"),
            "-verify_return_error",
            "-servername",
            "localhost",
        ],
    );
    assert!(
        !run.echoed,
        "a root that did not sign the chain must fail: {}",
        run.out
    );
}

fn sni_server(extra: &[&str]) -> EchoProcess {
    let wildcard_ec = format!(
        "*.example.com={},{}",
        cert("wildcard.crt"),
        cert("wildcard.key")
    );
    let wildcard_rsa = format!(
        "*.example.com={},{}",
        cert("wildcard-rsa.crt"),
        cert("wildcard-rsa.key")
    );
    let exact = format!(
        "api.example.com={},{}",
        cert("exact.crt"),
        cert("exact.key")
    );
    let (chain, key) = (cert("chain.crt"), cert("chain.key"));
    let mut args = vec!["--cert", &chain, "--key", &key];
    args.extend([
        "--sni",
        &wildcard_ec,
        "--sni",
        &wildcard_rsa,
        "--sni",
        &exact,
    ]);
    args.extend(extra);
    EchoProcess::start(&args)
}

/// s_client sending SNI `name` (none for `None`) and checking the certificate is for it.
fn connect_as(echo: &EchoProcess, name: Option<&str>, extra: &[&str]) -> SClient {
    let root = cert("root-ca.crt");
    let mut args = vec!["-CAfile", &root];
    match name {
        Some(n) => args.extend([
            "-verify_return_error",
            "-servername",
            n,
            "-verify_hostname",
            n,
        ]),
        None => args.push("-noservername"),
    }
    args.extend(extra);
    s_client(&echo.addr, &args)
}

#[test]
fn sni_picks_exact_wildcard_and_default_identities() {
    let echo = sni_server(&[]);
    for (name, want) in [
        (Some("api.example.com"), "api.example.com"), // exact beats the wildcard
        (Some("www.example.com"), "*.example.com"),
        (Some("WWW.Example.COM"), "*.example.com"),
        (Some("localhost"), "localhost"),
        (None, "localhost"),
    ] {
        let run = connect_as(&echo, name, &[]);
        assert!(run.echoed, "{name:?}: {}", run.out);
        assert_eq!(subject_cn(&run.out), Some(want), "{name:?}: {}", run.out);
        assert!(
            run.out.contains("Verify return code: 0 (ok)"),
            "{}",
            run.out
        );
    }
    // Unknown names and a name one label too deep get the default certificate (and
    // a client checking the name rejects it).
    for name in ["unknown.test", "a.b.example.com"] {
        let run = s_client(
            &echo.addr,
            &["-CAfile", &cert("root-ca.crt"), "-servername", name],
        );
        assert_eq!(
            subject_cn(&run.out),
            Some("localhost"),
            "{name}: {}",
            run.out
        );
    }
}

#[test]
fn sni_serves_ec_and_rsa_side_by_side() {
    let echo = sni_server(&[]);
    for (sigalgs, bits, proto) in [
        ("ecdsa_secp256r1_sha256", "256 bit", "-tls1_3"),
        ("rsa_pss_rsae_sha256", "2048 bit", "-tls1_3"),
        ("ECDSA+SHA256", "256 bit", "-tls1_2"),
        ("RSA+SHA256", "2048 bit", "-tls1_2"),
    ] {
        let run = connect_as(
            &echo,
            Some("www.example.com"),
            &[proto, "-sigalgs", sigalgs],
        );
        assert!(run.echoed, "{sigalgs}: {}", run.out);
        assert!(
            run.out.contains(&format!("Server public key is {bits}")),
            "{sigalgs} {proto}: want a {bits} key: {}",
            run.out
        );
        assert_eq!(subject_cn(&run.out), Some("*.example.com"), "{}", run.out);
    }
}

#[test]
fn strict_sni_refuses_unknown_names_with_unrecognized_name() {
    let echo = sni_server(&["--sni-strict"]);
    let run = s_client(&echo.addr, &["-servername", "unknown.test"]);
    assert!(!run.echoed, "{}", run.out);
    assert!(run.out.contains("unrecognized name"), "{}", run.out);
    // Names of the default certificate, SNI names and no name still work.
    for name in [
        Some("localhost"),
        Some("www.example.com"),
        Some("api.example.com"),
        None,
    ] {
        let run = connect_as(&echo, name, &[]);
        assert!(run.echoed, "{name:?}: {}", run.out);
    }
}

#[test]
fn ocsp_response_is_stapled_when_asked_for() {
    let dir = TempDir::new("ocsp");
    let resp = ocsp_response(&dir, "V");
    let echo = EchoProcess::start(&[
        "--cert",
        &cert("chain.crt"),
        "--key",
        &cert("chain.key"),
        "--ocsp",
        &resp,
    ]);
    for proto in ["-tls1_2", "-tls1_3"] {
        let run = connect_as(&echo, Some("localhost"), &[proto, "-status"]);
        assert!(run.echoed, "{}", run.out);
        assert!(
            run.out.contains("OCSP Response Status: successful"),
            "{}",
            run.out
        );
        assert!(run.out.contains("Cert Status: good"), "{}", run.out);
    }
    let run = connect_as(&echo, Some("localhost"), &[]);
    assert!(
        !run.out.contains("OCSP Response Status"),
        "not asked, not sent: {}",
        run.out
    );
}

#[test]
fn bad_files_are_refused_at_start_with_the_file_named() {
    let dir = TempDir::new("badfiles");
    let garbage = dir.path("garbage.der");
    std::fs::write(&garbage, b"not an OCSP response").unwrap();
    let short_key = dir.path("short.key");
    std::fs::write(&short_key, [7u8; 79]).unwrap();
    let other = format!("x.test={},{}", cert("chain.crt"), cert("other.key"));
    for (args, want) in [
        (vec!["--ocsp", &*garbage], "parsing the OCSP response in"),
        (vec!["--ticket-keys", &*short_key], "holds 79 bytes"),
        (vec!["--sni", &*other], "does not match the certificate"),
        (vec!["--sni", "nonsense"], "expected NAME=CHAIN,KEY"),
    ] {
        let err = EchoProcess::try_start(&args)
            .err()
            .expect("echo must refuse to start");
        assert!(err.contains(want), "{args:?}: want {want:?} in:\n{err}");
    }
}

#[test]
fn client_ca_flag_requires_a_client_certificate() {
    let echo = EchoProcess::start(&["--client-ca", &cert("ca.crt")]);
    let ca = cert("ca.crt");
    let base = [
        "-CAfile",
        &ca,
        "-verify_return_error",
        "-servername",
        "localhost",
    ];
    for proto in ["-tls1_2", "-tls1_3"] {
        let mut with = base.to_vec();
        let (c, k) = (cert("client.crt"), cert("client.key"));
        with.extend([proto, "-cert", &c, "-key", &k]);
        let run = s_client(&echo.addr, &with);
        assert!(
            run.echoed,
            "{proto}: with a client certificate: {}",
            run.out
        );
        let mut without = base.to_vec();
        without.push(proto);
        let run = s_client(&echo.addr, &without);
        assert!(
            !run.echoed,
            "{proto}: no client certificate must fail: {}",
            run.out
        );
    }
}

#[test]
fn odd_server_names_get_the_default_or_a_refusal_and_the_server_keeps_serving() {
    let lax = sni_server(&[]);
    let strict = sni_server(&["--sni-strict"]);
    let long = "a".repeat(63) + "." + &"b".repeat(63) + ".example.com";
    for name in [
        "x",
        "example.com",
        ".example.com",
        "*.example.com",
        long.as_str(),
    ] {
        let run = s_client(&lax.addr, &["-servername", name]);
        assert!(run.echoed, "lax {name:?}: {}", run.out);
        assert_eq!(
            subject_cn(&run.out),
            Some("localhost"),
            "lax {name:?}: {}",
            run.out
        );
        let run = s_client(&strict.addr, &["-servername", name]);
        assert!(!run.echoed, "strict {name:?}: {}", run.out);
    }
    for echo in [&lax, &strict] {
        assert!(connect_as(echo, Some("www.example.com"), &[]).echoed);
    }
}

#[test]
fn the_default_identity_serves_ec_and_rsa_side_by_side() {
    use openssl::ssl::{SslConnector, SslMethod};
    let acceptor = muon::ssl::TlsAcceptor::builder(cert("server.crt"), cert("server.key"))
        .certificate(cert("server-rsa.crt"), cert("server-rsa.key"))
        .build()
        .unwrap();
    let server = common::tls::tls_echo_server(acceptor, 1);
    for (sigalgs, bits) in [("ECDSA+SHA256", 256), ("RSA-PSS+SHA256:RSA+SHA256", 2048)] {
        let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
        b.set_ca_file(cert("ca.crt")).unwrap();
        b.set_sigalgs_list(sigalgs).unwrap();
        let tcp = common::connect(server.local_addr());
        let mut s = b.build().connect("localhost", tcp).expect("handshake");
        assert_eq!(common::tls::tls_echo(&mut s, b"both"), b"both");
        let key = s.ssl().peer_certificate().unwrap().public_key().unwrap();
        assert_eq!(key.bits(), bits, "{sigalgs}");
    }
    assert!(server.stop());
}

#[test]
fn tls_options_without_tls_are_refused() {
    for args in [
        ["--sni", "a.test=x.crt,x.key"],
        ["--ticket-keys", "t.key"],
        ["--ocsp", "o.der"],
        ["--client-ca", "ca.crt"],
    ] {
        let out = common::process::output_within(
            std::process::Command::new(example("echo")).args(args),
            common::process::CHILD_WITHIN,
            "echo with a TLS option but no --tls",
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains("--tls"), "{args:?}: {err}");
    }
}
