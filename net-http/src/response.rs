//! `Response`: what a handler answers with; and how a response head is written.

use crate::date::append_date;
use crate::field_check::{valid_name, valid_value};

/// Pulls a streamed body one chunk at a time, on the connection's loop, whenever the
/// connection's queued output is below the high-water mark. `None` ends the body. It
/// must not block: the chunks must be at hand (a file, memory, a generator). An empty
/// chunk is skipped; a source that returns many empty chunks in a row is taken for a
/// bug and its connection is closed.
pub trait BodySource: Send {
    /// The next piece of the body, or `None` at its end.
    fn next_chunk(&mut self) -> Option<Vec<u8>>;
}

impl<F: FnMut() -> Option<Vec<u8>> + Send> BodySource for F {
    fn next_chunk(&mut self) -> Option<Vec<u8>> {
        self()
    }
}

/// A response body.
pub enum Body {
    /// No body (`Content-Length: 0`).
    Empty,
    /// All of it, in memory.
    Bytes(Vec<u8>),
    /// Produced piece by piece with backpressure. With a known length it is sent
    /// with `Content-Length`, otherwise chunked (HTTP/1.1) or until close (1.0).
    Stream {
        /// The total length, if known.
        len: Option<u64>,
        /// Where the pieces come from.
        source: Box<dyn BodySource>,
    },
}

/// A response: status, header fields, body. `Send`, so another thread can build it.
///
/// `Date`, `Content-Length`, `Transfer-Encoding` and `Connection` are written by the
/// server; the same names set here are ignored (they would contradict its framing).
pub struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Body,
    pub(crate) close: bool,
    pub(crate) trailers: Vec<(String, Vec<u8>)>,
}

impl Response {
    /// A response with `status` and no body.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Empty,
            close: false,
            trailers: Vec::new(),
        }
    }

    /// 200 with a `text/plain; charset=utf-8` body.
    pub fn text(body: impl Into<String>) -> Self {
        Response::new(200)
            .known_header("Content-Type", "text/plain; charset=utf-8")
            .body(body.into().into_bytes())
    }

    /// 200 with a `text/html; charset=utf-8` body.
    pub fn html(body: impl Into<String>) -> Self {
        Response::new(200)
            .known_header("Content-Type", "text/html; charset=utf-8")
            .body(body.into().into_bytes())
    }

    /// 200 with an `application/json` body: `body` is JSON already serialized (by
    /// serde_json, or by hand). With the `json` feature, `Response::json_value`
    /// serializes a value.
    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Response::new(200)
            .known_header("Content-Type", "application/json")
            .body(body)
    }

    /// 200 with `value` serialized as JSON (`application/json`), or 500 (logged) if
    /// it cannot be serialized (a map with non-string keys, say). Feature `json`.
    #[cfg(feature = "json")]
    pub fn json_value<T: serde::Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Response::json(body),
            Err(e) => {
                log::error!("response not serializable as JSON: {e}");
                Response::status(500)
            }
        }
    }

    /// A status with a short plain-text body saying what it is.
    pub fn status(status: u16) -> Self {
        let text = format!("{status} {}\n", reason_phrase(status));
        Response::text(text).with_status(status)
    }

    /// Replaces the status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Adds a header field. A value containing CR or LF is dropped with a warning
    /// (it would split the response).
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        let value = value.as_ref();
        if !valid_name(name) || !valid_value(value) {
            log::warn!("response header {name:?} dropped: invalid name or value");
            return self;
        }
        if server_written(name) {
            if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case(b"close") {
                self.close = true;
            }
            return self;
        }
        self.headers.push((name.to_string(), value.to_vec()));
        self
    }

    /// Adds a field the crate itself knows to be valid and not written by the server
    /// (a constant of this file), without the checks of [`Response::header`].
    fn known_header(mut self, name: &'static str, value: &'static str) -> Self {
        debug_assert!(valid_name(name) && valid_value(value.as_bytes()) && !server_written(name));
        self.headers
            .push((name.to_string(), value.as_bytes().to_vec()));
        self
    }

    /// Adds a trailer field, sent after the body (gRPC's `grpc-status` is one). Sent
    /// over HTTP/2 only: HTTP/1.1 responses drop their trailers. A name or value that
    /// could not be sent is dropped with a warning.
    pub fn trailer(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        let value = value.as_ref();
        if !valid_name(name) || !valid_value(value) {
            log::warn!("response trailer {name:?} dropped: invalid name or value");
            return self;
        }
        self.trailers.push((name.to_string(), value.to_vec()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Body::Bytes(body.into());
        self
    }

    /// Streams the body from `source` (see [`Body::Stream`]).
    pub fn stream(mut self, len: Option<u64>, source: impl BodySource + 'static) -> Self {
        self.body = Body::Stream {
            len,
            source: Box::new(source),
        };
        self
    }

    /// Closes the connection after this response.
    pub fn close(mut self) -> Self {
        self.close = true;
        self
    }

    /// The status code.
    pub fn status_code(&self) -> u16 {
        self.status
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers.len())
            .finish()
    }
}

/// Whether the server writes field `name` itself (framing, `Date`, `Connection`).
fn server_written(name: &str) -> bool {
    // By length first: most names are none of these and cost one comparison.
    let written: &str = match name.len() {
        4 => "date",
        10 => "connection",
        14 => "content-length",
        17 => "transfer-encoding",
        _ => return false,
    };
    name.eq_ignore_ascii_case(written)
}

/// How the head frames the body that follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutFraming {
    /// `Content-Length` (or no body at all for 1xx/204/304).
    Length,
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the connection closes (HTTP/1.0 stream of unknown length).
    Close,
}

/// Whether a status may carry no body by definition (RFC 9110 §6.4.1).
pub(crate) fn bodiless(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}

/// Writes the status line and header fields of `resp` (ending in the empty line) to
/// `out`; returns how the body must be framed. `keep_alive` is the decision already
/// made for the connection.
pub(crate) fn write_head(
    resp: &Response,
    minor_version: u8,
    keep_alive: bool,
    out: &mut Vec<u8>,
) -> OutFraming {
    out.extend_from_slice(b"HTTP/1.1 ");
    push_u64(out, u64::from(resp.status));
    out.push(b' ');
    out.extend_from_slice(reason_phrase(resp.status).as_bytes());
    out.extend_from_slice(b"\r\nDate: ");
    append_date(out);
    out.extend_from_slice(b"\r\n");
    for (n, v) in &resp.headers {
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    let framing = if bodiless(resp.status) {
        OutFraming::Length
    } else {
        let len = match &resp.body {
            Body::Empty => Some(0),
            Body::Bytes(b) => Some(b.len() as u64),
            Body::Stream { len, .. } => *len,
        };
        match len {
            Some(n) => {
                out.extend_from_slice(b"Content-Length: ");
                push_u64(out, n);
                out.extend_from_slice(b"\r\n");
                OutFraming::Length
            }
            None if minor_version >= 1 => {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
                OutFraming::Chunked
            }
            None => OutFraming::Close,
        }
    };
    if !keep_alive || framing == OutFraming::Close {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if minor_version == 0 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    framing
}

fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// The reason phrase of common statuses ("" for others; clients ignore it).
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        417 => "Expectation Failed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_with_length_and_filtered_headers() {
        let r = Response::text("hi")
            .header("Content-Length", "99")
            .header("X-Bad", "a\r\nInjected: 1")
            .header("X-Ok", "v");
        let mut out = Vec::new();
        assert_eq!(write_head(&r, 1, true, &mut out), OutFraming::Length);
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("HTTP/1.1 200 OK\r\nDate: "));
        assert!(s.contains("\r\nContent-Length: 2\r\n"));
        assert!(s.contains("\r\nX-Ok: v\r\n"));
        assert!(!s.contains("Injected") && !s.contains("99"));
        assert!(s.ends_with("\r\n\r\n"));
    }

    #[test]
    fn stream_without_length_is_chunked_in_11_and_close_in_10() {
        let r = Response::new(200).stream(None, || None);
        let mut out = Vec::new();
        assert_eq!(write_head(&r, 1, true, &mut out), OutFraming::Chunked);
        let mut out = Vec::new();
        assert_eq!(write_head(&r, 0, true, &mut out), OutFraming::Close);
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("Connection: close"));
    }
}

#[cfg(all(test, feature = "json"))]
mod json_tests {
    use super::{Body, Response};

    #[test]
    fn json_value_serializes_or_answers_500() {
        let r = Response::json_value(&vec![("a", 1)]);
        let Body::Bytes(b) = &r.body else {
            panic!("bytes body")
        };
        assert_eq!((r.status, b.as_slice()), (200, &br#"[["a",1]]"#[..]));
        let mut bad = std::collections::HashMap::new();
        bad.insert(vec![1u8], 1);
        assert_eq!(Response::json_value(&bad).status, 500);
    }
}
