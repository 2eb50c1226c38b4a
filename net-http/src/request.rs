//! `Request`: one parsed HTTP/1.1 or HTTP/2 request, head and complete body.
//!
//! The head's bytes are copied once into the request; the method, target and header
//! fields are ranges into them, so a request costs two allocations (head and field
//! table) plus its body.

use std::net::SocketAddr;
use std::ops::Range;

/// A complete request, handed to a handler. `Send`: it may go to another thread.
#[derive(Clone)]
pub struct Request {
    pub(crate) head: Vec<u8>,
    pub(crate) method: Range<usize>,
    pub(crate) target: Range<usize>,
    pub(crate) minor_version: u8,
    pub(crate) fields: Vec<(Range<usize>, Range<usize>)>,
    pub(crate) body: Vec<u8>,
    pub(crate) peer: SocketAddr,
    /// Arrived over HTTP/2.
    pub(crate) http2: bool,
}

impl Request {
    /// The method, e.g. `"GET"` (case-sensitive, as sent).
    pub fn method(&self) -> &str {
        self.str_at(&self.method)
    }

    /// The request target as sent, e.g. `"/search?q=muon"`.
    pub fn target(&self) -> &str {
        self.str_at(&self.target)
    }

    /// The path part of the target (before `?`); for an absolute-form target the
    /// path after the authority.
    pub fn path(&self) -> &str {
        path_of(self.target())
    }

    /// The query part of the target (after `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.target().split_once('?').map(|(_, q)| q)
    }

    /// 0 for HTTP/1.0, 1 for HTTP/1.1 (and for HTTP/2: see [`Request::is_http2`]).
    pub fn minor_version(&self) -> u8 {
        self.minor_version
    }

    /// Whether the request came over HTTP/2. Its `:authority` is then also a `host`
    /// field (unless it had one), and its field names are lowercase.
    pub fn is_http2(&self) -> bool {
        self.http2
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The first value of header `name` as text, if it is UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        std::str::from_utf8(self.header(name)?).ok()
    }

    /// Every header field in order, names as sent.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.fields
            .iter()
            .map(|(n, v)| (self.str_at(n), &self.head[v.clone()]))
    }

    /// The decoded body (empty when there was none).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Takes the body out of the request.
    pub fn take_body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }

    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    fn str_at(&self, r: &Range<usize>) -> &str {
        // httparse only yields tokens and targets of visible ASCII, so this never
        // fails; an empty string is the harmless answer if it ever did.
        std::str::from_utf8(&self.head[r.clone()]).unwrap_or("")
    }
}

/// The path of a request target: origin-form `/a?b` gives `/a`, absolute-form
/// `http://h/a?b` gives `/a`, `*` gives `*`.
pub(crate) fn path_of(target: &str) -> &str {
    let no_query = target.split_once('?').map_or(target, |(p, _)| p);
    if no_query.starts_with('/') || no_query == "*" {
        return no_query;
    }
    match no_query.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => no_query,
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method())
            .field("target", &self.target())
            .field("version", &format_args!("1.{}", self.minor_version))
            .field("body_len", &self.body.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::path_of;

    #[test]
    fn paths() {
        assert_eq!(path_of("/a/b?c=d"), "/a/b");
        assert_eq!(path_of("http://example.com/x?y"), "/x");
        assert_eq!(path_of("http://example.com"), "/");
        assert_eq!(path_of("*"), "*");
    }
}
