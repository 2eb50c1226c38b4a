//! Loading certificates and keys from PEM files or bytes, naming the origin in every
//! error so that a bad input says which file it came from.

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::RustlsError;

/// A certificate chain and its private key, as files or PEM bytes.
#[derive(Clone, Debug)]
pub(crate) enum Identity {
    /// Paths to the chain (leaf first) and the key.
    Files(PathBuf, PathBuf),
    /// PEM bytes of the chain and the key.
    Pem(Vec<u8>, Vec<u8>),
}

impl Identity {
    /// The chain (leaf first) and the key, parsed.
    pub(crate) fn load(
        &self,
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), RustlsError> {
        let (chain_pem, key_pem, chain_origin, key_origin) = match self {
            Identity::Files(cert, key) => (
                read_file(cert, "certificate chain")?,
                read_file(key, "private key")?,
                cert.display().to_string(),
                key.display().to_string(),
            ),
            Identity::Pem(cert, key) => (
                cert.clone(),
                key.clone(),
                "the certificate PEM".to_string(),
                "the private key PEM".to_string(),
            ),
        };
        let chain = parse_chain(&chain_pem, &chain_origin)?;
        let key = parse_key(&key_pem, &key_origin)?;
        Ok((chain, key))
    }

    /// Where the chain and the key come from, for error messages.
    pub(crate) fn origins(&self) -> (String, String) {
        match self {
            Identity::Files(cert, key) => (cert.display().to_string(), key.display().to_string()),
            Identity::Pem(..) => (
                "the certificate PEM".to_string(),
                "the private key PEM".to_string(),
            ),
        }
    }
}

/// Reads a file, naming it in the error.
pub(crate) fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, RustlsError> {
    std::fs::read(path)
        .map_err(|e| RustlsError::io(format!("reading {what} {}", path.display()), e))
}

/// Parses every PEM certificate in `pem` (leaf first). `origin` names it in errors.
pub(crate) fn parse_chain(
    pem: &[u8],
    origin: &str,
) -> Result<Vec<CertificateDer<'static>>, RustlsError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RustlsError::pem(format!("parsing certificates in {origin}"), e))?;
    if chain.is_empty() {
        return Err(RustlsError::msg(format!(
            "no PEM certificate found in {origin}"
        )));
    }
    Ok(chain)
}

/// Parses a PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC). `origin` names it in errors.
pub(crate) fn parse_key(pem: &[u8], origin: &str) -> Result<PrivateKeyDer<'static>, RustlsError> {
    PrivateKeyDer::from_pem_slice(pem)
        .map_err(|e| RustlsError::pem(format!("parsing the private key in {origin}"), e))
}

/// A root store holding every certificate of a PEM CA file.
pub(crate) fn load_roots(path: &Path) -> Result<rustls::RootCertStore, RustlsError> {
    roots_of(&load_ca_certs(path)?, path)
}

/// Every certificate of a PEM CA file, read once (so whatever else is derived from the
/// CAs sees the same ones as the root store made from them).
pub(crate) fn load_ca_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, RustlsError> {
    parse_chain(&read_file(path, "CA file")?, &path.display().to_string())
}

/// A root store of `certs`, read from `path` (named in errors).
pub(crate) fn roots_of(
    certs: &[CertificateDer<'static>],
    path: &Path,
) -> Result<rustls::RootCertStore, RustlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots.add(cert.clone()).map_err(|e| {
            RustlsError::rustls(
                format!("adding a CA certificate from {}", path.display()),
                e,
            )
        })?;
    }
    Ok(roots)
}

/// Checks ALPN protocol names (1..=255 bytes each) and returns them as rustls wants them.
pub(crate) fn alpn_list(protocols: &[String]) -> Result<Vec<Vec<u8>>, RustlsError> {
    protocols
        .iter()
        .map(|p| {
            if p.is_empty() || p.len() > 255 {
                Err(RustlsError::msg(format!(
                    "ALPN protocol name {p:?} must be 1..=255 bytes"
                )))
            } else {
                Ok(p.as_bytes().to_vec())
            }
        })
        .collect()
}
