//! Between `http`'s types (what `h2` speaks) and the crate's own `Request` and
//! `Response`, so handlers are the same for HTTP/1.1 and HTTP/2.

use std::cell::RefCell;
use std::net::SocketAddr;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

use crate::date::with_date;
use crate::error::HttpError;
use crate::limits::Limits;
use crate::request::Request;
use crate::response::Response;
use crate::response::{bodiless, Body, BodySource};

/// Why a request head is not served.
pub(super) enum Refused {
    /// Answered with this status (a limit).
    Status(HttpError),
    /// Malformed (RFC 9113 §8.1.1): the stream is reset with PROTOCOL_ERROR.
    Malformed(&'static str),
}

/// The request rules `h2` leaves to the server (RFC 9113 §8.2.1, §8.3.1, §8.5). Ok:
/// whether the request has a `host` field.
fn check_malformed(parts: &http::request::Parts) -> Result<bool, &'static str> {
    let ws = |b: &u8| *b == b' ' || *b == b'\t';
    for v in parts.headers.values() {
        let b = v.as_bytes();
        if b.first().is_some_and(ws) || b.last().is_some_and(ws) {
            return Err("a field value with leading or trailing whitespace");
        }
    }
    let authority = parts.uri.authority();
    if parts.method == http::Method::CONNECT && authority.is_none() {
        return Err("CONNECT without :authority");
    }
    let host = parts.headers.get(http::header::HOST);
    if let (Some(a), Some(host)) = (authority, host) {
        if !a.as_str().as_bytes().eq_ignore_ascii_case(host.as_bytes()) {
            return Err("a host field that differs from :authority");
        }
    }
    Ok(host.is_some())
}

/// Makes the crate's `Request` from an HTTP/2 request head. `:authority` becomes a
/// `host` field when the request has none, so handlers that read `Host` work alike.
pub(super) fn request_from(
    parts: &http::request::Parts,
    limits: &Limits,
    peer: SocketAddr,
) -> Result<Request, Refused> {
    let has_host = check_malformed(parts).map_err(Refused::Malformed)?;
    if parts.headers.len() > limits.max_headers {
        return Err(Refused::Status(HttpError::new(
            431,
            "too many header fields",
        )));
    }
    let method = parts.method.as_str();
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |pq| pq.as_str());
    let authority = parts.uri.authority().map(|a| a.as_str());
    let mut size = method.len() + target.len();
    for (n, v) in &parts.headers {
        size += n.as_str().len() + v.len();
    }
    let mut head = Vec::with_capacity(size + authority.map_or(0, |a| a.len() + 4));
    let push = |head: &mut Vec<u8>, bytes: &[u8]| {
        let start = head.len();
        head.extend_from_slice(bytes);
        start..head.len()
    };
    let method_r = push(&mut head, method.as_bytes());
    let target_r = push(&mut head, target.as_bytes());
    let mut fields = Vec::with_capacity(parts.headers.len() + 1);
    if let Some(a) = authority.filter(|_| !has_host) {
        let n = push(&mut head, b"host");
        let v = push(&mut head, a.as_bytes());
        fields.push((n, v));
    }
    for (n, v) in &parts.headers {
        let n = push(&mut head, n.as_str().as_bytes());
        let v = push(&mut head, v.as_bytes());
        fields.push((n, v));
    }
    Ok(Request {
        head,
        method: method_r,
        target: target_r,
        minor_version: 1,
        fields,
        body: Vec::new(),
        peer,
        http2: true,
    })
}

/// A response body as it goes out over HTTP/2.
pub(super) enum OutBody {
    /// Nothing more (the head carried END_STREAM, or the body is done).
    Done,
    /// The rest of an in-memory body.
    Bytes(Bytes),
    /// A streamed body: what the last chunk left over, and how much the declared
    /// length still expects.
    Stream {
        source: Box<dyn BodySource>,
        pending: Bytes,
        remaining: Option<u64>,
    },
}

/// The connection-specific fields RFC 9113 §8.2.2 forbids in HTTP/2.
const CONNECTION_SPECIFIC: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// Splits `resp` into the HTTP/2 head, the body, and the trailers. A field whose name or
/// value `http` refuses, or that HTTP/2 forbids, is dropped with a warning.
pub(super) fn response_parts(
    resp: Response,
    head_only: bool,
) -> (http::Response<()>, OutBody, Option<HeaderMap>) {
    let mut head = http::Response::new(());
    *head.status_mut() =
        http::StatusCode::from_u16(resp.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = head.headers_mut();
    if let Some(v) = date_value() {
        headers.insert(http::header::DATE, v);
    }
    put_fields(headers, resp.headers);
    let no_body = head_only || bodiless(resp.status);
    let len = match &resp.body {
        Body::Empty => Some(0),
        Body::Bytes(b) => Some(b.len() as u64),
        Body::Stream { len, .. } => *len,
    };
    if let Some(n) = len.filter(|_| !bodiless(resp.status)) {
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    let trailers = (!resp.trailers.is_empty() && !no_body).then(|| {
        let mut t = HeaderMap::new();
        put_fields(&mut t, resp.trailers);
        t
    });
    let body = match resp.body {
        _ if no_body => OutBody::Done,
        Body::Empty => OutBody::Done,
        Body::Bytes(b) if b.is_empty() => OutBody::Done,
        Body::Bytes(b) => OutBody::Bytes(Bytes::from(b)),
        Body::Stream { len, source } => OutBody::Stream {
            source,
            pending: Bytes::new(),
            remaining: len,
        },
    };
    (head, body, trailers)
}

thread_local! {
    /// The `Date` field of the current second on this loop thread: a response clones
    /// it (a reference count) instead of checking and copying the value each time.
    static DATE: RefCell<(u64, Option<HeaderValue>)> = const { RefCell::new((u64::MAX, None)) };
}

/// The current `Date` field value.
fn date_value() -> Option<HeaderValue> {
    with_date(|secs, date| {
        DATE.with(|d| {
            let mut d = d.borrow_mut();
            if d.0 != secs {
                let v = HeaderValue::from_maybe_shared(Bytes::copy_from_slice(date)).ok();
                *d = (secs, v);
            }
            d.1.clone()
        })
    })
}

fn put_fields(map: &mut HeaderMap, fields: Vec<(String, Vec<u8>)>) {
    for (n, v) in fields {
        let name = match HeaderName::from_bytes(n.as_bytes()) {
            Ok(name) if !CONNECTION_SPECIFIC.contains(&name.as_str()) => name,
            _ => {
                log::warn!("HTTP/2 response field {n:?} dropped: not allowed in HTTP/2");
                continue;
            }
        };
        // The value's bytes move into the field (checked, not copied).
        match HeaderValue::from_maybe_shared(Bytes::from(v)) {
            Ok(value) => {
                map.append(name, value);
            }
            Err(_) => log::warn!("HTTP/2 response field {n:?} dropped: invalid value"),
        }
    }
}
