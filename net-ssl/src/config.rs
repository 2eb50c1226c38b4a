//! Settings shared by [`crate::TlsAcceptor`] and [`crate::TlsConnector`]: protocol
//! versions, the cipher profile, and loading certificates and keys.

use std::path::Path;
use std::time::Duration;

use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslContextBuilder, SslMode, SslOptions, SslVersion};
use openssl::x509::X509;

use crate::error::TlsError;

/// How long a handshake may take unless configured otherwise.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS 1.2 cipher suites: Mozilla's "intermediate" profile, ECDHE with AEAD only.
/// (TLS 1.3 suites are OpenSSL's defaults, all AEAD.)
pub const TLS12_CIPHERS: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:\
ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/// Key exchange groups, in preference order.
pub const GROUPS: &str = "X25519:P-256";

/// A TLS protocol version Muon allows (older versions are never enabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl TlsVersion {
    pub(crate) fn to_openssl(self) -> SslVersion {
        match self {
            TlsVersion::Tls12 => SslVersion::TLS1_2,
            TlsVersion::Tls13 => SslVersion::TLS1_3,
        }
    }
}

/// The version range plus everything both sides share.
pub(crate) fn apply_defaults(
    ctx: &mut SslContextBuilder,
    min: TlsVersion,
    max: TlsVersion,
) -> Result<(), TlsError> {
    if min > max {
        return Err(TlsError::msg(format!(
            "minimum protocol {min:?} is newer than maximum {max:?}"
        )));
    }
    ctx.set_min_proto_version(Some(min.to_openssl()))
        .map_err(|e| TlsError::stack("setting the minimum protocol version", e))?;
    ctx.set_max_proto_version(Some(max.to_openssl()))
        .map_err(|e| TlsError::stack("setting the maximum protocol version", e))?;
    ctx.set_cipher_list(TLS12_CIPHERS)
        .map_err(|e| TlsError::stack("setting the TLS 1.2 cipher list", e))?;
    ctx.set_groups_list(GROUPS)
        .map_err(|e| TlsError::stack("setting the key exchange groups", e))?;
    ctx.set_options(SslOptions::NO_RENEGOTIATION | SslOptions::NO_COMPRESSION);
    // Session tickets stay on, even if a system-wide OpenSSL configuration disabled them.
    ctx.clear_options(SslOptions::NO_TICKET);
    ctx.set_mode(
        SslMode::RELEASE_BUFFERS
            | SslMode::ENABLE_PARTIAL_WRITE
            | SslMode::ACCEPT_MOVING_WRITE_BUFFER,
    );
    Ok(())
}

/// Reads a file, naming it in the error.
pub(crate) fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::io(format!("reading {what} {}", path.display()), e))
}

/// Parses a PEM certificate chain (leaf first). `origin` names it in errors.
pub(crate) fn parse_chain(pem: &[u8], origin: &str) -> Result<Vec<X509>, TlsError> {
    let chain = X509::stack_from_pem(pem)
        .map_err(|e| TlsError::stack(format!("parsing certificates in {origin}"), e))?;
    if chain.is_empty() {
        return Err(TlsError::msg(format!(
            "no PEM certificate found in {origin}"
        )));
    }
    Ok(chain)
}

/// Parses a PEM private key (PKCS#8, or traditional RSA/EC). `origin` names it in errors.
pub(crate) fn parse_key(pem: &[u8], origin: &str) -> Result<PKey<Private>, TlsError> {
    PKey::private_key_from_pem(pem)
        .map_err(|e| TlsError::stack(format!("parsing the private key in {origin}"), e))
}

/// A certificate chain and its private key, as files or PEM bytes.
#[derive(Clone, Debug)]
pub(crate) enum Identity {
    /// Paths to the chain (leaf first) and the key.
    Files(std::path::PathBuf, std::path::PathBuf),
    /// PEM bytes of the chain and the key.
    Pem(Vec<u8>, Vec<u8>),
}

impl Identity {
    /// The leaf certificate (the first of the chain).
    pub(crate) fn leaf(&self) -> Result<X509, TlsError> {
        let (pem, origin) = match self {
            Identity::Files(cert, _) => (
                read_file(cert, "certificate chain")?,
                cert.display().to_string(),
            ),
            Identity::Pem(cert, _) => (cert.clone(), "the certificate PEM".to_string()),
        };
        let mut chain = parse_chain(&pem, &origin)?;
        Ok(chain.swap_remove(0))
    }

    /// The leaf, the certificate in the chain that issued it (if the chain holds it),
    /// and where the chain came from (for error messages).
    pub(crate) fn leaf_and_issuer(&self) -> Result<(X509, Option<X509>, String), TlsError> {
        let (pem, origin) = match self {
            Identity::Files(cert, _) => (
                read_file(cert, "certificate chain")?,
                cert.display().to_string(),
            ),
            Identity::Pem(cert, _) => (cert.clone(), "the certificate PEM".to_string()),
        };
        let mut chain = parse_chain(&pem, &origin)?;
        let leaf = chain.remove(0);
        let issuer = chain
            .into_iter()
            .find(|c| c.issued(&leaf) == openssl::x509::X509VerifyResult::OK);
        Ok((leaf, issuer, origin))
    }

    /// Installs the chain and key on `ctx` and checks that they belong together.
    /// Another identity applied to the same context with another key type (RSA next to
    /// EC) is kept beside it; OpenSSL picks by what the client supports.
    pub(crate) fn apply(&self, ctx: &mut SslContextBuilder) -> Result<(), TlsError> {
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
        let mut chain = parse_chain(&chain_pem, &chain_origin)?.into_iter();
        let key = parse_key(&key_pem, &key_origin)?;
        let leaf = chain
            .next()
            .ok_or_else(|| TlsError::msg(format!("no certificate in {chain_origin}")))?;
        let matches = leaf
            .public_key()
            .map(|public| public.public_eq(&key))
            .unwrap_or(false);
        if !matches {
            return Err(TlsError::msg(format!(
                "the private key in {key_origin} does not match the certificate in {chain_origin}"
            )));
        }
        ctx.set_certificate(&leaf)
            .map_err(|e| TlsError::stack(format!("using the certificate in {chain_origin}"), e))?;
        for extra in chain {
            // The chain of *this* certificate (not the context-wide extra chain), so an
            // RSA and an EC certificate on one context each send their own chain.
            crate::chain::add_chain_cert(ctx, &extra).map_err(|e| {
                TlsError::stack(format!("adding a chain certificate from {chain_origin}"), e)
            })?;
        }
        ctx.set_private_key(&key)
            .map_err(|e| TlsError::stack(format!("using the private key in {key_origin}"), e))?;
        ctx.check_private_key().map_err(|e| {
            TlsError::stack(
                format!(
                    "the private key in {key_origin} does not match the certificate in {chain_origin}"
                ),
                e,
            )
        })
    }
}

/// Parses a PEM bundle of trusted CA certificates from a file.
pub(crate) fn load_ca_file(path: &Path) -> Result<Vec<X509>, TlsError> {
    let pem = read_file(path, "CA file")?;
    parse_chain(&pem, &path.display().to_string())
}

/// Encodes protocol names in ALPN wire format (length-prefixed).
pub(crate) fn alpn_wire(protocols: &[String]) -> Result<Vec<u8>, TlsError> {
    let mut wire = Vec::new();
    for p in protocols {
        let len = u8::try_from(p.len())
            .ok()
            .filter(|&l| l > 0)
            .ok_or_else(|| {
                TlsError::msg(format!("ALPN protocol name {p:?} must be 1..=255 bytes"))
            })?;
        wire.push(len);
        wire.extend_from_slice(p.as_bytes());
    }
    Ok(wire)
}
