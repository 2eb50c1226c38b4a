//! [`MemIo`]: the in-memory transport OpenSSL reads from and writes to.
//!
//! OpenSSL never sees the socket. The connection reads ciphertext from the socket into
//! a wire buffer; the TLS layer moves that buffer *into* a `MemIo` (a pointer swap, no
//! copy), lets OpenSSL consume it, and moves it back out. Ciphertext OpenSSL produces
//! lands in the outbound buffer, which is the connection's own output buffer swapped in
//! the same way.
//!
//! Rules (what makes non-blocking OpenSSL simple here):
//! - reading from an empty inbound buffer returns `Err(WouldBlock)`, or `Ok(0)` once
//!   the socket reached end of stream ([`MemIo::set_eof`]);
//! - writing always accepts every byte and `flush` always succeeds, so OpenSSL never
//!   reports "want write": backpressure is the connection's business (its output buffer
//!   and high-water mark), the same for plain and TLS connections.

use std::io::{self, Read, Write};

use net::Buffer;

/// An in-memory, non-blocking transport: an inbound and an outbound [`Buffer`].
#[derive(Debug, Default)]
pub(crate) struct MemIo {
    inbound: Buffer,
    outbound: Buffer,
    eof: bool,
}

impl MemIo {
    /// An empty transport. Allocates nothing.
    pub const fn new() -> MemIo {
        MemIo {
            inbound: Buffer::new(),
            outbound: Buffer::new(),
            eof: false,
        }
    }

    /// Swaps `wire_in` with the inbound buffer: call once to lend the connection's
    /// buffer to OpenSSL, and once more to take it back.
    pub fn swap_inbound(&mut self, wire_in: &mut Buffer) {
        std::mem::swap(&mut self.inbound, wire_in);
    }

    /// Swaps `wire_out` with the outbound buffer (same protocol as
    /// [`MemIo::swap_inbound`]).
    pub fn swap_outbound(&mut self, wire_out: &mut Buffer) {
        std::mem::swap(&mut self.outbound, wire_out);
    }

    /// Marks that no more inbound bytes will ever arrive: once the inbound buffer is
    /// empty, reads return `Ok(0)` instead of `WouldBlock`.
    pub fn set_eof(&mut self, eof: bool) {
        self.eof = eof;
    }

    /// Whether end of stream was signalled.
    pub fn is_eof(&self) -> bool {
        self.eof
    }

    /// The inbound bytes not consumed yet.
    pub fn inbound(&self) -> &Buffer {
        &self.inbound
    }
}

impl Read for MemIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.inbound.is_empty() {
            return if self.eof || buf.is_empty() {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = buf.len().min(self.inbound.readable_bytes());
        buf[..n].copy_from_slice(&self.inbound.peek()[..n]);
        self.inbound.retrieve(n);
        Ok(n)
    }
}

impl Write for MemIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outbound.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.outbound.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn would_block_until_eof() {
        let mut io = MemIo::new();
        let mut buf = [0u8; 4];
        let err = io.read(&mut buf).err().map(|e| e.kind());
        assert_eq!(err, Some(io::ErrorKind::WouldBlock));
        let mut wire = Buffer::new();
        wire.append(b"abcdef");
        io.swap_inbound(&mut wire);
        assert!(wire.is_empty());
        assert_eq!(io.read(&mut buf).ok(), Some(4));
        assert_eq!(&buf, b"abcd");
        io.set_eof(true);
        assert_eq!(io.read(&mut buf).ok(), Some(2));
        assert_eq!(io.read(&mut buf).ok(), Some(0));
    }

    #[test]
    fn write_appends_everything() {
        let mut io = MemIo::new();
        assert_eq!(io.write(&[1; 100_000]).ok(), Some(100_000));
        assert!(io.flush().is_ok());
        let mut out = Buffer::new();
        io.swap_outbound(&mut out);
        assert_eq!(out.readable_bytes(), 100_000);
        assert!(io.outbound.is_empty());
    }
}
