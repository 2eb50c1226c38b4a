//! The opening handshake (RFC 6455 §4.2): checking the client's upgrade request and
//! computing `Sec-WebSocket-Accept`.

use crate::request::Request;
use crate::response::Response;

const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `base64(SHA-1(key + GUID))`.
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key);
    sha.update(GUID);
    base64(&sha.digest().bytes())
}

/// The accept value if `req` is a valid upgrade (the router has checked the method
/// and the `Connection`/`Upgrade` tokens); otherwise the response that refuses it.
pub(crate) fn check(req: &Request, upgrade_requested: bool) -> Result<String, Response> {
    if !upgrade_requested || req.minor_version() != 1 {
        return Err(Response::status(426)
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", "13"));
    }
    if req.header("sec-websocket-version").map(crate::head::trim) != Some(b"13") {
        return Err(Response::status(426).header("Sec-WebSocket-Version", "13"));
    }
    let key = req
        .header("sec-websocket-key")
        .map(crate::head::trim)
        .unwrap_or_default();
    // A 16-byte nonce in base64 is 22 characters and "==".
    let key_ok = key.len() == 24
        && key.ends_with(b"==")
        && key[..22]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/');
    if !key_ok {
        return Err(Response::status(400));
    }
    Ok(accept_key(key))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6455_example_key() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn base64_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
    }
}
