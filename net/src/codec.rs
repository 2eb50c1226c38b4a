//! `LengthHeaderCodec`: frames with a 4-byte big-endian length header (muduo's wire
//! format), with a maximum frame length as a memory guard.
//!
//! Stateless and `Copy`: one codec value serves every connection; a connection's
//! partial frame simply stays in its input buffer until the rest arrives.

use crate::buffer::Buffer;
use crate::conn::connection::TcpConnection;

/// Size of the length header.
pub const HEADER_LEN: usize = 4;

/// A frame header announced more than the codec allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameTooLarge {
    /// The announced payload length.
    pub len: usize,
    /// The codec's maximum.
    pub max: usize,
}

impl std::fmt::Display for FrameTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "frame of {} bytes exceeds the maximum of {}",
            self.len, self.max
        )
    }
}

impl std::error::Error for FrameTooLarge {}

/// Length-prefixed frames. See the module docs.
///
/// ```
/// use net::{codec::LengthHeaderCodec, Buffer};
/// let codec = LengthHeaderCodec::default();
/// let mut wire = Buffer::new();
/// codec.encode(b"hello", &mut wire);
/// codec.encode(b"world", &mut wire);
/// let mut frames = Vec::new();
/// codec.decode(&mut wire, |f| frames.push(f.to_vec())).unwrap();
/// assert_eq!(frames, [b"hello".to_vec(), b"world".to_vec()]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct LengthHeaderCodec {
    max_frame: usize,
}

impl Default for LengthHeaderCodec {
    /// A codec with a 64 KiB maximum frame.
    fn default() -> Self {
        LengthHeaderCodec::new(64 * 1024)
    }
}

impl LengthHeaderCodec {
    /// A codec accepting payloads of up to `max_frame` bytes (capped at `u32::MAX`).
    pub fn new(max_frame: usize) -> Self {
        LengthHeaderCodec {
            max_frame: max_frame.min(u32::MAX as usize),
        }
    }

    /// The largest payload accepted.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Appends one frame (header + payload) to `out`.
    pub fn encode(&self, payload: &[u8], out: &mut Buffer) {
        out.ensure_writable(HEADER_LEN + payload.len());
        out.append(&(payload.len() as u32).to_be_bytes());
        out.append(payload);
    }

    /// Turns the readable bytes of `buf` into one frame in place, writing the header
    /// into the buffer's prepend area (no copy of the payload).
    pub fn frame_in_place(&self, buf: &mut Buffer) {
        let len = buf.readable_bytes() as u32;
        buf.prepend(&len.to_be_bytes());
    }

    /// One frame as a new vector (to send the same frame to many connections).
    pub fn frame(&self, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(HEADER_LEN + payload.len());
        v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    /// Calls `on_frame` with every complete frame's payload in `input`, consuming
    /// them; a partial frame stays for later. An oversized header is an error (the
    /// bytes before it have been delivered and consumed).
    pub fn decode(
        &self,
        input: &mut Buffer,
        mut on_frame: impl FnMut(&[u8]),
    ) -> Result<(), FrameTooLarge> {
        while let Some(len) = self.next_len(input)? {
            on_frame(&input.peek()[HEADER_LEN..HEADER_LEN + len]);
            input.retrieve(HEADER_LEN + len);
        }
        Ok(())
    }

    /// The payload length of the frame at the front of `input`, if it is complete.
    fn next_len(&self, input: &Buffer) -> Result<Option<usize>, FrameTooLarge> {
        let bytes = input.peek();
        let Some(header) = bytes.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*header) as usize;
        if len > self.max_frame {
            return Err(FrameTooLarge {
                len,
                max: self.max_frame,
            });
        }
        Ok((bytes.len() >= HEADER_LEN + len).then_some(len))
    }

    /// For a message callback: calls `on_frame(conn, payload)` for every complete
    /// frame; on an oversized frame logs the reason and closes only this connection.
    pub fn on_message(
        &self,
        conn: &mut TcpConnection,
        input: &mut Buffer,
        mut on_frame: impl FnMut(&mut TcpConnection, &[u8]),
    ) {
        loop {
            match self.next_len(input) {
                Ok(Some(len)) => {
                    on_frame(conn, &input.peek()[HEADER_LEN..HEADER_LEN + len]);
                    input.retrieve(HEADER_LEN + len);
                    if conn.is_closed() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    log::warn!("{conn}: {e}; closing");
                    input.retrieve_all();
                    conn.force_close();
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(payloads: &[&[u8]]) -> Vec<u8> {
        let codec = LengthHeaderCodec::default();
        let mut wire = Buffer::new();
        for p in payloads {
            codec.encode(p, &mut wire);
        }
        wire.retrieve_all_as_vec()
    }

    #[test]
    fn frames_split_at_every_boundary_decode_identically() {
        let payloads: [&[u8]; 4] = [b"", b"a", b"hello world", &[7; 300]];
        let wire = frames(&payloads);
        let codec = LengthHeaderCodec::default();
        for cut in 0..=wire.len() {
            let mut input = Buffer::new();
            let mut got = Vec::new();
            input.append(&wire[..cut]);
            codec.decode(&mut input, |f| got.push(f.to_vec())).unwrap();
            input.append(&wire[cut..]);
            codec.decode(&mut input, |f| got.push(f.to_vec())).unwrap();
            assert_eq!(got, payloads.map(<[u8]>::to_vec), "cut at {cut}");
            assert!(input.is_empty());
        }
    }

    #[test]
    fn oversized_header_is_an_error_after_the_frames_before_it() {
        let codec = LengthHeaderCodec::new(16);
        let mut input = Buffer::new();
        codec.encode(b"ok", &mut input);
        input.append(&17u32.to_be_bytes());
        let mut got = Vec::new();
        let err = codec
            .decode(&mut input, |f| got.push(f.to_vec()))
            .unwrap_err();
        assert_eq!(err, FrameTooLarge { len: 17, max: 16 });
        assert_eq!(got, vec![b"ok".to_vec()]);
    }

    #[test]
    fn frame_in_place_uses_the_prepend_area() {
        let codec = LengthHeaderCodec::default();
        let mut buf = Buffer::new();
        buf.append(b"payload");
        let cap = buf.capacity();
        codec.frame_in_place(&mut buf);
        assert_eq!(buf.capacity(), cap);
        assert_eq!(buf.peek(), &codec.frame(b"payload")[..]);
    }
}
