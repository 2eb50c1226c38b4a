//! Session tickets bound to the client-authentication policy they were issued under.
//!
//! rustls resumes any ticket it can decrypt, whatever client certificate policy the
//! server has now. A ticket issued when no certificate was asked for must not let a
//! client skip mTLS after a reconfigure turned it on (net-ssl gets the same rule from
//! OpenSSL's session id context). So every ticket carries a digest of the policy, and
//! one issued under another policy is refused: the client does a full handshake.

use std::fmt;
use std::sync::Arc;

use rustls::server::ProducesTickets;

/// Length of the policy digest at the front of every ticket's plaintext.
const TAG: usize = 32;

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
