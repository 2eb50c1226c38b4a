//! Request heads: `httparse` tokenizes; this file applies RFC 9112's framing and
//! smuggling rules and decides how the body is delimited.

use std::net::SocketAddr;
use std::ops::Range;

use crate::error::HttpError;
use crate::limits::{Limits, MAX_HEADERS};
use crate::request::Request;

/// How the request body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
}

/// A parsed head: the request without its body, and what the codec must know.
pub(crate) struct Head {
    pub request: Request,
    pub framing: Framing,
    pub keep_alive: bool,
    pub expect_continue: bool,
    pub upgrade_websocket: bool,
}

/// Where the end of a head can be: after `\n\r\n` or `\n\n` (httparse accepts a bare
/// LF as a line end, as RFC 9112 §2.2 allows).
fn head_end_possible(buf: &[u8], from: usize) -> bool {
    let start = from.min(buf.len()).saturating_sub(2);
    buf[start..]
        .windows(2)
        .enumerate()
        .any(|(i, w)| w == b"\n\n" || (w == b"\n\r" && buf.get(start + i + 2) == Some(&b'\n')))
}

/// Parses the head at the start of `buf`. `Ok(None)`: not complete yet (and still
/// within the limit). `scanned` remembers how far a previous call looked, so a head
/// arriving one byte at a time costs linear work, not quadratic.
pub(crate) fn parse_head(
    buf: &[u8],
    scanned: &mut usize,
    limits: &Limits,
    peer: SocketAddr,
) -> Result<Option<(Head, usize)>, HttpError> {
    // The first attempt goes straight to the parser (a whole head usually arrives in
    // one read); later attempts on a growing partial head first look for a blank line
    // in the new bytes only.
    if *scanned > 0 && !head_end_possible(buf, *scanned) {
        *scanned = buf.len();
        if buf.len() > limits.max_header_bytes {
            return Err(HttpError::new(431, "request head too large"));
        }
        return Ok(None);
    }
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let max = limits.max_headers.min(MAX_HEADERS);
    let mut req = httparse::Request::new(&mut fields[..max]);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            *scanned = buf.len();
            if buf.len() > limits.max_header_bytes {
                return Err(HttpError::new(431, "request head too large"));
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HttpError::new(431, "too many header fields"))
        }
        Err(httparse::Error::Version) => {
            return Err(HttpError::new(505, "unsupported HTTP version"))
        }
        Err(e) => return Err(HttpError::bad(parse_error_reason(e))),
    };
    *scanned = 0;
    if len > limits.max_header_bytes {
        return Err(HttpError::new(431, "request head too large"));
    }
    let base = buf.as_ptr() as usize;
    let range = |s: &[u8]| {
        let start = s.as_ptr() as usize - base;
        start..start + s.len()
    };
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(HttpError::bad("incomplete request line"));
    };
    let method_r = range(method.as_bytes());
    let target_r = range(target.as_bytes());
    let mut ranges: Vec<(Range<usize>, Range<usize>)> = Vec::with_capacity(req.headers.len());
    let mut rules = Rules::default();
    for h in req.headers.iter() {
        ranges.push((range(h.name.as_bytes()), range(h.value)));
        rules.field(h.name, h.value)?;
    }
    let framing = rules.framing(minor)?;
    if minor == 1 && rules.hosts != 1 || rules.hosts > 1 {
        return Err(HttpError::bad("a request needs exactly one Host"));
    }
    if let Some(expect) = rules.expect {
        if !expect.eq_ignore_ascii_case(b"100-continue") {
            return Err(HttpError::new(417, "unsupported expectation"));
        }
    }
    let keep_alive = if minor == 1 {
        !rules.conn_close
    } else {
        rules.conn_keep_alive && !rules.conn_close
    };
    let expect_continue = rules.expect.is_some() && minor == 1 && framing != Framing::None;
    let request = Request {
        head: buf[..len].to_vec(),
        method: method_r,
        target: target_r,
        minor_version: minor,
        fields: ranges,
        body: Vec::new(),
        peer,
        http2: false,
    };
    let upgrade_websocket = rules.conn_upgrade && rules.upgrade_websocket;
    Ok(Some((
        Head {
            request,
            framing,
            keep_alive,
            expect_continue,
            upgrade_websocket,
        },
        len,
    )))
}

fn parse_error_reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name (obs-fold or whitespace?)",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending (bare CR?)",
        httparse::Error::Status | httparse::Error::Token => "invalid request line",
        _ => "malformed request head",
    }
}

/// What the header fields say about framing and the connection.
#[derive(Default)]
struct Rules<'a> {
    content_length: Option<u64>,
    transfer_encoding: Vec<&'a [u8]>,
    hosts: usize,
    conn_close: bool,
    conn_keep_alive: bool,
    conn_upgrade: bool,
    upgrade_websocket: bool,
    expect: Option<&'a [u8]>,
}

impl<'a> Rules<'a> {
    fn field(&mut self, name: &str, value: &'a [u8]) -> Result<(), HttpError> {
        if name.eq_ignore_ascii_case("content-length") {
            // RFC 9112 §6.3: a list of identical values is one value; anything else
            // (differing duplicates, signs, spaces inside) is unrecoverable.
            for item in value.split(|&b| b == b',') {
                let n =
                    parse_decimal(trim(item)).ok_or(HttpError::bad("invalid Content-Length"))?;
                if self.content_length.is_some_and(|m| m != n) {
                    return Err(HttpError::bad("differing Content-Length values"));
                }
                self.content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            self.transfer_encoding
                .extend(value.split(|&b| b == b',').map(trim));
        } else if name.eq_ignore_ascii_case("host") {
            self.hosts += 1;
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(|&b| b == b',').map(trim) {
                self.conn_close |= token.eq_ignore_ascii_case(b"close");
                self.conn_keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                self.conn_upgrade |= token.eq_ignore_ascii_case(b"upgrade");
            }
        } else if name.eq_ignore_ascii_case("upgrade") {
            self.upgrade_websocket |= value
                .split(|&b| b == b',')
                .any(|t| trim(t).eq_ignore_ascii_case(b"websocket"));
        } else if name.eq_ignore_ascii_case("expect") {
            self.expect = Some(trim(value));
        }
        Ok(())
    }

    fn framing(&self, minor: u8) -> Result<Framing, HttpError> {
        if self.transfer_encoding.is_empty() {
            return Ok(self.content_length.map_or(Framing::None, |n| {
                if n == 0 {
                    Framing::None
                } else {
                    Framing::Length(n)
                }
            }));
        }
        if self.content_length.is_some() {
            return Err(HttpError::bad("both Content-Length and Transfer-Encoding"));
        }
        if minor == 0 {
            return Err(HttpError::bad("Transfer-Encoding in an HTTP/1.0 request"));
        }
        let codings = &self.transfer_encoding;
        let last_chunked = codings
            .last()
            .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"));
        if !last_chunked {
            return Err(HttpError::bad("Transfer-Encoding does not end in chunked"));
        }
        if codings.len() > 1 {
            if codings[..codings.len() - 1]
                .iter()
                .any(|c| c.eq_ignore_ascii_case(b"chunked"))
            {
                return Err(HttpError::bad("chunked applied twice"));
            }
            return Err(HttpError::new(501, "unsupported transfer coding"));
        }
        Ok(Framing::Chunked)
    }
}

/// Trims optional whitespace (SP / HTAB) on both sides.
pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    &s[start..end]
}

/// 1 to 19 ASCII digits (no sign, no space), as a u64.
fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> Result<Option<(Head, usize)>, HttpError> {
        parse_head(
            s,
            &mut 0,
            &Limits::default(),
            "127.0.0.1:1".parse().unwrap(),
        )
    }

    fn status(s: &[u8]) -> u16 {
        match parse(s) {
            Err(e) => e.status,
            Ok(Some(_)) => 200,
            Ok(None) => 0,
        }
    }

    #[test]
    fn simple_get() {
        let (h, n) = parse(b"GET /a?b HTTP/1.1\r\nHost: x\r\n\r\nrest")
            .unwrap()
            .unwrap();
        assert_eq!(n, 30);
        assert_eq!(h.request.method(), "GET");
        assert_eq!(h.request.path(), "/a");
        assert_eq!(h.request.query(), Some("b"));
        assert_eq!(h.request.header("HOST"), Some(&b"x"[..]));
        assert!(h.keep_alive);
        assert_eq!(h.framing, Framing::None);
    }

    #[test]
    fn smuggling_rules() {
        let te_cl = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(status(te_cl), 400);
        let dup = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n";
        assert_eq!(status(dup), 400);
        let same =
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\n";
        assert_eq!(status(same), 200);
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n"),
            400
        );
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3 3\r\n\r\n"),
            400
        );
        let fold = b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n";
        assert_eq!(status(fold), 400);
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n"), 400);
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n"), 400);
        assert_eq!(status(b"GET / HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
        let te_gzip = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
        assert_eq!(status(te_gzip), 501);
        let te_last = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n";
        assert_eq!(status(te_last), 400);
        let te_10 = b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(status(te_10), 400);
        let space_name = b"GET / HTTP/1.1\r\nHost : x\r\n\r\n";
        assert_eq!(status(space_name), 400);
    }

    #[test]
    fn limits() {
        let mut big = b"GET / HTTP/1.1\r\nHost: x\r\nX: ".to_vec();
        big.extend(vec![b'a'; 17 * 1024]);
        assert_eq!(status(&big), 431);
        let mut many = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
        for i in 0..100 {
            many.extend(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend(b"\r\n");
        assert_eq!(status(&many), 431);
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n"),
            417
        );
    }

    #[test]
    fn partial_heads_wait() {
        let full = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut scanned = 0;
        for cut in 0..full.len() {
            let r = parse_head(
                &full[..cut],
                &mut scanned,
                &Limits::default(),
                "127.0.0.1:1".parse().unwrap(),
            );
            assert!(matches!(r, Ok(None)), "cut {cut}");
        }
        let r = parse_head(
            full,
            &mut scanned,
            &Limits::default(),
            "127.0.0.1:1".parse().unwrap(),
        );
        assert!(matches!(r, Ok(Some(_))));
    }
}
