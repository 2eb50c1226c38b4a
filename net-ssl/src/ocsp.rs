//! OCSP stapling: a DER OCSP response read from a file, checked against the
//! certificate it will be stapled for, and stapled for clients that ask for it
//! (`status_request`).
//!
//! A response is refused at build and reload time (so a reload keeps the previous
//! configuration) unless it is successful, covers the configured leaf (its CertId
//! matches the leaf's serial and the issuer from the chain), says `good`, and is not
//! out of date (`nextUpdate` passed, or `thisUpdate` in the future, beyond a few
//! minutes of clock skew). Stapling a response for another certificate, a revoked one
//! or a stale one would make strict clients (must-staple) refuse the server, or tell
//! them something false. The response's signature is the client's to verify: the
//! server does not hold the responder's trust anchors.

use std::path::Path;
use std::sync::Arc;

use openssl::hash::MessageDigest;
use openssl::ocsp::{OcspCertId, OcspCertStatus, OcspResponse, OcspResponseStatus};
use openssl::ssl::SslContextBuilder;

use crate::config::{read_file, Identity};
use crate::error::TlsError;

/// Clock skew tolerated between the responder and this host, in seconds.
const CLOCK_SKEW_SECS: u32 = 300;

/// The CertId hash algorithms responders use (SHA-1 is still the common default).
const CERT_ID_DIGESTS: [fn() -> MessageDigest; 4] = [
    MessageDigest::sha1,
    MessageDigest::sha256,
    MessageDigest::sha384,
    MessageDigest::sha512,
];

/// A checked response and the leaf it covers.
pub(crate) struct Staple {
    der: Vec<u8>,
    /// SHA-256 of the covered leaf: the response is stapled only when that leaf is
    /// the certificate chosen for the handshake (a context may hold an RSA and an EC
    /// leaf; a response covers one).
    leaf_digest: Vec<u8>,
}

/// Reads the DER response in `path` and checks it against the leaves of `identities`
/// (see the module documentation); the error names the file and the reason.
pub(crate) fn load_response<'a>(
    path: &Path,
    identities: impl IntoIterator<Item = &'a Identity>,
) -> Result<Staple, TlsError> {
    let file = path.display();
    let der = read_file(path, "OCSP response")?;
    let response = OcspResponse::from_der(&der).map_err(|e| {
        TlsError::stack(
            format!("parsing the OCSP response in {file} (DER expected)"),
            e,
        )
    })?;
    if response.status() != OcspResponseStatus::SUCCESSFUL {
        return Err(TlsError::msg(format!(
            "the OCSP response in {file} is not successful (status {})",
            response.status().as_raw()
        )));
    }
    let basic = response.basic().map_err(|e| {
        TlsError::stack(
            format!("the OCSP response in {file} has no basic response"),
            e,
        )
    })?;
    let mut not_covered = Vec::new();
    for identity in identities {
        let (leaf, issuer, chain) = identity.leaf_and_issuer()?;
        let Some(issuer) = issuer else {
            not_covered.push(format!(
                "{chain} holds no issuer of its leaf, so no CertId can be checked"
            ));
            continue;
        };
        let mut found = None;
        for digest in CERT_ID_DIGESTS {
            let id = OcspCertId::from_cert(digest(), &leaf, &issuer)
                .map_err(|e| TlsError::stack(format!("making the OCSP CertId of {chain}"), e))?;
            if let Some(status) = basic.find_status(&id) {
                found = Some((
                    status.status,
                    status.check_validity(CLOCK_SKEW_SECS, None),
                    status.this_update.to_string(),
                    status.next_update().map(|t| t.to_string()),
                ));
                break;
            }
        }
        let Some((status, validity, this_update, next_update)) = found else {
            not_covered.push(format!("not the leaf of {chain}"));
            continue;
        };
        if status != OcspCertStatus::GOOD {
            let said = match status {
                OcspCertStatus::REVOKED => "revoked",
                OcspCertStatus::UNKNOWN => "unknown",
                _ => "not good",
            };
            return Err(TlsError::msg(format!(
                "the OCSP response in {file} says the certificate in {chain} is {said}"
            )));
        }
        if let Err(e) = validity {
            let next = next_update.as_deref().unwrap_or("none");
            return Err(TlsError::stack(
                format!(
                    "the OCSP response in {file} is out of date (thisUpdate {this_update}, \
                     nextUpdate {next})"
                ),
                e,
            ));
        }
        let leaf_digest = leaf_digest(&leaf)?;
        return Ok(Staple { der, leaf_digest });
    }
    Err(TlsError::msg(format!(
        "the OCSP response in {file} does not cover the configured certificate ({})",
        not_covered.join("; ")
    )))
}

fn leaf_digest(leaf: &openssl::x509::X509Ref) -> Result<Vec<u8>, TlsError> {
    leaf.digest(MessageDigest::sha256())
        .map(|d| d.to_vec())
        .map_err(|e| TlsError::stack("digesting a certificate", e))
}

/// Staples the response on every handshake of `ctx` whose client asks for
/// certificate status and which is served the certificate the response covers.
pub(crate) fn staple(ctx: &mut SslContextBuilder, staple: Staple) -> Result<(), TlsError> {
    let staple = Arc::new(staple);
    ctx.set_status_callback(move |ssl| {
        // OpenSSL makes the certificate chosen for this handshake the current one
        // before it runs the status callback.
        let chosen = ssl
            .certificate()
            .and_then(|c| c.digest(MessageDigest::sha256()).ok());
        if chosen.as_deref() != Some(&staple.leaf_digest[..]) {
            return Ok(false);
        }
        ssl.set_ocsp_status(&staple.der)?;
        Ok(true)
    })
    .map_err(|e| TlsError::stack("installing the OCSP stapling callback", e))
}
