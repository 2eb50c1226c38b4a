//! OCSP stapling: a DER OCSP response read from a file, checked like net-ssl checks it
//! (well-formed and "successful"), and stapled by rustls for clients that ask.

use std::path::Path;

use crate::der_name::element;
use crate::error::RustlsError;
use crate::pem::read_file;

/// `OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, responseBytes [0] ... }`.
const SEQUENCE: u8 = 0x30;
const ENUMERATED: u8 = 0x0a;
const RESPONSE_BYTES: u8 = 0xa0;

/// Reads the DER response in `path` and checks it is a well-formed, successful one,
/// so a garbage or truncated file is refused at build or reload time, not sent.
pub(crate) fn load_response(path: &Path) -> Result<Vec<u8>, RustlsError> {
    let der = read_file(path, "OCSP response")?;
    let bad = |why: &str| {
        RustlsError::msg(format!(
            "parsing the OCSP response in {} (DER expected): {why}",
            path.display()
        ))
    };
    let (SEQUENCE, body, rest) = element(&der).ok_or_else(|| bad("truncated"))? else {
        return Err(bad("not a SEQUENCE"));
    };
    if !rest.is_empty() {
        return Err(bad("bytes after the response"));
    }
    let (ENUMERATED, status, body) = element(body).ok_or_else(|| bad("no status"))? else {
        return Err(bad("no status"));
    };
    if status != [0] {
        return Err(RustlsError::msg(format!(
            "the OCSP response in {} is not successful (status {})",
            path.display(),
            status.first().copied().unwrap_or(255)
        )));
    }
    match element(body) {
        Some((RESPONSE_BYTES, _, [])) => Ok(der),
        _ => Err(bad("no response bytes")),
    }
}
