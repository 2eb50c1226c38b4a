//! Production TLS identities, checked with `openssl s_client` against the `echo`
//! example: the intermediate of a chain file is sent and verifies against the root
//! alone; SNI picks exact, wildcard, EC or RSA certificates and the default; strict SNI
//! refuses unknown names; an OCSP response made with `openssl ocsp` is stapled.

mod common;

use common::tls::{cert, Provider, ServerOpts, PROVIDERS};
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

fn sni_server(provider: Provider, extra: &[&str]) -> EchoProcess {
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
    args.extend(provider.flag());
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
    for &provider in PROVIDERS {
        sni_picks_on(provider);
    }
}

fn sni_picks_on(provider: Provider) {
    let echo = sni_server(provider, &[]);
    for (name, want) in [
        (Some("api.example.com"), "api.example.com"), // exact beats the wildcard
        (Some("www.example.com"), "*.example.com"),
        (Some("WWW.Example.COM"), "*.example.com"),
        (Some("localhost"), "localhost"),
        (None, "localhost"),
    ] {
        let run = connect_as(&echo, name, &[]);
        assert!(run.echoed, "{provider:?} {name:?}: {}", run.out);
        assert_eq!(
            subject_cn(&run.out),
            Some(want),
            "{provider:?} {name:?}: {}",
            run.out
        );
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
    for &provider in PROVIDERS {
        sni_ec_and_rsa_on(provider);
    }
}

fn sni_ec_and_rsa_on(provider: Provider) {
    let echo = sni_server(provider, &[]);
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
            "{provider:?} {sigalgs} {proto}: want a {bits} key: {}",
            run.out
        );
        assert_eq!(subject_cn(&run.out), Some("*.example.com"), "{}", run.out);
    }
}

#[test]
fn strict_sni_refuses_unknown_names_with_unrecognized_name() {
    for &provider in PROVIDERS {
        strict_sni_on(provider);
    }
}

fn strict_sni_on(provider: Provider) {
    let echo = sni_server(provider, &["--sni-strict"]);
    let run = s_client(&echo.addr, &["-servername", "unknown.test"]);
    assert!(!run.echoed, "{provider:?}: {}", run.out);
    // OpenSSL's alert for a refused name is unrecognized_name; rustls's access_denied.
    let alert = match provider {
        Provider::OpenSsl => "unrecognized name",
        #[cfg(feature = "rustls")]
        Provider::Rustls => "access denied",
    };
    assert!(run.out.contains(alert), "{provider:?}: {}", run.out);
    // Names of the default certificate, SNI names and no name still work.
    for name in [
        Some("localhost"),
        Some("www.example.com"),
        Some("api.example.com"),
        None,
    ] {
        let run = connect_as(&echo, name, &[]);
        assert!(run.echoed, "{provider:?} {name:?}: {}", run.out);
    }
}

#[test]
fn ocsp_response_is_stapled_when_asked_for() {
    for &provider in PROVIDERS {
        ocsp_on(provider);
    }
}

fn ocsp_on(provider: Provider) {
    let dir = TempDir::new("ocsp");
    let resp = ocsp_response(&dir, "V");
    let (chain, key) = (cert("chain.crt"), cert("chain.key"));
    let mut args = vec!["--cert", &chain, "--key", &key, "--ocsp", &resp];
    args.extend(provider.flag());
    let echo = EchoProcess::start(&args);
    for proto in ["-tls1_2", "-tls1_3"] {
        let run = connect_as(&echo, Some("localhost"), &[proto, "-status"]);
        assert!(run.echoed, "{}", run.out);
        assert!(
            run.out.contains("OCSP Response Status: successful"),
            "{provider:?} {proto}: {}",
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
    for &provider in PROVIDERS {
        bad_files_on(provider);
    }
}

fn bad_files_on(provider: Provider) {
    let dir = TempDir::new("badfiles");
    let garbage = dir.path("garbage.der");
    std::fs::write(&garbage, b"not an OCSP response").unwrap();
    let short_key = dir.path("short.key");
    std::fs::write(&short_key, [7u8; 79]).unwrap();
    let other = format!("x.test={},{}", cert("chain.crt"), cert("other.key"));
    // (flags, the reason, the file the message must name)
    let mut cases = vec![
        (
            vec!["--ocsp", &*garbage],
            "parsing the OCSP response in",
            Some(garbage.as_str()),
        ),
        (vec!["--sni", "nonsense"], "expected NAME=CHAIN,KEY", None),
    ];
    match provider {
        Provider::OpenSsl => {
            cases.push((
                vec!["--ticket-keys", &*short_key],
                "holds 79 bytes",
                Some(short_key.as_str()),
            ));
            cases.push((
                vec!["--sni", &*other],
                "does not match the certificate",
                Some("other.key"),
            ));
        }
        #[cfg(feature = "rustls")]
        Provider::Rustls => {
            // rustls's reason for a key of another certificate, with both files named.
            cases.push((
                vec!["--sni", &*other],
                "with the private key in",
                Some("other.key"),
            ));
        }
    }
    for (mut args, want, file) in cases {
        args.extend(provider.flag());
        let err = EchoProcess::try_start(&args)
            .err()
            .expect("echo must refuse to start");
        assert!(
            err.contains(want),
            "{provider:?} {args:?}: want {want:?} in:\n{err}"
        );
        if let Some(file) = file {
            assert!(
                err.contains(file),
                "{provider:?}: {file} not named in:\n{err}"
            );
        }
    }
}

#[test]
fn client_ca_flag_requires_a_client_certificate() {
    for &provider in PROVIDERS {
        client_ca_on(provider);
    }
}

fn client_ca_on(provider: Provider) {
    let ca_file = cert("ca.crt");
    let mut args = vec!["--client-ca", &ca_file];
    args.extend(provider.flag());
    let echo = EchoProcess::start(&args);
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
    for &provider in PROVIDERS {
        odd_names_on(provider);
    }
}

fn odd_names_on(provider: Provider) {
    let lax = sni_server(provider, &[]);
    let strict = sni_server(provider, &["--sni-strict"]);
    let long = "a".repeat(63) + "." + &"b".repeat(63) + ".example.com";
    for name in [
        "x",
        "example.com",
        ".example.com",
        "*.example.com",
        long.as_str(),
    ] {
        let run = s_client(&lax.addr, &["-servername", name]);
        // rustls itself refuses an SNI that is not a DNS name (illegal_parameter);
        // OpenSSL hands it to the name callback, which serves the default.
        #[cfg(feature = "rustls")]
        if provider == Provider::Rustls && (name.starts_with('.') || name.starts_with('*')) {
            assert!(!run.echoed, "{provider:?} lax {name:?}: {}", run.out);
            continue;
        }
        assert!(run.echoed, "{provider:?} lax {name:?}: {}", run.out);
        assert_eq!(
            subject_cn(&run.out),
            Some("localhost"),
            "lax {name:?}: {}",
            run.out
        );
        let run = s_client(&strict.addr, &["-servername", name]);
        assert!(!run.echoed, "{provider:?} strict {name:?}: {}", run.out);
    }
    for echo in [&lax, &strict] {
        assert!(connect_as(echo, Some("www.example.com"), &[]).echoed);
    }
}

#[test]
fn the_default_identity_serves_ec_and_rsa_side_by_side() {
    for &provider in PROVIDERS {
        default_ec_and_rsa_on(provider);
    }
}

fn default_ec_and_rsa_on(provider: Provider) {
    use openssl::ssl::{SslConnector, SslMethod};
    let opts = ServerOpts {
        rsa_too: true,
        ..ServerOpts::default()
    };
    let server = provider.echo_server_with(&opts, 1);
    for (sigalgs, bits) in [("ECDSA+SHA256", 256), ("RSA-PSS+SHA256:RSA+SHA256", 2048)] {
        let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
        b.set_ca_file(cert("ca.crt")).unwrap();
        b.set_sigalgs_list(sigalgs).unwrap();
        let tcp = common::connect(server.local_addr());
        let mut s = b.build().connect("localhost", tcp).expect("handshake");
        assert_eq!(common::tls::tls_echo(&mut s, b"both"), b"both");
        let key = s.ssl().peer_certificate().unwrap().public_key().unwrap();
        assert_eq!(key.bits(), bits, "{provider:?} {sigalgs}");
    }
    assert!(server.stop());
}

/// `--sni-ocsp NAME=FILE` staples a response for that SNI identity only: a client
/// asking for that name gets it, one asking for the default identity gets none.
#[test]
fn sni_ocsp_flag_staples_for_its_name_only() {
    for &provider in PROVIDERS {
        sni_ocsp_flag_on(provider);
    }
}

fn sni_ocsp_flag_on(provider: Provider) {
    let dir = TempDir::new(&format!("sni-ocsp-flag-{provider:?}"));
    let resp = ocsp_response(&dir, "V");
    let sni = format!("other.test={},{}", cert("chain.crt"), cert("chain.key"));
    let sni_ocsp = format!("other.test={resp}");
    let mut args = vec!["--sni", &sni, "--sni-ocsp", &sni_ocsp];
    args.extend(provider.flag());
    let echo = EchoProcess::start(&args);
    let root = cert("root-ca.crt");
    // chain.crt names localhost, not other.test: only the chain is verified here.
    let run = s_client(
        &echo.addr,
        &["-CAfile", &root, "-servername", "other.test", "-status"],
    );
    assert!(
        run.echoed && run.out.contains("Cert Status: good"),
        "{provider:?} other.test: {}",
        run.out
    );
    let run = s_client(&echo.addr, &["-servername", "localhost", "-status"]);
    assert!(
        run.echoed && run.out.contains("OCSP response: no response sent"),
        "{provider:?} the default identity: {}",
        run.out
    );
}

#[test]
fn tls_options_without_tls_are_refused() {
    for args in [
        ["--sni", "a.test=x.crt,x.key"],
        ["--ticket-keys", "t.key"],
        ["--ocsp", "o.der"],
        ["--sni-ocsp", "a.test=o.der"],
        ["--ticket-key-rotation", "60"],
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
