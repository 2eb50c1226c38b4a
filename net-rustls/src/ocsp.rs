//! OCSP stapling: a DER OCSP response read from a file, checked against the
//! certificates of the identity it will be stapled for (as net-ssl checks it with
//! OpenSSL), and stapled by rustls for clients that ask (`status_request`).
//!
//! A response is refused at build and reload time (so a reload keeps the previous
//! configuration) unless it is successful, covers one of the identity's leaves (its
//! CertId matches the leaf's serial and the hashes of the issuer's name and key, the
//! issuer being found in the leaf's chain), says `good`, and is not out of date
//! (`nextUpdate` passed, or `thisUpdate` in the future, beyond a few minutes of clock
//! skew). Stapling a response for another certificate, a revoked one or a stale one
//! would make strict clients (must-staple) refuse the server, or tell them something
//! false. The response's signature is the client's to verify, as with net-ssl: the
//! server does not hold the responder's trust anchors.
//!
//! The DER is parsed by RustCrypto's `x509-ocsp` and `x509-cert`; the CertId hashes are
//! aws-lc-rs digests.

use std::path::Path;
use std::time::Duration;

use aws_lc_rs::digest;
use der::asn1::ObjectIdentifier;
use der::oid::AssociatedOid;
use der::{Decode, Encode};
use rustls::pki_types::{CertificateDer, UnixTime};
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspResponse, OcspResponseStatus,
};

use crate::error::RustlsError;
use crate::pem::read_file;

/// Clock skew tolerated between the responder and this host (net-ssl's too).
const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// The CertId hash algorithms responders use (SHA-1 is still the common default).
const CERT_ID_DIGESTS: [(&str, &digest::Algorithm); 4] = [
    ("1.3.14.3.2.26", &digest::SHA1_FOR_LEGACY_USE_ONLY),
    ("2.16.840.1.101.3.4.2.1", &digest::SHA256),
    ("2.16.840.1.101.3.4.2.2", &digest::SHA384),
    ("2.16.840.1.101.3.4.2.3", &digest::SHA512),
];

/// One certificate an OCSP response may cover: its chain (leaf first) and where the
/// chain came from (for error messages).
pub(crate) struct Candidate<'a> {
    pub(crate) chain: &'a [CertificateDer<'static>],
    pub(crate) origin: &'a str,
}

/// Reads the DER response in `path` and checks it against `candidates` at time `now`
/// (see the module documentation). Returns the response and the index of the candidate
/// it covers; the error names the file and the reason.
pub(crate) fn load_response(
    path: &Path,
    candidates: &[Candidate<'_>],
    now: UnixTime,
) -> Result<(Vec<u8>, usize), RustlsError> {
    let der = read_file(path, "OCSP response")?;
    let file = path.display();
    let index = check(&der, candidates, now).map_err(|refusal| match refusal {
        Refusal::Parse(why) => RustlsError::msg(format!(
            "parsing the OCSP response in {file} (DER expected): {why}"
        )),
        Refusal::Refused(why) => RustlsError::msg(format!("the OCSP response in {file} {why}")),
    })?;
    Ok((der, index))
}

/// Why a response is refused.
#[derive(Debug)]
enum Refusal {
    /// It is not DER of an OCSP response.
    Parse(String),
    /// It parses but does not fit (completes "the OCSP response in FILE ...").
    Refused(String),
}

impl From<String> for Refusal {
    fn from(why: String) -> Refusal {
        Refusal::Refused(why)
    }
}

impl From<&str> for Refusal {
    fn from(why: &str) -> Refusal {
        Refusal::Refused(why.to_string())
    }
}

/// The checks of [`load_response`]; the error completes "the OCSP response in FILE ...".
fn check(der: &[u8], candidates: &[Candidate<'_>], now: UnixTime) -> Result<usize, Refusal> {
    let response = OcspResponse::from_der(der).map_err(|e| Refusal::Parse(e.to_string()))?;
    if response.response_status != OcspResponseStatus::Successful {
        return Err(format!(
            "is not successful (status {})",
            response.response_status as u32
        )
        .into());
    }
    let bytes = response
        .response_bytes
        .ok_or("has no response bytes (a successful response must have them)")?;
    if bytes.response_type != BasicOcspResponse::OID {
        return Err(format!(
            "is not a basic OCSP response (type {})",
            bytes.response_type
        )
        .into());
    }
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes())
        .map_err(|e| Refusal::Parse(format!("the basic response: {e}")))?;
    let mut not_covered = Vec::new();
    for (index, candidate) in candidates.iter().enumerate() {
        let (leaf, issuer) = match leaf_and_issuer(candidate.chain) {
            Ok(pair) => pair,
            Err(why) => {
                not_covered.push(format!("{}: {why}", candidate.origin));
                continue;
            }
        };
        let found = basic
            .tbs_response_data
            .responses
            .iter()
            .find(|single| matches(&single.cert_id, &leaf, &issuer));
        let Some(single) = found else {
            not_covered.push(format!("not the leaf of {}", candidate.origin));
            continue;
        };
        let said = match single.cert_status {
            CertStatus::Good(_) => None,
            CertStatus::Revoked(_) => Some("revoked"),
            CertStatus::Unknown(_) => Some("unknown"),
        };
        if let Some(said) = said {
            return Err(format!("says the certificate in {} is {said}", candidate.origin).into());
        }
        current(single.this_update, single.next_update, now)?;
        return Ok(index);
    }
    Err(format!(
        "does not cover the configured certificate ({})",
        not_covered.join("; ")
    )
    .into())
}

/// The leaf of `chain` and the certificate of the chain that issued it (found by name).
fn leaf_and_issuer(
    chain: &[CertificateDer<'static>],
) -> Result<(Certificate, Certificate), String> {
    let parse = |c: &CertificateDer<'_>| {
        Certificate::from_der(c.as_ref()).map_err(|e| format!("a certificate does not parse: {e}"))
    };
    let (leaf, rest) = chain.split_first().ok_or("no certificate")?;
    let leaf = parse(leaf)?;
    for cert in rest {
        let cert = parse(cert)?;
        if cert.tbs_certificate.subject == leaf.tbs_certificate.issuer {
            return Ok((leaf, cert));
        }
    }
    Err("the chain holds no issuer of its leaf, so no CertId can be checked".to_string())
}

/// Whether `id` names `leaf` as issued by `issuer`, under the id's own hash algorithm.
fn matches(id: &CertId, leaf: &Certificate, issuer: &Certificate) -> bool {
    let Some((_, algorithm)) = CERT_ID_DIGESTS
        .iter()
        .find(|(oid, _)| ObjectIdentifier::new(oid).is_ok_and(|oid| oid == id.hash_algorithm.oid))
    else {
        return false;
    };
    let Ok(name) = issuer.tbs_certificate.subject.to_der() else {
        return false;
    };
    let key = issuer
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    id.serial_number == leaf.tbs_certificate.serial_number
        && id.issuer_name_hash.as_bytes() == digest::digest(algorithm, &name).as_ref()
        && id.issuer_key_hash.as_bytes() == digest::digest(algorithm, key).as_ref()
}

/// Checks `thisUpdate <= now + skew` and `now - skew <= nextUpdate`, as OpenSSL's
/// `OCSP_check_validity` does for net-ssl.
fn current(
    this_update: OcspGeneralizedTime,
    next_update: Option<OcspGeneralizedTime>,
    now: UnixTime,
) -> Result<(), String> {
    let now = Duration::from_secs(now.as_secs());
    let this = this_update.0.to_unix_duration();
    let next = next_update.map(|t| t.0.to_unix_duration());
    let stale = match next {
        Some(next) => next + CLOCK_SKEW < now || next < this,
        None => false,
    };
    if this > now + CLOCK_SKEW || stale {
        let show = |t: OcspGeneralizedTime| t.0.to_date_time().to_string();
        return Err(format!(
            "is out of date (thisUpdate {}, nextUpdate {}, now {})",
            show(this_update),
            next_update.map(show).unwrap_or_else(|| "none".to_string()),
            der::DateTime::from_unix_duration(now)
                .map(|t| t.to_string())
                .unwrap_or_else(|_| format!("{} s after 1970", now.as_secs()))
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> OcspGeneralizedTime {
        OcspGeneralizedTime(
            der::asn1::GeneralizedTime::from_unix_duration(Duration::from_secs(secs)).unwrap(),
        )
    }

    #[test]
    fn validity_allows_the_skew_and_no_more() {
        let now = UnixTime::since_unix_epoch(Duration::from_secs(1_000_000));
        assert!(current(at(999_000), Some(at(1_001_000)), now).is_ok());
        assert!(current(at(999_000), None, now).is_ok());
        assert!(current(at(1_000_300), None, now).is_ok(), "skew");
        assert!(current(at(1_000_301), None, now).is_err(), "future");
        assert!(current(at(900_000), Some(at(999_700)), now).is_ok(), "skew");
        assert!(
            current(at(900_000), Some(at(999_699)), now).is_err(),
            "passed"
        );
        assert!(
            current(at(999_000), Some(at(998_000)), now).is_err(),
            "inverted"
        );
        let (this, next) = (at(1_000_200), at(1_000_100));
        assert!(
            current(this, Some(next), now).is_err(),
            "inverted, both near"
        );
        assert!(
            current(next, Some(next), now).is_ok(),
            "nextUpdate = thisUpdate"
        );
    }

    /// The DER certificates of `certs/NAME` (a PEM file of the repository).
    fn chain(name: &str) -> Vec<CertificateDer<'static>> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../certs")
            .join(name);
        let pem = std::fs::read(path).unwrap();
        crate::pem::parse_chain(&pem, name).unwrap()
    }

    fn octets(bytes: &[u8]) -> der::asn1::OctetString {
        der::asn1::OctetString::new(bytes.to_vec()).unwrap()
    }

    #[test]
    fn a_cert_id_matches_by_serial_issuer_name_and_key_under_its_algorithm() {
        let (leaf, issuer) = leaf_and_issuer(&chain("chain.crt")).unwrap();
        let name = issuer.tbs_certificate.subject.to_der().unwrap();
        let key = issuer
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes()
            .to_vec();
        let id = |oid: &str, algorithm: &'static digest::Algorithm| CertId {
            hash_algorithm: x509_cert::spki::AlgorithmIdentifierOwned {
                oid: ObjectIdentifier::new(oid).unwrap(),
                parameters: None,
            },
            issuer_name_hash: octets(digest::digest(algorithm, &name).as_ref()),
            issuer_key_hash: octets(digest::digest(algorithm, &key).as_ref()),
            serial_number: leaf.tbs_certificate.serial_number.clone(),
        };
        for (oid, algorithm) in CERT_ID_DIGESTS {
            assert!(matches(&id(oid, algorithm), &leaf, &issuer), "{oid}");
        }
        let sha1 = || id(CERT_ID_DIGESTS[0].0, CERT_ID_DIGESTS[0].1);
        let mut other = sha1();
        other.issuer_name_hash = octets(&[0; 20]);
        assert!(!matches(&other, &leaf, &issuer), "another issuer name");
        let mut other = sha1();
        other.issuer_key_hash = octets(&[0; 20]);
        assert!(!matches(&other, &leaf, &issuer), "another issuer key");
        let mut other = sha1();
        other.serial_number = issuer.tbs_certificate.serial_number.clone();
        assert!(!matches(&other, &leaf, &issuer), "another serial");
        // SHA-256 hashes under the SHA-1 identifier, and an unknown algorithm.
        let mut other = id(CERT_ID_DIGESTS[1].0, CERT_ID_DIGESTS[1].1);
        other.hash_algorithm.oid = sha1().hash_algorithm.oid;
        assert!(
            !matches(&other, &leaf, &issuer),
            "hashes of another algorithm"
        );
        let mut other = sha1();
        other.hash_algorithm.oid = ObjectIdentifier::new("1.2.840.113549.2.5").unwrap();
        assert!(!matches(&other, &leaf, &issuer), "MD5 is not taken");
    }

    #[test]
    fn the_issuer_is_found_in_the_chain_by_name() {
        assert!(leaf_and_issuer(&chain("chain.crt")).is_ok());
        // server.crt's issuer (ca.crt) is not in its file.
        let err = leaf_and_issuer(&chain("server.crt")).unwrap_err();
        assert!(err.contains("no issuer"), "{err}");
        // A chain whose second certificate did not issue the leaf.
        let mut wrong = chain("server.crt");
        wrong.extend(chain("intermediate-ca.crt"));
        assert!(leaf_and_issuer(&wrong).is_err());
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        let err = check(b"not der", &[], UnixTime::now()).unwrap_err();
        assert!(matches!(err, Refusal::Parse(_)), "{err:?}");
        // OCSPResponse { responseStatus tryLater(3) }
        let err = check(&[0x30, 0x03, 0x0a, 0x01, 0x03], &[], UnixTime::now()).unwrap_err();
        assert!(
            matches!(&err, Refusal::Refused(why) if why.contains("not successful (status 3)")),
            "{err:?}"
        );
        // A successful response of another type than the basic one.
        let other = OcspResponse {
            response_status: OcspResponseStatus::Successful,
            response_bytes: Some(x509_ocsp::ResponseBytes {
                response_type: ObjectIdentifier::new("1.2.3.4").unwrap(),
                response: der::asn1::OctetString::new(vec![0x05, 0x00]).unwrap(),
            }),
        };
        let err = check(&other.to_der().unwrap(), &[], UnixTime::now()).unwrap_err();
        assert!(
            matches!(&err, Refusal::Refused(why) if why.contains("not a basic OCSP response")),
            "{err:?}"
        );
    }
}
