//! Choosing the server certificate for a ClientHello: SNI identities (exact names
//! first, then one-label wildcards, as net-ssl), the default identity otherwise, and
//! among the certificates of an identity (EC next to RSA) the first the client can
//! verify. Also records the name for the layer (see `sni.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use rustls::pki_types::{DnsName, ServerName};
use rustls::server::{ClientHello, ParsedCertificate, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::sni;

/// The certificates of one identity, in preference order (EC first, as added).
pub(crate) type Keys = Vec<Arc<CertifiedKey>>;

/// Every identity of an acceptor.
#[derive(Debug, Default)]
pub(crate) struct Identities {
    pub(crate) default: Keys,
    pub(crate) exact: HashMap<String, Keys>,
    /// Keyed by what follows `*.`.
    pub(crate) wildcard: HashMap<String, Keys>,
    /// Refuse names that match no SNI identity and no name of the default certificate.
    pub(crate) strict: bool,
}

impl Identities {
    /// Adds `key` for `pattern` (lower case): `name` or `*.suffix`.
    pub(crate) fn insert(&mut self, pattern: &str, key: Arc<CertifiedKey>) {
        let map = match pattern.strip_prefix("*.") {
            Some(suffix) => self.wildcard.entry(suffix.to_string()),
            None => self.exact.entry(pattern.to_string()),
        };
        map.or_default().push(key);
    }

    /// The identity for the name the client sent (`None`: refused, strict mode).
    fn find(&self, name: Option<&str>) -> Option<&Keys> {
        let Some(name) = name else {
            return Some(&self.default);
        };
        let name = normalize(name);
        if let Some(keys) = self
            .exact
            .get(&name)
            .or_else(|| self.wildcard.get(wildcard_parent(&name)?))
        {
            return Some(keys);
        }
        if self.strict && !self.default.iter().any(|k| covers(k, &name)) {
            log::info!("TLS: refusing unknown server name {name:?}");
            return None;
        }
        Some(&self.default)
    }
}

impl ResolvesServerCert for Identities {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        sni::record(hello.server_name());
        let keys = self.find(hello.server_name())?;
        let schemes = hello.signature_schemes();
        keys.iter()
            .find(|k| k.key.choose_scheme(schemes).is_some())
            .or_else(|| keys.first())
            .cloned()
    }
}

/// Whether the leaf certificate of `key` is valid for `name`.
fn covers(key: &CertifiedKey, name: &str) -> bool {
    let Ok(dns) = DnsName::try_from(name.to_string()) else {
        return false;
    };
    let Some(leaf) = key.cert.first() else {
        return false;
    };
    match ParsedCertificate::try_from(leaf) {
        Ok(parsed) => {
            rustls::client::verify_server_name(&parsed, &ServerName::DnsName(dns)).is_ok()
        }
        Err(_) => false,
    }
}

/// What a wildcard must name for `name` to match it: all but the first label, which
/// must be a real host name label (not empty, not itself `*`).
fn wildcard_parent(name: &str) -> Option<&str> {
    match name.split_once('.') {
        Some((first, parent)) if valid_label(first) && !parent.is_empty() => Some(parent),
        _ => None,
    }
}

fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Lower case, without a trailing dot (an absolute name is the same host).
fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Checks an SNI pattern given by the user: a host name or `*.` plus a host name.
pub(crate) fn valid_pattern(pattern: &str) -> bool {
    let host = pattern.strip_prefix("*.").unwrap_or(pattern);
    !host.is_empty() && host.len() <= 253 && host.split('.').all(valid_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_one_label() {
        assert_eq!(wildcard_parent("www.example.com"), Some("example.com"));
        assert_eq!(wildcard_parent("example"), None);
        assert_eq!(wildcard_parent(".example.com"), None);
        assert_eq!(wildcard_parent("*.example.com"), None);
        assert!(valid_pattern("*.example.com") && valid_pattern("api.example.com"));
        assert!(!valid_pattern("*") && !valid_pattern("a..b") && !valid_pattern("x.*.com"));
    }
}
