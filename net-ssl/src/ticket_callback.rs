//! The session-ticket key callback: the one OpenSSL call the `openssl` crate does not
//! wrap (`SSL_CTX_set_tlsext_ticket_key_evp_cb`, OpenSSL 3.0+), over `openssl-sys`.
//!
//! The unsafe surface is this file only, and narrow: [`install`] stores an
//! `Arc<TicketKeyStore>` in the context's ex-data (through the `openssl` crate's safe
//! API, which frees it with the context) and registers [`ticket_key_cb`]. The callback
//! does three kinds of raw work, each against buffers whose sizes OpenSSL documents:
//! copy the 16-byte key name, fill the 16-byte IV, and initialise the cipher and MAC
//! contexts OpenSSL hands it with a key that lives in the store while the read lock is
//! held (OpenSSL copies key material during initialisation).
//!
//! Return values (OpenSSL's contract): encrypt: 1 done, -1 error. Decrypt: 0 no such
//! key (the ticket is ignored, a full handshake follows), 1 decrypted with the current
//! key, 2 decrypted with an older key (OpenSSL then issues a fresh ticket), -1 error.
//! A panic never crosses into C: it becomes -1.

use std::ffi::{c_char, c_int, c_uchar, c_void};
use std::sync::{Arc, OnceLock};

use foreign_types::ForeignTypeRef;
use openssl::ex_data::Index;
use openssl::ssl::{SslContext, SslContextBuilder, SslRef};
use openssl_sys as ffi;

use crate::error::TlsError;
use crate::ticket_keys::{TicketCipher, TicketKey, TicketKeyStore};

/// OpenSSL's `TLSEXT_KEYNAME_LENGTH`: the key name buffer's size.
const KEY_NAME_LEN: usize = 16;
/// The IV length of AES-CBC (OpenSSL's IV buffer is `EVP_MAX_IV_LENGTH`, 16, or more).
const IV_LEN: usize = 16;

type TicketKeyEvpCb = unsafe extern "C" fn(
    ssl: *mut ffi::SSL,
    key_name: *mut c_uchar,
    iv: *mut c_uchar,
    cipher_ctx: *mut ffi::EVP_CIPHER_CTX,
    mac_ctx: *mut ffi::EVP_MAC_CTX,
    enc: c_int,
) -> c_int;

extern "C" {
    // Declared in <openssl/ssl.h> since OpenSSL 3.0; openssl-sys does not declare it.
    fn SSL_CTX_set_tlsext_ticket_key_evp_cb(
        ctx: *mut ffi::SSL_CTX,
        cb: Option<TicketKeyEvpCb>,
    ) -> c_int;
    // Declared in <openssl/params.h> since OpenSSL 3.0; openssl-sys does not declare it.
    fn OSSL_PARAM_construct_utf8_string(
        key: *const c_char,
        buf: *mut c_char,
        bsize: usize,
    ) -> ffi::OSSL_PARAM;
}

/// The ex-data slot of every server context that holds its ticket key store.
fn store_index() -> Result<Index<SslContext, Arc<TicketKeyStore>>, TlsError> {
    static INDEX: OnceLock<Index<SslContext, Arc<TicketKeyStore>>> = OnceLock::new();
    if let Some(index) = INDEX.get() {
        return Ok(*index);
    }
    let index = SslContext::new_ex_index()
        .map_err(|e| TlsError::stack("allocating the ticket key ex-data index", e))?;
    // A racing thread may have set another index first; either is valid, use the winner.
    Ok(*INDEX.get_or_init(|| index))
}

/// Makes `ctx` encrypt and decrypt session tickets with the keys in `store`.
pub(crate) fn install(
    ctx: &mut SslContextBuilder,
    store: Arc<TicketKeyStore>,
) -> Result<(), TlsError> {
    let _ = openssl::error::ErrorStack::get(); // start from a clean error queue
    ctx.set_ex_data(store_index()?, store);
    // SAFETY: `ctx.as_ptr()` is a live SSL_CTX owned by the builder; the callback is a
    // plain function with the exact C signature OpenSSL expects, and it reads the store
    // from the context's own ex-data, which lives as long as the context.
    let ok = unsafe { SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx.as_ptr(), Some(ticket_key_cb)) };
    if ok != 1 {
        return Err(TlsError::stack(
            "installing the session ticket key callback",
            openssl::error::ErrorStack::get(),
        ));
    }
    Ok(())
}

/// Called by OpenSSL on a worker thread for each ticket issued (`enc == 1`) or
/// presented (`enc == 0`).
unsafe extern "C" fn ticket_key_cb(
    ssl: *mut ffi::SSL,
    key_name: *mut c_uchar,
    iv: *mut c_uchar,
    cipher_ctx: *mut ffi::EVP_CIPHER_CTX,
    mac_ctx: *mut ffi::EVP_MAC_CTX,
    enc: c_int,
) -> c_int {
    std::panic::catch_unwind(|| {
        // SAFETY: OpenSSL calls us with the live SSL of the handshake in progress.
        let ssl = unsafe { SslRef::from_ptr(ssl) };
        let Ok(index) = store_index() else {
            return -1;
        };
        // The SNI callback may have switched the context; every context Muon builds
        // carries the same store, so whichever OpenSSL consults, the keys are the same.
        let Some(store) = ssl.ssl_context().ex_data(index) else {
            return -1;
        };
        if enc == 1 {
            store
                .with_encrypt_key(|key| {
                    // SAFETY: OpenSSL hands a writable key-name buffer of
                    // TLSEXT_KEYNAME_LENGTH (16) bytes and an IV buffer of
                    // EVP_MAX_IV_LENGTH (16) bytes.
                    let (name, iv) = unsafe {
                        (
                            std::slice::from_raw_parts_mut(key_name, KEY_NAME_LEN),
                            std::slice::from_raw_parts_mut(iv, IV_LEN),
                        )
                    };
                    name.copy_from_slice(&key.name);
                    if openssl::rand::rand_bytes(iv).is_err() {
                        return -1;
                    }
                    // SAFETY: the contexts are OpenSSL's own, valid during the call.
                    match unsafe { init_contexts(key, iv, cipher_ctx, mac_ctx, 1) } {
                        true => 1,
                        false => -1,
                    }
                })
                .unwrap_or(-1)
        } else {
            // SAFETY: when decrypting, OpenSSL passes pointers into the ticket: the key
            // name, then the IV; tls_decrypt_ticket only calls us once the ticket holds
            // at least TLSEXT_KEYNAME_LENGTH + EVP_MAX_IV_LENGTH (16 + 16) bytes.
            let (name, iv) = unsafe {
                (
                    std::slice::from_raw_parts(key_name, KEY_NAME_LEN),
                    std::slice::from_raw_parts(iv, IV_LEN),
                )
            };
            store
                .with_decrypt_key(name, |key, encrypting| {
                    // SAFETY: as above.
                    match unsafe { init_contexts(key, iv, cipher_ctx, mac_ctx, 0) } {
                        true if encrypting => 1,
                        true => 2, // an older key: OpenSSL renews the ticket
                        false => -1,
                    }
                })
                .unwrap_or(0)
        }
    })
    .unwrap_or(-1)
}

/// Initialises OpenSSL's cipher context (AES-CBC) and MAC context (HMAC-SHA256) with
/// `key`. Returns false if OpenSSL refused.
///
/// # Safety
/// `cipher_ctx` and `mac_ctx` must be the live contexts OpenSSL passed to the ticket
/// callback, and `iv` must hold at least the cipher's IV length (16) bytes.
unsafe fn init_contexts(
    key: &TicketKey,
    iv: &[u8],
    cipher_ctx: *mut ffi::EVP_CIPHER_CTX,
    mac_ctx: *mut ffi::EVP_MAC_CTX,
    enc: c_int,
) -> bool {
    let cipher = match key.cipher {
        // SAFETY: these return pointers to static cipher tables.
        TicketCipher::Aes128Cbc => unsafe { ffi::EVP_aes_128_cbc() },
        TicketCipher::Aes256Cbc => unsafe { ffi::EVP_aes_256_cbc() },
    };
    // SAFETY: the caller guarantees the contexts; the key is as long as the cipher's
    // key length (16 or 32 bytes, checked when parsed) and the IV 16 bytes. OpenSSL
    // copies both before returning.
    let cipher_ok = unsafe {
        ffi::EVP_CipherInit_ex(
            cipher_ctx,
            cipher,
            std::ptr::null_mut(),
            key.aes_key.as_ptr(),
            iv.as_ptr(),
            enc,
        )
    } == 1;
    if !cipher_ok {
        return false;
    }
    let mut digest = *b"SHA256\0";
    // SAFETY: the parameter array points into `key.hmac_secret` and `digest`, both
    // alive until EVP_MAC_CTX_set_params returns; OpenSSL reads (copies) them and
    // does not write to the buffers of parameters it is given to set.
    unsafe {
        let params = [
            ffi::OSSL_PARAM_construct_octet_string(
                c"key".as_ptr(),
                key.hmac_secret.as_ptr() as *mut c_void,
                key.hmac_secret.len(),
            ),
            OSSL_PARAM_construct_utf8_string(
                c"digest".as_ptr(),
                digest.as_mut_ptr().cast(),
                0, // 0: the length is that of the NUL-terminated string
            ),
            ffi::OSSL_PARAM_construct_end(),
        ];
        ffi::EVP_MAC_CTX_set_params(mac_ctx, params.as_ptr()) == 1
    }
}
