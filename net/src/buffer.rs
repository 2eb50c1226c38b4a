//! A byte buffer in muduo's layout, used for every connection's input and output.
//!
//! ```text
//! +-------------------+------------------+------------------+
//! | prependable bytes |  readable bytes  |  writable bytes  |
//! |                   |     (CONTENT)    |                  |
//! +-------------------+------------------+------------------+
//! 0      <=      read_index   <=   write_index    <=     len
//! ```
//!
//! Ownership: a `Buffer` is plain data, owned by whoever holds it (a connection owns its
//! input and output buffers and lends them to callbacks by `&mut`).
//!
//! Memory: a new buffer allocates nothing. Storage appears on the first write and is
//! kept for reuse, so a connection that echoes small messages allocates once, not once
//! per message. [`Buffer::shrink`] gives memory back after a burst.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;

/// Bytes kept free in front of the content so a header can be prepended without moving it.
pub const CHEAP_PREPEND: usize = 8;

/// The size of the stack area that [`Buffer::read_from`] spills into.
/// 16 KiB: one TLS record; larger reads measured slower on loopback bulk transfers
/// (more server CPU per GiB with 64 KiB).
pub(crate) const SPILL: usize = 16 * 1024;

/// Buffers larger than this are given back once they drain.
pub(crate) const KEEP_CAPACITY: usize = 256 * 1024;

/// A growable byte buffer with a cheap prepend area and read/write indexes.
///
/// ```
/// use net::Buffer;
/// let mut buf = Buffer::new();
/// buf.append(b"hello\r\nworld");
/// let line_end = buf.find_crlf().unwrap();
/// assert_eq!(&buf.peek()[..line_end], b"hello");
/// buf.retrieve(line_end + 2);
/// assert_eq!(buf.peek(), b"world");
/// buf.prepend(&5u32.to_be_bytes());
/// assert_eq!(buf.readable_bytes(), 9);
/// ```
#[derive(Default, Clone)]
pub struct Buffer {
    data: Vec<u8>,
    read_index: usize,
    write_index: usize,
}

impl Buffer {
    /// An empty buffer. Allocates nothing until the first write.
    pub const fn new() -> Self {
        Buffer {
            data: Vec::new(),
            read_index: 0,
            write_index: 0,
        }
    }

    /// An empty buffer with room for `capacity` bytes of content.
    pub fn with_capacity(capacity: usize) -> Self {
        Buffer {
            data: vec![0; CHEAP_PREPEND + capacity],
            read_index: CHEAP_PREPEND,
            write_index: CHEAP_PREPEND,
        }
    }

    /// Number of bytes that can be read.
    #[inline]
    pub fn readable_bytes(&self) -> usize {
        self.write_index - self.read_index
    }

    /// Whether there is nothing to read.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.read_index == self.write_index
    }

    /// Number of bytes that can be written without growing.
    #[inline]
    pub fn writable_bytes(&self) -> usize {
        self.data.len() - self.write_index
    }

    /// Number of bytes free in front of the content.
    #[inline]
    pub fn prependable_bytes(&self) -> usize {
        self.read_index
    }

    /// Bytes of memory this buffer holds.
    pub fn capacity(&self) -> usize {
        self.data.capacity()
    }

    /// The readable bytes.
    #[inline]
    pub fn peek(&self) -> &[u8] {
        &self.data[self.read_index..self.write_index]
    }

    /// The readable bytes, mutable in place.
    #[inline]
    pub fn peek_mut(&mut self) -> &mut [u8] {
        &mut self.data[self.read_index..self.write_index]
    }

    /// Offset (from the start of the readable bytes) of the first `\r\n`, if any.
    pub fn find_crlf(&self) -> Option<usize> {
        self.peek().windows(2).position(|w| w == b"\r\n")
    }

    /// Offset (from the start of the readable bytes) of the first `\n`, if any.
    pub fn find_eol(&self) -> Option<usize> {
        self.peek().iter().position(|&b| b == b'\n')
    }

    /// Consumes `len` readable bytes (all of them if `len` is larger).
    #[inline]
    pub fn retrieve(&mut self, len: usize) {
        if len < self.readable_bytes() {
            self.read_index += len;
        } else {
            self.retrieve_all();
        }
    }

    /// Consumes every readable byte. Keeps the storage.
    #[inline]
    pub fn retrieve_all(&mut self) {
        self.read_index = CHEAP_PREPEND.min(self.data.len());
        self.write_index = self.read_index;
    }

    /// Consumes every readable byte and returns them as a `Vec`.
    pub fn retrieve_all_as_vec(&mut self) -> Vec<u8> {
        let out = self.peek().to_vec();
        self.retrieve_all();
        out
    }

    /// Consumes `len` readable bytes and returns them as a `Vec`.
    ///
    /// # Panics
    /// If fewer than `len` bytes are readable.
    pub fn retrieve_as_vec(&mut self, len: usize) -> Vec<u8> {
        assert!(len <= self.readable_bytes(), "retrieve past the end");
        let out = self.peek()[..len].to_vec();
        self.retrieve(len);
        out
    }

    /// Appends `bytes` after the readable bytes, growing if needed.
    #[inline]
    pub fn append(&mut self, bytes: &[u8]) {
        self.ensure_writable(bytes.len());
        self.data[self.write_index..self.write_index + bytes.len()].copy_from_slice(bytes);
        self.write_index += bytes.len();
    }

    /// Puts `bytes` in front of the readable bytes. Free when they fit in the
    /// prepend area (a length header does); otherwise the content moves once.
    pub fn prepend(&mut self, bytes: &[u8]) {
        if bytes.len() > self.read_index {
            let readable = self.readable_bytes();
            let mut data = vec![0; CHEAP_PREPEND + bytes.len() + readable];
            data[CHEAP_PREPEND + bytes.len()..].copy_from_slice(self.peek());
            self.data = data;
            self.read_index = CHEAP_PREPEND + bytes.len();
            self.write_index = self.data.len();
        }
        self.read_index -= bytes.len();
        self.data[self.read_index..self.read_index + bytes.len()].copy_from_slice(bytes);
    }

    /// Makes room for at least `len` more bytes: first by moving the content to the
    /// front (reusing space already consumed), then by reallocating.
    pub fn ensure_writable(&mut self, len: usize) {
        if self.writable_bytes() >= len {
            return;
        }
        let readable = self.readable_bytes();
        if self.data.is_empty() {
            self.data = vec![0; (CHEAP_PREPEND + len).max(CHEAP_PREPEND + 256)];
            self.read_index = CHEAP_PREPEND;
            self.write_index = CHEAP_PREPEND;
            return;
        }
        if self.read_index > CHEAP_PREPEND {
            // Reuse the space already consumed at the front.
            self.data
                .copy_within(self.read_index..self.write_index, CHEAP_PREPEND);
            self.read_index = CHEAP_PREPEND;
            self.write_index = CHEAP_PREPEND + readable;
            if self.writable_bytes() >= len {
                return;
            }
        }
        let grown = (self.write_index + len).max(self.data.len() * 2);
        self.data.resize(grown, 0);
    }

    /// The writable area, for filling in place; follow with [`Buffer::has_written`].
    #[inline]
    pub fn writable_slice(&mut self) -> &mut [u8] {
        &mut self.data[self.write_index..]
    }

    /// Marks `len` bytes of the writable area as written.
    ///
    /// # Panics
    /// If `len` exceeds [`Buffer::writable_bytes`].
    #[inline]
    pub fn has_written(&mut self, len: usize) {
        assert!(len <= self.writable_bytes(), "has_written past the end");
        self.write_index += len;
    }

    /// Gives a drained buffer's storage back when it has grown past what an idle
    /// connection should keep (one burst can grow a buffer to megabytes; thousands of
    /// idle connections must not each keep theirs).
    pub(crate) fn release_if_drained(&mut self) {
        if self.is_empty() && self.capacity() > KEEP_CAPACITY {
            self.shrink(0);
        }
    }

    /// Gives back memory: keeps the content and at most `reserve` bytes of free room.
    pub fn shrink(&mut self, reserve: usize) {
        if self.data.capacity() <= CHEAP_PREPEND + self.readable_bytes() + reserve {
            return;
        }
        if self.is_empty() && reserve == 0 {
            *self = Buffer::new();
            return;
        }
        let mut other = Buffer::with_capacity(self.readable_bytes() + reserve);
        other.append(self.peek());
        *self = other;
    }

    /// Reads once from `fd` with `readv`: into the writable area and a 16 KiB stack
    /// spill area, so one system call drains up to that much whatever the buffer's size.
    /// Returns what `readv` returned: `Ok(0)` at end of stream.
    pub fn read_from(&mut self, fd: RawFd) -> io::Result<usize> {
        // Left uninitialised: zeroing the spill area on every read would cost more than the
        // read itself. Only the prefix the kernel filled is ever looked at.
        let mut spill = MaybeUninit::<[u8; SPILL]>::uninit();
        let writable = self.writable_bytes();
        let iov = [
            libc::iovec {
                iov_base: self.data[self.write_index..].as_mut_ptr().cast(),
                iov_len: writable,
            },
            libc::iovec {
                iov_base: spill.as_mut_ptr().cast(),
                iov_len: SPILL,
            },
        ];
        // Skip the spill area when the buffer alone is already large.
        let count = if writable < SPILL { 2 } else { 1 };
        // SAFETY: both iovecs point at live, writable memory of the stated lengths
        // (`self.data` is not touched until readv returns; `spill` is on this frame).
        let n = unsafe { libc::readv(fd, iov.as_ptr(), count) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        if n <= writable {
            self.write_index += n;
        } else {
            self.write_index = self.data.len();
            // SAFETY: readv wrote `n` bytes: `writable` into the buffer, the remaining
            // `n - writable` (at most SPILL) into the start of `spill`.
            let spilled =
                unsafe { std::slice::from_raw_parts(spill.as_ptr().cast::<u8>(), n - writable) };
            self.append(spilled);
        }
        Ok(n)
    }
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buffer")
            .field("readable", &self.readable_bytes())
            .field("writable", &self.writable_bytes())
            .field("prependable", &self.prependable_bytes())
            .finish()
    }
}

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.append(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_retrieve_and_reuse() {
        let mut b = Buffer::new();
        assert_eq!(b.capacity(), 0);
        b.append(&[7; 200]);
        assert_eq!(b.readable_bytes(), 200);
        b.retrieve(50);
        assert_eq!(b.readable_bytes(), 150);
        assert_eq!(b.prependable_bytes(), CHEAP_PREPEND + 50);
        let cap = b.capacity();
        // Fits after moving the content to the front: no reallocation.
        b.append(&[8; 100]);
        assert_eq!(b.capacity(), cap);
        assert_eq!(b.readable_bytes(), 250);
        assert_eq!(&b.peek()[148..152], &[7, 7, 8, 8]);
    }

    #[test]
    fn prepend_fits_and_overflows() {
        let mut b = Buffer::new();
        b.append(b"body");
        b.prepend(&4u32.to_be_bytes());
        assert_eq!(b.peek(), b"\0\0\0\x04body");
        b.prepend(&[1; 20]);
        assert_eq!(b.readable_bytes(), 28);
        assert_eq!(&b.peek()[20..], b"\0\0\0\x04body");
    }

    #[test]
    fn shrink_releases() {
        let mut b = Buffer::new();
        b.append(&[1; 100_000]);
        b.retrieve(99_990);
        b.shrink(0);
        assert!(b.capacity() < 64);
        assert_eq!(b.peek(), &[1; 10]);
        b.retrieve_all();
        b.shrink(0);
        assert_eq!(b.capacity(), 0);
    }

    #[test]
    fn read_from_spills_to_stack() {
        let (mut a, bsock) = std::os::unix::net::UnixStream::pair().unwrap();
        use std::io::Write;
        use std::os::fd::AsRawFd;
        let payload: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let writer = std::thread::spawn(move || a.write_all(&payload).map(|_| payload));
        let mut b = Buffer::new();
        let mut total = 0;
        while total < 100_000 {
            let n = b.read_from(bsock.as_raw_fd()).unwrap();
            assert!(n > 0);
            total += n;
        }
        let payload = writer.join().unwrap().unwrap();
        assert_eq!(b.peek(), &payload[..]);
    }
}
