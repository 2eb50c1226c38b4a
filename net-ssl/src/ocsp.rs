//! OCSP stapling: a DER OCSP response read from a file, checked, and stapled for
//! clients that ask for it (`status_request`).

use std::path::Path;
use std::sync::Arc;

use openssl::ocsp::{OcspResponse, OcspResponseStatus};
use openssl::ssl::SslContextBuilder;

use crate::config::read_file;
use crate::error::TlsError;

/// Reads the DER response in `path` and checks it is a well-formed, successful one
/// (so a garbage or truncated file is refused at build or reload time, not sent).
pub(crate) fn load_response(path: &Path) -> Result<Vec<u8>, TlsError> {
    let der = read_file(path, "OCSP response")?;
    let response = OcspResponse::from_der(&der).map_err(|e| {
        TlsError::stack(
            format!(
                "parsing the OCSP response in {} (DER expected)",
                path.display()
            ),
            e,
        )
    })?;
    if response.status() != OcspResponseStatus::SUCCESSFUL {
        return Err(TlsError::msg(format!(
            "the OCSP response in {} is not successful (status {})",
            path.display(),
            response.status().as_raw()
        )));
    }
    Ok(der)
}

/// Staples `der` on every handshake of `ctx` whose client asks for certificate status.
pub(crate) fn staple(ctx: &mut SslContextBuilder, der: Vec<u8>) -> Result<(), TlsError> {
    let der = Arc::new(der);
    ctx.set_status_callback(move |ssl| {
        ssl.set_ocsp_status(&der)?;
        Ok(true)
    })
    .map_err(|e| TlsError::stack("installing the OCSP stapling callback", e))
}
