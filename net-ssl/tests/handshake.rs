//! Handshakes: versions, ALPN, SNI, mTLS, host names, session resumption.
mod common;

use common::{acceptor, cert, connector, Pair};
use net_ssl::{ClientAuth, TlsVersion};

#[test]
fn tls13_handshake() {
    let acc = acceptor().min_protocol(TlsVersion::Tls13).build().unwrap();
    let con = connector().build().unwrap();
    let mut p = Pair::with(&acc, &con, "localhost");
    p.establish();
    for end in [&p.client, &p.server] {
        assert_eq!(end.tls().protocol_version(), "TLSv1.3");
        assert!(end
            .tls()
            .cipher_name()
            .is_some_and(|c| c.starts_with("TLS_")));
    }
    assert_eq!(
        p.client.tls().peer_subject().as_deref(),
        Some("/O=Muon Development/CN=localhost")
    );
    assert_eq!(
        p.client.tls().peer_issuer().as_deref(),
        Some("/O=Muon Development/CN=Muon Development CA")
    );
    assert_eq!(p.server.tls().peer_subject(), None);
    assert!(!p.client.tls().session_reused());
}

#[test]
fn tls12_handshake() {
    let acc = acceptor().max_protocol(TlsVersion::Tls12).build().unwrap();
    let con = connector().build().unwrap();
    let mut p = Pair::with(&acc, &con, "localhost");
    p.establish();
    assert_eq!(p.client.tls().protocol_version(), "TLSv1.2");
    assert_eq!(p.server.tls().protocol_version(), "TLSv1.2");
    let cipher = p.client.tls().cipher_name().unwrap();
    assert!(cipher.starts_with("ECDHE-ECDSA-"), "{cipher}");
}

#[test]
fn rsa_certificate() {
    let acc = net_ssl::TlsAcceptor::from_pem_files(cert("server-rsa.crt"), cert("server-rsa.key"))
        .unwrap();
    let con = connector().max_protocol(TlsVersion::Tls12).build().unwrap();
    let mut p = Pair::with(&acc, &con, "localhost");
    p.establish();
    assert!(p
        .client
        .tls()
        .cipher_name()
        .unwrap()
        .starts_with("ECDHE-RSA-"));
}

#[test]
fn version_mismatch_fails() {
    let acc = acceptor().min_protocol(TlsVersion::Tls13).build().unwrap();
    let con = connector().max_protocol(TlsVersion::Tls12).build().unwrap();
    let mut p = Pair::with(&acc, &con, "localhost");
    assert!(!p.pump());
    let text = p.server.error_text();
    assert!(text.contains("protocol"), "{text}");
}

#[test]
fn from_pem_in_memory() {
    let c = std::fs::read(cert("server.crt")).unwrap();
    let k = std::fs::read(cert("server.key")).unwrap();
    let acc = net_ssl::TlsAcceptor::from_pem(&c, &k).unwrap();
    let con = connector().build().unwrap();
    Pair::with(&acc, &con, "localhost").establish();
}

#[test]
fn alpn_negotiation() {
    let acc = acceptor()
        .alpn_protocols(&["h2", "http/1.1"])
        .build()
        .unwrap();
    let con = connector()
        .alpn_protocols(&["http/1.1", "h2"])
        .build()
        .unwrap();
    let mut p = Pair::with(&acc, &con, "localhost");
    p.establish();
    assert_eq!(p.client.tls().alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(p.server.tls().alpn_protocol(), Some(&b"h2"[..]));

    // No common protocol: no ALPN answer, the handshake still succeeds.
    let con = connector().alpn_protocols(&["spdy/3"]).build().unwrap();
    let mut p = Pair::with(&acc, &con, "localhost");
    p.establish();
    assert_eq!(p.client.tls().alpn_protocol(), None);
}

#[test]
fn sni_selects_certificate() {
    let acc = acceptor()
        .sni_certificate("other.test", cert("other.crt"), cert("other.key"))
        .build()
        .unwrap();
    let con = connector().build().unwrap();

    let mut p = Pair::with(&acc, &con, "other.test");
    p.establish();
    assert_eq!(p.server.tls().server_name(), Some("other.test"));
    assert_eq!(
        p.client.tls().peer_subject().as_deref(),
        Some("/O=Muon Development/CN=other.test")
    );

    let mut p = Pair::with(&acc, &con, "localhost");
    p.establish();
    assert_eq!(p.server.tls().server_name(), Some("localhost"));
    assert_eq!(
        p.client.tls().peer_subject().as_deref(),
        Some("/O=Muon Development/CN=localhost")
    );
}

#[test]
fn wrong_hostname_fails_verification() {
    let acc = acceptor().build().unwrap();
    let con = connector().build().unwrap();
    let mut p = Pair::with(&acc, &con, "example.com");
    assert!(!p.pump());
    let text = p.client.error_text();
    assert!(text.contains("certificate verify failed"), "{text}");
    assert!(text.contains("hostname mismatch"), "{text}");
    assert!(text.contains("127.0.0.1:4433"), "{text}");
    assert!(p.client.layer.tls_info().is_none());
}

#[test]
fn unknown_ca_fails_verification() {
    let acc = acceptor().build().unwrap();
    // The system trust store does not know the development CA.
    let con = net_ssl::TlsConnector::new().unwrap();
    let mut p = Pair::with(&acc, &con, "localhost");
    assert!(!p.pump());
    let text = p.client.error_text();
    assert!(text.contains("certificate verify failed"), "{text}");
}

#[test]
fn danger_accept_invalid_certs_skips_verification() {
    let acc = acceptor().build().unwrap();
    let con = net_ssl::TlsConnector::builder()
        .danger_accept_invalid_certs()
        .build()
        .unwrap();
    Pair::with(&acc, &con, "example.com").establish();
}

#[test]
fn ip_address_hosts() {
    let acc = acceptor().build().unwrap();
    let con = connector().build().unwrap();
    for host in ["127.0.0.1", "::1", "[::1]"] {
        let mut p = Pair::with(&acc, &con, host);
        p.establish();
        // No SNI for IP addresses.
        assert_eq!(p.server.tls().server_name(), None, "{host}");
    }
    let mut p = Pair::with(&acc, &con, "127.0.0.2");
    assert!(!p.pump());
    assert!(p.client.error_text().contains("IP address mismatch"));
}

#[test]
fn server_name_override() {
    let acc = acceptor()
        .sni_certificate("other.test", cert("other.crt"), cert("other.key"))
        .build()
        .unwrap();
    let con = connector().build().unwrap();
    let factory = con.for_host("10.1.2.3").server_name_override("other.test");
    assert_eq!(factory.server_name(), "other.test");
    let mut p = Pair::new(&acc, &factory);
    p.establish();
    assert_eq!(p.server.tls().server_name(), Some("other.test"));
}

#[test]
fn mtls_required() {
    let acc = acceptor()
        .client_ca_file(cert("ca.crt"))
        .client_auth(ClientAuth::Required)
        .build()
        .unwrap();

    // Without a client certificate: the server refuses.
    let con = connector().build().unwrap();
    let mut p = Pair::with(&acc, &con, "localhost");
    assert!(!p.pump());
    let text = p.server.error_text();
    assert!(text.contains("peer did not return a certificate"), "{text}");

    // With one: accepted, and the server sees who it is; a second connection resumes.
    let con = connector()
        .client_cert(cert("client.crt"), cert("client.key"))
        .build()
        .unwrap();
    let mut p = Pair::with(&acc, &con, "localhost");
    p.establish();
    assert_eq!(
        p.server.tls().peer_subject().as_deref(),
        Some("/O=Muon Development/CN=muon-client")
    );
    let mut p = Pair::with(&acc, &con, "localhost");
    p.establish();
    assert!(p.client.tls().session_reused());
}

#[test]
fn mtls_optional() {
    let acc = acceptor()
        .client_ca_file(cert("ca.crt"))
        .client_auth(ClientAuth::Optional)
        .build()
        .unwrap();
    let con = connector().build().unwrap();
    let mut p = Pair::with(&acc, &con, "localhost");
    p.establish();
    assert_eq!(p.server.tls().peer_subject(), None);

    // A client certificate from an unknown CA is rejected even when optional.
    let con = connector()
        .client_cert(cert("server.crt"), cert("server.key"))
        .build()
        .unwrap();
    let mut p = Pair::with(&acc, &con, "localhost");
    assert!(
        !p.pump(),
        "a serverAuth-only certificate must not pass as a client"
    );
}

#[test]
fn client_auth_without_ca_is_an_error() {
    let err = acceptor()
        .client_auth(ClientAuth::Required)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("client CA"), "{err}");
}

fn resumption(version: TlsVersion) {
    let acc = acceptor()
        .max_protocol(version)
        .min_protocol(version)
        .build()
        .unwrap();
    let con = connector().build().unwrap();
    let mut first = Pair::with(&acc, &con, "localhost");
    first.establish();
    assert!(!first.client.tls().session_reused());
    // Another name has no cached session.
    let mut other = Pair::with(&acc, &con, "127.0.0.1");
    other.establish();
    assert!(!other.client.tls().session_reused());

    let mut second = Pair::with(&acc, &con, "localhost");
    second.establish();
    assert!(second.client.tls().session_reused(), "{version:?}");
    assert!(second.server.tls().session_reused());

    con.clear_sessions();
    let mut third = Pair::with(&acc, &con, "localhost");
    third.establish();
    assert!(!third.client.tls().session_reused());
}

#[test]
fn session_resumption_tls13() {
    resumption(TlsVersion::Tls13);
}

#[test]
fn session_resumption_tls12() {
    resumption(TlsVersion::Tls12);
}
