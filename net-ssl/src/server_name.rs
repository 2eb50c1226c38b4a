//! Choosing a server identity by the client's SNI name: exact names first, then
//! one-label wildcards (`*.example.com` matches `www.example.com`, not `example.com`
//! nor `a.b.example.com`, as certificate wildcards do).

use std::collections::HashMap;

use openssl::ssl::SslContext;

/// The identities other than the default, by name.
#[derive(Default)]
pub(crate) struct ServerNames {
    exact: HashMap<String, SslContext>,
    /// Keyed by what follows `*.`.
    wildcard: HashMap<String, SslContext>,
}

impl ServerNames {
    /// Adds `ctx` for `pattern` (already lower case): `name` or `*.suffix`.
    pub(crate) fn insert(&mut self, pattern: &str, ctx: SslContext) {
        match pattern.strip_prefix("*.") {
            Some(suffix) => self.wildcard.insert(suffix.to_string(), ctx),
            None => self.exact.insert(pattern.to_string(), ctx),
        };
    }

    /// Whether no identity besides the default is configured.
    pub(crate) fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.wildcard.is_empty()
    }

    /// The context for the name the client sent, if one is configured.
    pub(crate) fn find(&self, name: &str) -> Option<&SslContext> {
        let name = normalize(name);
        self.exact
            .get(&name)
            .or_else(|| self.wildcard.get(wildcard_parent(&name)?))
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
pub(crate) fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `name` is covered by one of `patterns` (certificate DNS names, lower case).
pub(crate) fn covered_by(patterns: &[String], name: &str) -> bool {
    let name = normalize(name);
    patterns.iter().any(|p| match p.strip_prefix("*.") {
        Some(suffix) => wildcard_parent(&name) == Some(suffix),
        None => *p == name,
    })
}

/// Checks an SNI pattern given by the user: a host name or `*.` plus a host name.
pub(crate) fn valid_pattern(pattern: &str) -> bool {
    let host = pattern.strip_prefix("*.").unwrap_or(pattern);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label() {
        let pats = vec!["*.example.com".to_string(), "localhost".to_string()];
        assert!(covered_by(&pats, "www.Example.com."));
        assert!(!covered_by(&pats, "example.com"));
        assert!(!covered_by(&pats, "a.b.example.com"));
        assert!(!covered_by(&pats, ".example.com"));
        assert!(!covered_by(&pats, "*.example.com"));
        assert!(covered_by(&pats, "LOCALHOST"));
        assert!(valid_pattern("*.example.com") && valid_pattern("api.example.com"));
        assert!(!valid_pattern("*") && !valid_pattern("a..b") && !valid_pattern("x.*.com"));
    }
}
