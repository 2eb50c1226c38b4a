//! The session id context: which client-authentication policy a session was made
//! under.
//!
//! OpenSSL stores the context in every session (cached or in a ticket) and resumes a
//! session only when it equals the context of the connection at hand, for session ids
//! and tickets alike, TLS 1.2 and 1.3. Ticket keys survive reloads on purpose (and are
//! shared across processes), so a constant context would let a session made before a
//! reload that tightened client authentication resume after it, skipping the client
//! certificate check it would now fail. Deriving the context from the policy makes such
//! a session a cache miss: the client gets a full handshake under the new policy.
//! The derivation is deterministic, so processes with the same policy still resume
//! each other's tickets.

use openssl::hash::{hash, MessageDigest};
use openssl::x509::X509;

use super::ClientAuth;
use crate::error::TlsError;

/// Bumped if the derivation changes, so old and new derivations never collide.
const DOMAIN: &[u8] = b"muon session id context v1";

/// SHA-256 over the client-auth mode and the set of client CAs (order and duplicates
/// in the CA file do not matter): 32 bytes, OpenSSL's maximum context length.
pub(super) fn session_id_context(
    auth: ClientAuth,
    client_ca: Option<&[X509]>,
) -> Result<Vec<u8>, TlsError> {
    let mut input = DOMAIN.to_vec();
    input.push(match auth {
        ClientAuth::None => 0,
        ClientAuth::Optional => 1,
        ClientAuth::Required => 2,
    });
    // Without client authentication the CAs decide nothing: no certificate is asked.
    if auth != ClientAuth::None {
        let mut digests = Vec::new();
        for ca in client_ca.unwrap_or_default() {
            let d = ca
                .digest(MessageDigest::sha256())
                .map_err(|e| TlsError::stack("digesting a client CA certificate", e))?;
            digests.push(d.to_vec());
        }
        digests.sort();
        digests.dedup();
        for d in digests {
            input.extend_from_slice(&d);
        }
    }
    let out = hash(MessageDigest::sha256(), &input)
        .map_err(|e| TlsError::stack("digesting the session id context", e))?;
    Ok(out.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca(name: &str) -> X509 {
        let path = format!("{}/../certs/{name}", env!("CARGO_MANIFEST_DIR"));
        X509::from_pem(&std::fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn the_context_follows_the_policy_and_only_the_policy() {
        let (a, b) = (ca("ca.crt"), ca("root-ca.crt"));
        let ctx = |auth, cas: &[X509]| session_id_context(auth, Some(cas)).unwrap();
        let both = ctx(ClientAuth::Required, &[a.clone(), b.clone()]);
        assert_eq!(both.len(), 32);
        // Same policy, any order or repetition: same context (processes share tickets).
        assert_eq!(
            both,
            ctx(ClientAuth::Required, &[b.clone(), a.clone(), b.clone()])
        );
        // A CA dropped, or another mode: another context.
        assert_ne!(both, ctx(ClientAuth::Required, std::slice::from_ref(&b)));
        assert_ne!(both, ctx(ClientAuth::Optional, &[a.clone(), b.clone()]));
        assert_ne!(
            ctx(ClientAuth::None, &[]),
            ctx(ClientAuth::Optional, &[a.clone(), b.clone()])
        );
        // No client certificate asked: the CA file changes nothing.
        assert_eq!(ctx(ClientAuth::None, &[a]), ctx(ClientAuth::None, &[b]));
    }
}
