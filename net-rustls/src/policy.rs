//! The cipher policy, shared by [`crate::RustlsAcceptor`] and [`crate::RustlsConnector`]:
//! the same as net-ssl's. TLS 1.2 and 1.3 only; TLS 1.2 with ECDHE and AEAD ciphers only
//! (Mozilla's "intermediate" list, which is also every TLS 1.2 suite rustls has); key
//! exchange over X25519 and P-256; aws-lc-rs does the cryptography.

use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::{aws_lc_rs, CryptoProvider};
use rustls::{CipherSuite, SupportedProtocolVersion};

use crate::error::RustlsError;

/// How long a handshake may take unless configured otherwise (as net-ssl).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TLS protocol version Muon allows (older versions are never enabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// The TLS 1.2 suites allowed, each with the name OpenSSL (and so net-ssl's
/// `TlsInfo::cipher`) gives it. TLS 1.3 suites have the same name in both.
const TLS12_SUITES: [(CipherSuite, &str); 6] = [
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "ECDHE-ECDSA-AES128-GCM-SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "ECDHE-RSA-AES128-GCM-SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "ECDHE-ECDSA-AES256-GCM-SHA384",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "ECDHE-RSA-AES256-GCM-SHA384",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        "ECDHE-ECDSA-CHACHA20-POLY1305",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        "ECDHE-RSA-CHACHA20-POLY1305",
    ),
];

/// The TLS 1.3 suites in OpenSSL's default order, which net-ssl serves with the
/// server's preference.
const TLS13_SUITES: [CipherSuite; 3] = [
    CipherSuite::TLS13_AES_256_GCM_SHA384,
    CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
    CipherSuite::TLS13_AES_128_GCM_SHA256,
];

/// The crypto provider with Muon's policy: aws-lc-rs, the three TLS 1.3 suites and the
/// TLS 1.2 suites above, in net-ssl's order of preference (the server chooses by it:
/// aws-lc-rs's own order put AES-256 before AES-128 in TLS 1.2, so a client offering
/// both got another suite, and a costlier handshake, than from net-ssl), X25519 and P-256.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    let mut provider = aws_lc_rs::default_provider();
    let offered = std::mem::take(&mut provider.cipher_suites);
    let order = TLS13_SUITES
        .iter()
        .chain(TLS12_SUITES.iter().map(|(id, _)| id));
    provider.cipher_suites = order
        .filter_map(|id| offered.iter().find(|s| s.suite() == *id).copied())
        .collect();
    provider.kx_groups = vec![aws_lc_rs::kx_group::X25519, aws_lc_rs::kx_group::SECP256R1];
    Arc::new(provider)
}

/// The rustls protocol versions from `min` to `max`.
pub(crate) fn versions(
    min: TlsVersion,
    max: TlsVersion,
) -> Result<Vec<&'static SupportedProtocolVersion>, RustlsError> {
    if min > max {
        return Err(RustlsError::msg(format!(
            "minimum protocol {min:?} is newer than maximum {max:?}"
        )));
    }
    let mut v = Vec::new();
    if min == TlsVersion::Tls12 {
        v.push(&rustls::version::TLS12);
    }
    if max == TlsVersion::Tls13 {
        v.push(&rustls::version::TLS13);
    }
    Ok(v)
}

/// The name OpenSSL gives a suite (what net-ssl reports), e.g. `"TLS_AES_128_GCM_SHA256"`
/// or `"ECDHE-RSA-AES128-GCM-SHA256"`.
pub(crate) fn cipher_name(suite: CipherSuite) -> String {
    if let Some((_, name)) = TLS12_SUITES.iter().find(|(id, _)| *id == suite) {
        return (*name).to_string();
    }
    // rustls names TLS 1.3 suites "TLS13_AES_128_GCM_SHA256"; OpenSSL and the RFC
    // "TLS_AES_128_GCM_SHA256".
    match suite.as_str() {
        Some(name) => match name.strip_prefix("TLS13_") {
            Some(rest) => format!("TLS_{rest}"),
            None => name.to_string(),
        },
        None => format!("{suite:?}"),
    }
}

/// The name OpenSSL gives a protocol version, e.g. `"TLSv1.3"`.
pub(crate) fn protocol_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_keeps_only_ecdhe_aead_and_two_groups() {
        let p = provider();
        let tls12: Vec<_> = p
            .cipher_suites
            .iter()
            .filter(|s| matches!(s, rustls::SupportedCipherSuite::Tls12(_)))
            .map(|s| cipher_name(s.suite()))
            .collect();
        assert_eq!(tls12.len(), 6, "{tls12:?}");
        assert!(tls12.iter().all(|n| n.starts_with("ECDHE-")), "{tls12:?}");
        let groups: Vec<_> = p.kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(
            groups,
            vec![rustls::NamedGroup::X25519, rustls::NamedGroup::secp256r1]
        );
    }

    #[test]
    fn suites_follow_net_ssls_order_of_preference() {
        let names: Vec<_> = provider()
            .cipher_suites
            .iter()
            .map(|s| cipher_name(s.suite()))
            .collect();
        let mut expected = vec![
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256",
            "TLS_AES_128_GCM_SHA256",
        ];
        // net-ssl's TLS 1.2 list, in its order.
        expected.extend(net_ssl_tls12_order());
        assert_eq!(names, expected);
    }

    /// `net_ssl::TLS12_CIPHERS` (net-rustls does not depend on net-ssl; the text is
    /// copied, and checked against the real constant by tests/tls_suite_order.rs).
    fn net_ssl_tls12_order() -> Vec<&'static str> {
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
         ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:\
         ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
            .split(':')
            .map(str::trim)
            .collect()
    }

    #[test]
    fn suites_have_openssl_names() {
        let names: Vec<_> = provider()
            .cipher_suites
            .iter()
            .map(|s| cipher_name(s.suite()))
            .collect();
        for tls13 in [
            "TLS_AES_256_GCM_SHA384",
            "TLS_AES_128_GCM_SHA256",
            "TLS_CHACHA20_POLY1305_SHA256",
        ] {
            assert!(names.iter().any(|n| n == tls13), "{tls13} in {names:?}");
        }
    }

    #[test]
    fn version_range_is_checked() {
        assert!(versions(TlsVersion::Tls13, TlsVersion::Tls12).is_err());
        assert_eq!(
            versions(TlsVersion::Tls12, TlsVersion::Tls13)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            versions(TlsVersion::Tls13, TlsVersion::Tls13)
                .unwrap()
                .len(),
            1
        );
    }
}
