//! RFC 6455 §5 framing: parsing a client frame's header and writing server frames.

/// A WebSocket failure: the close code we send, and why (for the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsFail {
    /// 1002 protocol error, 1007 invalid payload, 1009 too big, ...
    pub code: u16,
    /// Why.
    pub reason: &'static str,
}

pub(crate) const fn fail(code: u16, reason: &'static str) -> WsFail {
    WsFail { code, reason }
}

pub(crate) const OP_CONTINUATION: u8 = 0;
pub(crate) const OP_TEXT: u8 = 1;
pub(crate) const OP_BINARY: u8 = 2;
pub(crate) const OP_CLOSE: u8 = 8;
pub(crate) const OP_PING: u8 = 9;
pub(crate) const OP_PONG: u8 = 10;

/// A frame header as the client sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHead {
    pub fin: bool,
    pub opcode: u8,
    pub mask: [u8; 4],
    pub len: u64,
}

impl FrameHead {
    pub fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }
}

/// Parses the frame header at the start of `buf`: `Ok(None)` until it is complete.
/// Enforces what a server must: no RSV bits (no extension negotiated), known
/// opcodes, masked client frames, control frames unfragmented and ≤ 125 bytes, and
/// a 64-bit length with its top bit clear.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<(FrameHead, usize)>, WsFail> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    if b0 & 0x70 != 0 {
        return Err(fail(1002, "reserved bits set without an extension"));
    }
    let opcode = b0 & 0x0f;
    if !matches!(
        opcode,
        OP_CONTINUATION | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG
    ) {
        return Err(fail(1002, "reserved opcode"));
    }
    let fin = b0 & 0x80 != 0;
    if b1 & 0x80 == 0 {
        return Err(fail(1002, "client frame not masked"));
    }
    let (len, at) = match b1 & 0x7f {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                (u64::from_be_bytes(a), 10)
            }
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if len >> 63 != 0 {
        return Err(fail(1002, "64-bit length with the top bit set"));
    }
    let head = FrameHead {
        fin,
        opcode,
        mask: [0; 4],
        len,
    };
    if head.is_control() && (!fin || len > 125) {
        return Err(fail(1002, "fragmented or oversized control frame"));
    }
    let Some(mask) = buf.get(at..at + 4) else {
        return Ok(None);
    };
    let mut m = [0u8; 4];
    m.copy_from_slice(mask);
    Ok(Some((FrameHead { mask: m, ..head }, at + 4)))
}

/// Appends one unmasked, final server frame to `out`.
pub(crate) fn encode(opcode: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(payload.len() + 10);
    out.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= 0xffff => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

/// A close frame with `code` (none for code 1005, "no status") and a reason cut to fit
/// a control frame at a character boundary.
pub(crate) fn encode_close(code: Option<u16>, reason: &str, out: &mut Vec<u8>) {
    let mut payload = Vec::with_capacity(125);
    if let Some(code) = code {
        payload.extend_from_slice(&code.to_be_bytes());
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        payload.extend_from_slice(&reason.as_bytes()[..end]);
    }
    encode(OP_CLOSE, &payload, out);
}

/// Close codes an endpoint may send (RFC 6455 §7.4, IANA registry).
pub(crate) fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// XORs `data` with `mask`, starting at mask offset `pos`; returns the next offset.
pub(crate) fn unmask(data: &mut [u8], mask: [u8; 4], pos: usize) -> usize {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= mask[(pos + i) & 3];
    }
    (pos + data.len()) & 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_example_masked_hello() {
        let wire = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (h, n) = parse_head(&wire).unwrap().unwrap();
        assert_eq!((h.fin, h.opcode, h.len, n), (true, OP_TEXT, 5, 6));
        let mut p = wire[6..].to_vec();
        unmask(&mut p, h.mask, 0);
        assert_eq!(p, b"Hello");
    }

    #[test]
    fn lengths_and_partial_headers() {
        for len in [0usize, 125, 126, 65535, 65536] {
            let mut out = Vec::new();
            encode(OP_BINARY, &vec![0; len], &mut out);
            assert_eq!(
                out.len() - len,
                if len < 126 {
                    2
                } else if len < 65536 {
                    4
                } else {
                    10
                }
            );
        }
        assert_eq!(parse_head(&[0x81]), Ok(None));
        assert_eq!(parse_head(&[0x81, 0xfe, 0]), Ok(None));
        assert_eq!(parse_head(&[0x81, 0x85, 1, 2, 3]), Ok(None));
    }

    #[test]
    fn protocol_errors() {
        assert_eq!(parse_head(&[0x81, 0x05]).unwrap_err().code, 1002);
        assert_eq!(
            parse_head(&[0xc1, 0x80, 0, 0, 0, 0]).unwrap_err().code,
            1002
        );
        assert_eq!(
            parse_head(&[0x83, 0x80, 0, 0, 0, 0]).unwrap_err().code,
            1002
        );
        assert_eq!(
            parse_head(&[0x09, 0x80, 0, 0, 0, 0]).unwrap_err().code,
            1002
        );
        assert_eq!(
            parse_head(&[0x89, 0xfe, 0, 126, 0, 0, 0, 0])
                .unwrap_err()
                .code,
            1002
        );
        let mut big = vec![0x82, 0xff, 0x80];
        big.extend([0; 11]);
        assert_eq!(parse_head(&big).unwrap_err().code, 1002);
    }

    #[test]
    fn close_reason_is_cut_at_a_char_boundary() {
        let mut out = Vec::new();
        encode_close(Some(1000), &"é".repeat(100), &mut out);
        assert!(out.len() <= 127);
        assert!(std::str::from_utf8(&out[4..]).is_ok());
    }
}
