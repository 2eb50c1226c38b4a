//! Session ticket keys from nginx-format files (`ssl_session_ticket_key`), so every
//! process of a fleet given the same files resumes every other's sessions.
//!
//! The files are the ones net-ssl reads (80 bytes: name, 32-byte HMAC secret, 32-byte
//! AES key; 48 bytes: name, 16-byte AES key, 16-byte HMAC secret), but rustls seals its
//! own session format its own way: here AES-GCM under a key derived (HKDF-SHA256) from
//! both secrets of the file, with the file's 16-byte name in front of each ticket to
//! find the key again. So the same files do not let OpenSSL and rustls servers read
//! each other's tickets (see docs/tls.md, "Tickets do not cross providers").
//!
//! The first file encrypts; the others only decrypt (a client resuming with one of
//! them gets a new ticket under the first), which is how keys rotate without breaking
//! sessions.

use std::fmt;
use std::path::PathBuf;
use std::sync::{PoisonError, RwLock};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hkdf;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use rustls::server::ProducesTickets;

use crate::error::RustlsError;
use crate::pem::read_file;

/// The ticket lifetime announced to clients (as rustls's own ticketer: 12 hours).
const LIFETIME_S: u32 = 12 * 60 * 60;
/// The key name at the front of every ticket.
const NAME: usize = 16;

/// One key: its name and the AEAD key derived from the file.
pub(crate) struct Key {
    name: [u8; NAME],
    aead: LessSafeKey,
}

/// The keys of the files, the first one encrypting; replaced whole by a reload.
pub(crate) struct FileTickets {
    keys: RwLock<Vec<Key>>,
    rng: SystemRandom,
}

impl FileTickets {
    /// Tickets under `keys` (from [`load_keys`]; the first encrypts).
    pub(crate) fn new(keys: Vec<Key>) -> FileTickets {
        FileTickets {
            keys: RwLock::new(keys),
            rng: SystemRandom::new(),
        }
    }

    /// Replaces the keys (from [`load_keys`], so already checked).
    pub(crate) fn replace(&self, keys: Vec<Key>) {
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = keys;
    }
}

/// Reads and checks every file; the keys in the files' order.
pub(crate) fn load_keys(files: &[PathBuf]) -> Result<Vec<Key>, RustlsError> {
    files
        .iter()
        .map(|path| {
            let bytes = read_file(path, "session ticket key file")?;
            key_from_nginx(&bytes).ok_or_else(|| {
                RustlsError::msg(format!(
                    "session ticket key file {} holds {} bytes; it must hold exactly 80 (or 48), \
                     e.g. made with `openssl rand 80 > FILE`",
                    path.display(),
                    bytes.len()
                ))
            })
        })
        .collect()
}

/// The key of one nginx file, or `None` if it is not 80 or 48 bytes.
fn key_from_nginx(bytes: &[u8]) -> Option<Key> {
    if bytes.len() != 80 && bytes.len() != 48 {
        return None;
    }
    let mut name = [0; NAME];
    name.copy_from_slice(&bytes[..NAME]);
    // Both secrets feed the derivation; the salt keeps these keys apart from any other
    // use of the same file.
    let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"muon rustls session tickets");
    let prk = salt.extract(&bytes[NAME..]);
    let info: [&[u8]; 1] = [&name];
    let okm = prk.expand(&info, &AES_256_GCM).ok()?;
    let aead = LessSafeKey::new(UnboundKey::from(okm));
    Some(Key { name, aead })
}

impl ProducesTickets for FileTickets {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        LIFETIME_S
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        seal(keys.first()?, &self.rng, plain)
    }

    fn decrypt(&self, ticket: &[u8]) -> Option<Vec<u8>> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        open(keys.iter(), ticket)
    }
}

/// Seals `plain` under `key`: the key's name, a random nonce, then the AES-GCM output.
pub(crate) fn seal(key: &Key, rng: &SystemRandom, plain: &[u8]) -> Option<Vec<u8>> {
    let mut nonce = [0; NONCE_LEN];
    rng.fill(&mut nonce).ok()?;
    let mut sealed = plain.to_vec();
    key.aead
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&key.name),
            &mut sealed,
        )
        .ok()?;
    let mut ticket = Vec::with_capacity(NAME + NONCE_LEN + sealed.len());
    ticket.extend_from_slice(&key.name);
    ticket.extend_from_slice(&nonce);
    ticket.extend_from_slice(&sealed);
    Some(ticket)
}

/// Opens a ticket sealed by [`seal`] under one of `keys` (found by name); `None` when
/// no key has its name or it does not authenticate.
pub(crate) fn open<'a>(mut keys: impl Iterator<Item = &'a Key>, ticket: &[u8]) -> Option<Vec<u8>> {
    if ticket.len() < NAME + NONCE_LEN {
        return None;
    }
    let (name, rest) = ticket.split_at(NAME);
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let key = keys.find(|k| k.name == name)?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut open = sealed.to_vec();
    let plain = key
        .aead
        .open_in_place(nonce, Aad::from(&key.name), &mut open)
        .ok()?;
    Some(plain.to_vec())
}

/// A fresh random key (80 random bytes taken as an nginx key file would be).
pub(crate) fn random_key(rng: &SystemRandom) -> Option<Key> {
    let mut bytes = [0u8; 80];
    rng.fill(&mut bytes).ok()?;
    key_from_nginx(&bytes)
}

impl Key {
    /// The key's name (the first bytes of every ticket it seals).
    pub(crate) fn name(&self) -> [u8; NAME] {
        self.name
    }
}

impl fmt::Debug for FileTickets {
    /// Only the key names: the secrets never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        let names: Vec<String> = keys
            .iter()
            .map(|k| k.name.iter().map(|b| format!("{b:02x}")).collect())
            .collect();
        f.debug_struct("FileTickets")
            .field("names", &names)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tickets(files: &[&[u8]]) -> FileTickets {
        FileTickets::new(files.iter().map(|b| key_from_nginx(b).unwrap()).collect())
    }

    #[test]
    fn the_first_key_encrypts_and_every_key_decrypts() {
        let (a, b) = ([1u8; 80], [2u8; 48]);
        let old = tickets(&[&b]);
        let rotated = tickets(&[&a, &b]);
        let t = old.encrypt(b"session").unwrap();
        assert_eq!(rotated.decrypt(&t).as_deref(), Some(&b"session"[..]));
        let t2 = rotated.encrypt(b"new").unwrap();
        assert_eq!(&t2[..16], &a[..16], "sealed under the first key");
        assert_eq!(old.decrypt(&t2), None, "a key the process does not have");
        let mut bad = t.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(rotated.decrypt(&bad), None, "tampered");
        assert!(key_from_nginx(&[0; 79]).is_none());
    }
}
