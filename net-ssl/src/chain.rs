//! The per-certificate chain call the `openssl` crate wraps only for `Ssl`, not for
//! `SslContextBuilder`.

use foreign_types::ForeignTypeRef;
use openssl::error::ErrorStack;
use openssl::ssl::SslContextBuilder;
use openssl::x509::X509Ref;
use openssl_sys as ffi;

/// `SSL_CTX_add1_chain_cert`: appends `cert` to the chain of the certificate most
/// recently set on `ctx`, taking its own reference.
pub(crate) fn add_chain_cert(
    ctx: &mut SslContextBuilder,
    cert: &X509Ref,
) -> Result<(), ErrorStack> {
    // SAFETY: both pointers are live for the call; with larg = 1 (the "add1" form)
    // OpenSSL takes its own reference to the certificate and does not keep ours.
    let ok = unsafe {
        ffi::SSL_CTX_ctrl(
            ctx.as_ptr(),
            ffi::SSL_CTRL_CHAIN_CERT,
            1,
            cert.as_ptr().cast(),
        )
    };
    if ok == 1 {
        Ok(())
    } else {
        Err(ErrorStack::get())
    }
}
