//! Chunked transfer coding (RFC 9112 §7.1): an incremental decoder for request
//! bodies and the encoder's framing for responses.
//!
//! The decoder is strict where leniency lets two parsers disagree about where a
//! request ends (request smuggling): chunk lines end in CRLF only, sizes are 1-16 hex
//! digits with nothing before them, data is followed by exactly CRLF, and trailer
//! lines may not be folded.

use crate::error::HttpError;

/// Longest chunk-size line (size + extensions) accepted.
const MAX_CHUNK_LINE: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    Data(u64),
    DataEnd,
    Trailer,
    Done,
}

/// Decodes one chunked body, fed as bytes arrive.
#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    state: State,
    total: u64,
    trailer_bytes: usize,
}

impl ChunkedDecoder {
    pub(crate) fn new() -> Self {
        ChunkedDecoder {
            state: State::Size,
            total: 0,
            trailer_bytes: 0,
        }
    }

    /// Whether the last chunk and the trailer section have been read.
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes what it can of `input` into `out`; returns the bytes consumed. Stops
    /// at the end of the body (what follows is the next request).
    pub(crate) fn decode(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        max_body: usize,
        max_trailer: usize,
    ) -> Result<usize, HttpError> {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            match self.state {
                State::Done => return Ok(pos),
                State::Size => {
                    let Some(line) = take_line(rest, MAX_CHUNK_LINE)? else {
                        return Ok(pos);
                    };
                    pos += line.len() + 2;
                    let size = parse_size_line(line)?;
                    self.total = self
                        .total
                        .checked_add(size)
                        .filter(|t| *t <= max_body as u64)
                        .ok_or(HttpError::new(413, "request body too large"))?;
                    self.state = if size == 0 {
                        State::Trailer
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(left) => {
                    if rest.is_empty() {
                        return Ok(pos);
                    }
                    let n = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    out.extend_from_slice(&rest[..n]);
                    pos += n;
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                }
                State::DataEnd => {
                    if rest.len() < 2 {
                        if rest.first().is_some_and(|&b| b != b'\r') {
                            return Err(HttpError::bad("chunk data not followed by CRLF"));
                        }
                        return Ok(pos);
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(HttpError::bad("chunk data not followed by CRLF"));
                    }
                    pos += 2;
                    self.state = State::Size;
                }
                State::Trailer => {
                    let Some(line) = take_line(rest, max_trailer)? else {
                        return Ok(pos);
                    };
                    pos += line.len() + 2;
                    self.trailer_bytes += line.len() + 2;
                    if self.trailer_bytes > max_trailer {
                        return Err(HttpError::new(431, "trailer section too large"));
                    }
                    if line.is_empty() {
                        self.state = State::Done;
                    } else if matches!(line[0], b' ' | b'\t') || !line.contains(&b':') {
                        return Err(HttpError::bad("malformed trailer field"));
                    }
                }
            }
        }
    }
}

/// The line at the start of `buf` without its CRLF, once complete. A CR that is not
/// followed by LF, or an LF without CR, is an error; so is a line longer than `max`.
fn take_line(buf: &[u8], max: usize) -> Result<Option<&[u8]>, HttpError> {
    let scan = &buf[..buf.len().min(max + 2)];
    for (i, &b) in scan.iter().enumerate() {
        match b {
            b'\r' => {
                return match scan.get(i + 1) {
                    Some(b'\n') => Ok(Some(&buf[..i])),
                    Some(_) => Err(HttpError::bad("bare CR in chunked framing")),
                    None => Ok(None),
                }
            }
            b'\n' => return Err(HttpError::bad("bare LF in chunked framing")),
            _ => {}
        }
    }
    if buf.len() > max {
        return Err(HttpError::bad("chunk line too long"));
    }
    Ok(None)
}

/// `chunk-size [ chunk-ext ]`: 1-16 hex digits, then optional `BWS ; ext...`.
fn parse_size_line(line: &[u8]) -> Result<u64, HttpError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 16 {
        return Err(HttpError::bad("invalid chunk size"));
    }
    let ext = &line[digits..];
    let ext_start = ext.iter().position(|b| !matches!(b, b' ' | b'\t'));
    if let Some(i) = ext_start {
        if ext[i] != b';' {
            return Err(HttpError::bad("invalid chunk size"));
        }
        // Extensions are ignored, but must be visible text.
        if ext[i..]
            .iter()
            .any(|&b| b < 0x20 && b != b'\t' || b == 0x7f)
        {
            return Err(HttpError::bad("invalid chunk extension"));
        }
    } else if !ext.is_empty() {
        return Err(HttpError::bad("invalid chunk size"));
    }
    line[..digits]
        .iter()
        .try_fold(0u64, |n, &d| {
            let v = (d as char).to_digit(16)? as u64;
            n.checked_mul(16)?.checked_add(v)
        })
        .ok_or(HttpError::bad("chunk size overflows"))
}

/// Appends a chunk's framing and data to `out`. An empty `data` writes nothing (the
/// last chunk is [`LAST_CHUNK`]).
pub(crate) fn encode_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk and an empty trailer section.
pub(crate) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(wire: &[u8]) -> Result<(Vec<u8>, usize), HttpError> {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        let n = d.decode(wire, &mut out, 1 << 20, 1024)?;
        assert!(d.is_done(), "not done");
        Ok((out, n))
    }

    #[test]
    fn decodes_with_extensions_and_trailers() {
        let wire = b"5;a=b\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let (out, n) = decode_all(wire).unwrap();
        assert_eq!(out, b"hello world");
        assert_eq!(&wire[n..], b"NEXT");
    }

    #[test]
    fn every_split_gives_the_same_body() {
        let wire = b"3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
        for cut in 0..=wire.len() {
            let mut d = ChunkedDecoder::new();
            let mut out = Vec::new();
            let n = d.decode(&wire[..cut], &mut out, 1 << 20, 1024).unwrap();
            let m = d.decode(&wire[n..], &mut out, 1 << 20, 1024).unwrap();
            assert!(d.is_done(), "cut {cut}");
            assert_eq!(n + m, wire.len());
            assert_eq!(out, b"abc0123456789abcdef");
        }
    }

    #[test]
    fn rejects_bad_sizes_and_framing() {
        for bad in [
            &b"x\r\n"[..],
            b" 5\r\nhello\r\n0\r\n\r\n",
            b"-5\r\n",
            b"0x5\r\nhello\r\n",
            b"5\nhello\r\n",
            b"5\rhello\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"11111111111111111\r\n",
            b"0\r\n folded\r\n\r\n",
            b"5 x\r\n",
        ] {
            let mut d = ChunkedDecoder::new();
            let r = d.decode(bad, &mut Vec::new(), 1 << 20, 1024);
            assert_eq!(
                r.map_err(|e| e.status),
                Err(400),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut d = ChunkedDecoder::new();
        let r = d.decode(b"ffffffff\r\n", &mut Vec::new(), 1 << 20, 1024);
        assert_eq!(r.unwrap_err().status, 413);
    }

    #[test]
    fn encodes() {
        let mut out = Vec::new();
        encode_chunk(b"hello world!!!!!!", &mut out);
        out.extend_from_slice(LAST_CHUNK);
        let (body, _) = decode_all(&out).unwrap();
        assert_eq!(body, b"hello world!!!!!!");
    }
}
