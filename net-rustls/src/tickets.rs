//! Session tickets bound to the client-authentication policy they were issued under.
//!
//! rustls resumes any ticket it can decrypt, whatever client certificate policy the
//! server has now. A ticket issued when no certificate was asked for must not let a
//! client skip mTLS after a reconfigure turned it on (net-ssl gets the same rule from
//! OpenSSL's session id context). So every ticket carries a digest of the policy, and
//! one issued under another policy is refused: the client does a full handshake.

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::server::ProducesTickets;

/// Length of the policy digest at the front of every ticket's plaintext.
const TAG: usize = 32;

/// The client-auth policy a ticket is bound to: the mode (`mode`, as the builder names
/// it) and the set of client CAs, each by its SHA-256, sorted and without repeats, so
/// the order and layout of the CA file do not matter (processes whose files list the
/// same CAs differently still resume each other's tickets, as with net-ssl's session id
/// context) while a CA added or dropped does.
pub(crate) fn client_auth_policy(mode: &str, cas: &[CertificateDer<'_>]) -> Vec<u8> {
    let mut digests: Vec<Vec<u8>> = cas
        .iter()
        .map(|ca| {
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, ca)
                .as_ref()
                .to_vec()
        })
        .collect();
    digests.sort();
    digests.dedup();
    let mut policy = format!("{mode}\n").into_bytes();
    for d in digests {
        policy.extend_from_slice(&d);
    }
    policy
}

/// Wraps the shared ticket keys with one policy's tag.
pub(crate) struct PolicyBound {
    inner: Arc<dyn ProducesTickets>,
    tag: [u8; TAG],
}

impl PolicyBound {
    /// Tickets of `inner` tagged with the SHA-256 of `policy` (a description of the
    /// client-auth mode and the client CA file's content).
    pub(crate) fn new(inner: Arc<dyn ProducesTickets>, policy: &[u8]) -> PolicyBound {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, policy);
        let mut tag = [0; TAG];
        tag.copy_from_slice(digest.as_ref());
        PolicyBound { inner, tag }
    }
}

impl ProducesTickets for PolicyBound {
    fn enabled(&self) -> bool {
        self.inner.enabled()
    }

    fn lifetime(&self) -> u32 {
        self.inner.lifetime()
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let mut tagged = Vec::with_capacity(TAG + plain.len());
        tagged.extend_from_slice(&self.tag);
        tagged.extend_from_slice(plain);
        self.inner.encrypt(&tagged)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let mut plain = self.inner.decrypt(cipher)?;
        if plain.len() < TAG || plain[..TAG] != self.tag {
            log::debug!("TLS: a ticket from another client-auth policy; full handshake");
            return None;
        }
        plain.drain(..TAG);
        Some(plain)
    }
}

impl fmt::Debug for PolicyBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyBound").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca(name: &str) -> CertificateDer<'static> {
        let path = format!("{}/../certs/{name}", env!("CARGO_MANIFEST_DIR"));
        crate::pem::parse_chain(&std::fs::read(path).unwrap(), name).unwrap()[0].clone()
    }

    #[test]
    fn the_policy_follows_the_mode_and_the_set_of_cas_only() {
        let (a, b) = (ca("ca.crt"), ca("root-ca.crt"));
        let both = client_auth_policy("Required", &[a.clone(), b.clone()]);
        // The same CAs in another order, or repeated: the same policy.
        assert_eq!(
            both,
            client_auth_policy("Required", &[b.clone(), a.clone(), b.clone()])
        );
        // A CA dropped, or another mode: another policy.
        assert_ne!(
            both,
            client_auth_policy("Required", std::slice::from_ref(&b))
        );
        assert_ne!(both, client_auth_policy("Optional", &[a, b]));
    }
}
