//! `LengthHeaderCodec`: frames with a 4-byte big-endian length header (muduo's wire
//! format), with a maximum frame length as a memory guard.
//!
//! Stateless and `Copy`: one codec value serves every connection; a connection's
//! partial frame simply stays in its input buffer until the rest arrives.

use crate::buffer::Buffer;
use crate::conn::connection::TcpConnection;

/// Size of the length header.
pub const HEADER_LEN: usize = 4;

/// A frame header announced more than the codec allows, or a payload to encode is
/// longer than the 4-byte header can announce (`u32::MAX`).
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
/// codec.encode(b"hello", &mut wire)?;
/// codec.encode(b"world", &mut wire)?;
/// let mut frames = Vec::new();
/// codec.decode(&mut wire, |f| frames.push(f.to_vec())).unwrap();
/// assert_eq!(frames, [b"hello".to_vec(), b"world".to_vec()]);
/// # Ok::<(), net::codec::FrameTooLarge>(())
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

    /// The header announcing a payload of `len` bytes. Refused above `u32::MAX`, the
    /// most four bytes can say: a wrapped length would put a wrong header on the wire
    /// and desynchronise every frame after it. Every encoder checks through this.
    pub fn header(len: usize) -> Result<[u8; HEADER_LEN], FrameTooLarge> {
        u32::try_from(len)
            .map(u32::to_be_bytes)
            .map_err(|_| FrameTooLarge {
                len,
                max: u32::MAX as usize,
            })
    }

    /// Appends one frame (header + payload) to `out`; a payload longer than
    /// `u32::MAX` is refused and nothing is appended.
    pub fn encode(&self, payload: &[u8], out: &mut Buffer) -> Result<(), FrameTooLarge> {
        let header = Self::header(payload.len())?;
        out.ensure_writable(HEADER_LEN + payload.len());
        out.append(&header);
        out.append(payload);
        Ok(())
    }

    /// Turns the readable bytes of `buf` into one frame in place, writing the header
    /// into the buffer's prepend area (no copy of the payload); refused (and `buf`
    /// left as it was) above `u32::MAX` bytes.
    pub fn frame_in_place(&self, buf: &mut Buffer) -> Result<(), FrameTooLarge> {
        let header = Self::header(buf.readable_bytes())?;
        buf.prepend(&header);
        Ok(())
    }

    /// One frame as a new vector (to send the same frame to many connections);
    /// refused above `u32::MAX` bytes.
    pub fn frame(&self, payload: &[u8]) -> Result<Vec<u8>, FrameTooLarge> {
        let header = Self::header(payload.len())?;
        let mut v = Vec::with_capacity(HEADER_LEN + payload.len());
        v.extend_from_slice(&header);
        v.extend_from_slice(payload);
        Ok(v)
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
            codec.encode(p, &mut wire).unwrap();
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
        codec.encode(b"ok", &mut input).unwrap();
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
        codec.frame_in_place(&mut buf).unwrap();
        assert_eq!(buf.capacity(), cap);
        assert_eq!(buf.peek(), &codec.frame(b"payload").unwrap()[..]);
    }

    /// A payload longer than the header can announce is refused with a clear error by
    /// every encoder, instead of going out with a wrapped length (2^32 + 5 bytes used
    /// to be announced as 5).
    #[test]
    fn payloads_over_u32_max_are_refused() {
        let max = u32::MAX as usize;
        assert_eq!(LengthHeaderCodec::header(max), Ok([0xff; 4]));
        assert_eq!(LengthHeaderCodec::header(0), Ok([0; 4]));
        for len in [max + 1, max + 5, usize::MAX] {
            assert_eq!(
                LengthHeaderCodec::header(len),
                Err(FrameTooLarge { len, max }),
                "{len}"
            );
        }
        // A real slice of 2^32 + 5 bytes, mapped but never touched (no memory is
        // used unless read): the encoders refuse it before reading a byte.
        let len = max + 5;
        // SAFETY: an anonymous private read-only mapping with no address hint and no
        // file; the result is checked against MAP_FAILED before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED, "mmap of {len} bytes");
        // SAFETY: `ptr` is a live mapping of `len` readable bytes (zero pages), not
        // aliased mutably, and unmapped only after the slice's last use below.
        let huge = unsafe { std::slice::from_raw_parts(ptr as *const u8, len) };
        let codec = LengthHeaderCodec::new(usize::MAX);
        let mut out = Buffer::new();
        let err = FrameTooLarge { len, max };
        assert_eq!(codec.encode(huge, &mut out), Err(err.clone()));
        assert!(out.is_empty(), "nothing appended");
        assert_eq!(codec.frame(huge), Err(err));
        // SAFETY: the mapping made above, of `len` bytes; `huge` is not used again.
        assert_eq!(unsafe { libc::munmap(ptr, len) }, 0);
    }
}
