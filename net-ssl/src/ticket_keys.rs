//! Session ticket keys: loaded from nginx-format files, or random and rotated.
//!
//! A session ticket is the server's own state, encrypted and authenticated with a key
//! only the server knows, handed to the client to present again for resumption. Every
//! process of a fleet given the same key files can decrypt every other's tickets. The
//! first key encrypts new tickets; the others only decrypt (and a ticket they decrypt is
//! replaced by a fresh one under the first key), which is how keys rotate without
//! breaking sessions: add the new key first, keep the old one second for a while.
//!
//! Without files, each process makes a random key at start and replaces it every
//! rotation period, keeping the previous one for decryption, so a stolen key opens at
//! most two periods of recorded TLS 1.2 sessions (forward secrecy for tickets).

use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::config::read_file;
use crate::error::TlsError;

/// How often random ticket keys are replaced unless configured otherwise.
pub const DEFAULT_TICKET_KEY_ROTATION: Duration = Duration::from_secs(12 * 60 * 60);

/// The ticket cipher a key file implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TicketCipher {
    /// 48-byte files: AES-128-CBC, HMAC-SHA256 with a 16-byte secret.
    Aes128Cbc,
    /// 80-byte files: AES-256-CBC, HMAC-SHA256 with a 32-byte secret.
    Aes256Cbc,
}

/// One ticket key: a 16-byte name (sent in the clear inside the ticket, to find the
/// key again), an HMAC secret and an AES key.
#[derive(Clone)]
pub(crate) struct TicketKey {
    pub(crate) name: [u8; 16],
    pub(crate) hmac_secret: Vec<u8>,
    pub(crate) aes_key: Vec<u8>,
    pub(crate) cipher: TicketCipher,
}

impl std::fmt::Debug for TicketKey {
    /// Only the name: the secrets never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name: String = self.name.iter().map(|b| format!("{b:02x}")).collect();
        f.debug_struct("TicketKey")
            .field("name", &name)
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

impl TicketKey {
    /// Parses nginx's `ssl_session_ticket_key` format: 80 bytes are name (16), HMAC
    /// secret (32), AES-256 key (32); 48 bytes are name (16), AES-128 key (16), HMAC
    /// secret (16). `origin` names the source in errors.
    pub(crate) fn from_nginx_bytes(bytes: &[u8], origin: &str) -> Result<TicketKey, TlsError> {
        let mut name = [0u8; 16];
        match bytes.len() {
            80 => {
                name.copy_from_slice(&bytes[..16]);
                Ok(TicketKey {
                    name,
                    hmac_secret: bytes[16..48].to_vec(),
                    aes_key: bytes[48..80].to_vec(),
                    cipher: TicketCipher::Aes256Cbc,
                })
            }
            48 => {
                name.copy_from_slice(&bytes[..16]);
                Ok(TicketKey {
                    name,
                    aes_key: bytes[16..32].to_vec(),
                    hmac_secret: bytes[32..48].to_vec(),
                    cipher: TicketCipher::Aes128Cbc,
                })
            }
            n => Err(TlsError::msg(format!(
                "session ticket key file {origin} holds {n} bytes; it must hold exactly 80 \
                 (or 48), e.g. made with `openssl rand 80 > FILE`"
            ))),
        }
    }

    /// A fresh random 80-byte-format key.
    pub(crate) fn random() -> Result<TicketKey, TlsError> {
        let mut bytes = [0u8; 80];
        openssl::rand::rand_bytes(&mut bytes)
            .map_err(|e| TlsError::stack("making a random session ticket key", e))?;
        TicketKey::from_nginx_bytes(&bytes, "random bytes")
    }

    /// Reads every file, in order (the first one encrypts). Fails on the first bad one,
    /// naming it, or when two files hold keys with the same name.
    pub(crate) fn load_files(paths: &[PathBuf]) -> Result<Vec<TicketKey>, TlsError> {
        let mut keys: Vec<TicketKey> = Vec::with_capacity(paths.len());
        for path in paths {
            let key = load_file(path)?;
            if keys.iter().any(|k| k.name == key.name) {
                return Err(TlsError::msg(format!(
                    "session ticket key file {} has the same key name as an earlier file",
                    path.display()
                )));
            }
            keys.push(key);
        }
        Ok(keys)
    }
}

fn load_file(path: &Path) -> Result<TicketKey, TlsError> {
    let bytes = read_file(path, "session ticket key file")?;
    TicketKey::from_nginx_bytes(&bytes, &path.display().to_string())
}

/// Where the keys come from, which decides whether they rotate by themselves.
enum Source {
    /// Operator's files: rotated by the operator (new files, then a reload).
    Files,
    /// Random per process: replaced every `period`, the previous one kept to decrypt.
    Random { period: Duration, since: Instant },
}

struct Keys {
    /// The first encrypts; all decrypt.
    keys: Vec<TicketKey>,
    source: Source,
}

/// The keys of one acceptor, shared by all its contexts (old and new ones across
/// reloads) and read by the ticket callback on every worker thread.
pub(crate) struct TicketKeyStore {
    keys: RwLock<Keys>,
}

impl TicketKeyStore {
    /// A store with the keys from files, or with a random key rotated every `period`.
    pub(crate) fn new(files: Vec<TicketKey>, period: Duration) -> Result<TicketKeyStore, TlsError> {
        Ok(TicketKeyStore {
            keys: RwLock::new(Keys::new(files, period)?),
        })
    }

    /// Installs new keys (after a reload). With no files the current random keys stay,
    /// so a reload does not throw away the sessions of the last period.
    pub(crate) fn replace(&self, files: Vec<TicketKey>, period: Duration) -> Result<(), TlsError> {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        if files.is_empty() {
            if let Source::Random { period: p, .. } = &mut keys.source {
                *p = period;
                return Ok(());
            }
        }
        *keys = Keys::new(files, period)?;
        Ok(())
    }

    /// Runs `f` on the encrypting key, rotating random keys first when their period is over.
    pub(crate) fn with_encrypt_key<R>(&self, f: impl FnOnce(&TicketKey) -> R) -> Option<R> {
        if self.rotation_due() {
            let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
            keys.rotate_if_due();
        }
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        keys.keys.first().map(f)
    }

    /// Runs `f` on the key called `name` and whether it is the encrypting one; `None`
    /// when no key has that name (the ticket is ignored: a full handshake follows).
    pub(crate) fn with_decrypt_key<R>(
        &self,
        name: &[u8],
        f: impl FnOnce(&TicketKey, bool) -> R,
    ) -> Option<R> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        let index = keys.keys.iter().position(|k| k.name[..] == *name)?;
        Some(f(&keys.keys[index], index == 0))
    }

    fn rotation_due(&self) -> bool {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        matches!(keys.source, Source::Random { period, since } if since.elapsed() >= period)
    }

    /// The names of the keys, encrypting key first (for tests and logs).
    #[cfg(test)]
    fn names(&self) -> Vec<[u8; 16]> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        keys.keys.iter().map(|k| k.name).collect()
    }
}

impl Keys {
    fn new(files: Vec<TicketKey>, period: Duration) -> Result<Keys, TlsError> {
        if files.is_empty() {
            Ok(Keys {
                keys: vec![TicketKey::random()?],
                source: Source::Random {
                    period,
                    since: Instant::now(),
                },
            })
        } else {
            Ok(Keys {
                keys: files,
                source: Source::Files,
            })
        }
    }

    fn rotate_if_due(&mut self) {
        let Source::Random { period, since } = &mut self.source else {
            return;
        };
        if since.elapsed() < *period {
            return;
        }
        match TicketKey::random() {
            Ok(fresh) => {
                // New key first; the previous one decrypts for one more period.
                self.keys.truncate(1);
                self.keys.insert(0, fresh);
                *since = Instant::now();
                log::info!("session ticket key rotated (random keys, period {period:?})");
            }
            // Keep encrypting with the old key rather than fail handshakes; try again
            // on the next ticket.
            Err(e) => log::error!("session ticket key rotation failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_formats_split_as_nginx_does() {
        let bytes: Vec<u8> = (0..80).collect();
        let k = TicketKey::from_nginx_bytes(&bytes, "t").unwrap();
        assert_eq!(k.name[..], bytes[..16]);
        assert_eq!(k.hmac_secret, bytes[16..48]);
        assert_eq!(k.aes_key, bytes[48..80]);
        assert_eq!(k.cipher, TicketCipher::Aes256Cbc);
        let k = TicketKey::from_nginx_bytes(&bytes[..48], "t").unwrap();
        assert_eq!(k.aes_key, bytes[16..32]);
        assert_eq!(k.hmac_secret, bytes[32..48]);
        assert_eq!(k.cipher, TicketCipher::Aes128Cbc);
        let err = TicketKey::from_nginx_bytes(&bytes[..79], "bad.key").unwrap_err();
        assert!(err.to_string().contains("bad.key holds 79 bytes"), "{err}");
    }

    #[test]
    fn random_keys_rotate_and_keep_the_previous_one() {
        let store = TicketKeyStore::new(Vec::new(), Duration::ZERO).unwrap();
        let first = store.names();
        assert_eq!(first.len(), 1);
        store.with_encrypt_key(|_| ()).unwrap();
        let second = store.names();
        assert_eq!(second.len(), 2);
        assert_eq!(second[1], first[0], "the old key decrypts");
        assert_ne!(second[0], first[0], "a new key encrypts");
        store.with_encrypt_key(|_| ()).unwrap();
        let third = store.names();
        assert_eq!(third, vec![third[0], second[0]], "only one old key is kept");
        assert!(store.with_decrypt_key(&first[0], |_, _| ()).is_none());
        assert_eq!(
            store.with_decrypt_key(&second[0], |_, enc| enc),
            Some(false)
        );
    }

    #[test]
    fn files_do_not_rotate_and_reload_without_files_keeps_random_keys() {
        let a = TicketKey::from_nginx_bytes(&[1; 80], "a").unwrap();
        let store = TicketKeyStore::new(vec![a], Duration::ZERO).unwrap();
        store.with_encrypt_key(|_| ()).unwrap();
        assert_eq!(store.names(), vec![[1; 16]]);

        let random = TicketKeyStore::new(Vec::new(), Duration::from_secs(3600)).unwrap();
        let before = random.names();
        random
            .replace(Vec::new(), Duration::from_secs(3600))
            .unwrap();
        assert_eq!(random.names(), before);
    }
}
