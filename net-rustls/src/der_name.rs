//! The subject of a DER certificate as one line (`/O=Muon Development/CN=localhost`),
//! the form OpenSSL's `X509_NAME_oneline` gives and net-ssl reports in
//! [`net::TlsInfo::peer_subject`].
//!
//! rustls hands over the peer certificate as DER and parses no names, so this walks the
//! few DER structures on the way to the subject. Anything unexpected gives `None`: the
//! certificate was already verified (or its absence accepted) by rustls; this is only
//! for display.

/// One DER element: its tag, its content, and the bytes after it.
pub(crate) fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
/// `[0] EXPLICIT Version` at the start of a v2/v3 `TBSCertificate`.
const VERSION: u8 = 0xa0;

/// The subject of a DER X.509 certificate, one line.
pub(crate) fn subject_oneline(cert: &[u8]) -> Option<String> {
    let (SEQUENCE, cert, _) = element(cert)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = element(cert)? else {
        return None;
    };
    let mut rest = tbs;
    let (tag, _, after) = element(rest)?;
    if tag == VERSION {
        rest = after;
    }
    // serialNumber, signature, issuer, validity, then the subject.
    for _ in 0..4 {
        rest = element(rest)?.2;
    }
    let (SEQUENCE, name, _) = element(rest)? else {
        return None;
    };
    name_oneline(name)
}

/// A `Name` (a sequence of RDN sets) as `/K=V/K=V`.
fn name_oneline(mut name: &[u8]) -> Option<String> {
    let mut out = String::new();
    while !name.is_empty() {
        let (SET, mut rdn, rest) = element(name)? else {
            return None;
        };
        name = rest;
        while !rdn.is_empty() {
            let (SEQUENCE, atv, rest) = element(rdn)? else {
                return None;
            };
            rdn = rest;
            let (OID, oid, value) = element(atv)? else {
                return None;
            };
            let (tag, value, _) = element(value)?;
            out.push('/');
            out.push_str(&short_name(oid));
            out.push('=');
            out.push_str(&string_value(tag, value));
        }
    }
    Some(out)
}

/// OpenSSL's short name for an attribute type, or the dotted OID.
fn short_name(oid: &[u8]) -> String {
    let known: &[(&[u8], &str)] = &[
        (&[0x55, 0x04, 0x03], "CN"),
        (&[0x55, 0x04, 0x05], "serialNumber"),
        (&[0x55, 0x04, 0x06], "C"),
        (&[0x55, 0x04, 0x07], "L"),
        (&[0x55, 0x04, 0x08], "ST"),
        (&[0x55, 0x04, 0x09], "street"),
        (&[0x55, 0x04, 0x0a], "O"),
        (&[0x55, 0x04, 0x0b], "OU"),
        (&[0x55, 0x04, 0x0c], "title"),
        (&[0x55, 0x04, 0x2a], "GN"),
        (&[0x55, 0x04, 0x04], "SN"),
        (
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
            "emailAddress",
        ),
        (
            &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19],
            "DC",
        ),
        (
            &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01],
            "UID",
        ),
    ];
    if let Some((_, name)) = known.iter().find(|(k, _)| *k == oid) {
        return (*name).to_string();
    }
    dotted(oid)
}

/// An OID in dotted form, e.g. `1.3.6.1.4.1.311`.
fn dotted(oid: &[u8]) -> String {
    let mut arcs = Vec::new();
    let mut acc: u64 = 0;
    for &b in oid {
        acc = (acc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (acc / 40).min(2);
                arcs.push(first);
                arcs.push(acc - first * 40);
            } else {
                arcs.push(acc);
            }
            acc = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// A directory string's text (UTF8, Printable, IA5, Teletex as Latin-1, BMP).
fn string_value(tag: u8, value: &[u8]) -> String {
    match tag {
        0x0c | 0x13 | 0x16 | 0x12 | 0x1a => match std::str::from_utf8(value) {
            Ok(s) => s.to_string(),
            Err(_) => "<binary>".to_string(),
        },
        0x14 => value.iter().map(|&b| char::from(b)).collect(),
        0x1e if value.len() % 2 == 0 => {
            let units: Vec<u16> = value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).unwrap_or_else(|_| "<binary>".to_string())
        }
        _ => "<binary>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(path: &str) -> Vec<u8> {
        use rustls::pki_types::pem::PemObject;
        let path = format!("{}/../certs/{path}", env!("CARGO_MANIFEST_DIR"));
        rustls::pki_types::CertificateDer::from_pem_file(&path)
            .expect("certificate")
            .to_vec()
    }

    #[test]
    fn subject_of_the_development_certificates() {
        assert_eq!(
            subject_oneline(&der("server.crt")).as_deref(),
            Some("/O=Muon Development/CN=localhost")
        );
        assert_eq!(
            subject_oneline(&der("ca.crt")).as_deref(),
            Some("/O=Muon Development/CN=Muon Development CA")
        );
    }

    #[test]
    fn truncated_input_gives_none() {
        let cert = der("server.crt");
        for cut in [0, 1, 2, 10, 100, 200] {
            assert_eq!(subject_oneline(&cert[..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn dotted_oid() {
        assert_eq!(
            dotted(&[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37]),
            "1.3.6.1.4.1.311"
        );
    }
}
