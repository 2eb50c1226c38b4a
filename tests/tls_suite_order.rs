//! Both TLS providers choose the same cipher suite for the same client: the server's
//! order of preference is the policy's (net-ssl's `TLS12_CIPHERS`, OpenSSL's default
//! TLS 1.3 order), whatever order the client offers its suites in. The benchmark
//! compares the providers on this: rustls used to pick AES-256-GCM-SHA384 in TLS 1.2
//! where OpenSSL picks AES-128-GCM-SHA256.

mod common;

use common::tls::*;
use common::*;
use openssl::ssl::{SslConnector, SslMethod, SslVersion};

/// A client offering every policy suite in `order` (client order, so only the
/// server's preference decides).
fn client(version: Version, tls12: &str, tls13: &str) -> SslConnector {
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_ca_file(cert("ca.crt")).unwrap();
    let v = match version {
        Version::Tls12 => SslVersion::TLS1_2,
        Version::Tls13 => SslVersion::TLS1_3,
    };
    b.set_min_proto_version(Some(v)).unwrap();
    b.set_max_proto_version(Some(v)).unwrap();
    b.set_cipher_list(tls12).unwrap();
    b.set_ciphersuites(tls13).unwrap();
    b.build()
}

/// The suite a server of `provider` chose for `config`.
fn chosen(provider: Provider, config: &SslConnector) -> String {
    let server = provider.echo_server(1);
    let mut s = tls_connect(server.local_addr(), config);
    assert_eq!(tls_echo(&mut s, b"ping"), b"ping");
    let suite = s
        .ssl()
        .current_cipher()
        .expect("a cipher")
        .name()
        .to_string();
    drop(s);
    stop_when_idle(&server);
    suite
}

#[test]
fn both_providers_prefer_the_same_suites() {
    init_logging();
    let policy12: Vec<&str> = muon::ssl::TLS12_CIPHERS.split(':').collect();
    let reversed12 = policy12.iter().rev().cloned().collect::<Vec<_>>().join(":");
    // OpenSSL's default TLS 1.3 order, reversed, and without the first.
    let reversed13 = "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384";
    let cases = [
        // The policy's first TLS 1.2 suite for an ECDSA certificate, though offered last.
        (Version::Tls12, reversed12.as_str(), reversed13, policy12[0]),
        // Without it: the next ECDSA suite of the policy, not the client's first.
        (
            Version::Tls12,
            "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384",
            reversed13,
            "ECDHE-ECDSA-AES256-GCM-SHA384",
        ),
        (
            Version::Tls13,
            reversed12.as_str(),
            reversed13,
            "TLS_AES_256_GCM_SHA384",
        ),
        (
            Version::Tls13,
            reversed12.as_str(),
            "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256",
            "TLS_CHACHA20_POLY1305_SHA256",
        ),
    ];
    for (version, tls12, tls13, expected) in cases {
        let config = client(version, tls12, tls13);
        for &provider in PROVIDERS {
            assert_eq!(
                chosen(provider, &config),
                expected,
                "{provider:?} {version:?}, client offering {tls12} / {tls13}"
            );
        }
    }
}
