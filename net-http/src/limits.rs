//! `Limits`: what one connection may make the server hold or wait for.

use std::time::Duration;

/// Per-connection limits and timeouts, shared by every connection of a service.
///
/// Every one of them bounds memory or time a peer can take: a request over a limit is
/// answered with the status below and the connection is closed.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request head (request line + headers + final CRLF); more is 431
    /// (default 16 KiB). Also bounds a chunked body's trailer section.
    pub max_header_bytes: usize,
    /// Most header fields in one request; more is 431 (default 64; values above 128
    /// count as 128, the parser's fixed table).
    pub max_headers: usize,
    /// Largest request body, by `Content-Length` or decoded chunks; more is 413
    /// (default 1 MiB).
    pub max_body_bytes: usize,
    /// How long a request head (and then each pause in its body) may take to
    /// arrive; then 408 and close (default 10 s). Also how long a new connection may
    /// stay silent. Stops slowloris.
    pub header_read_timeout: Duration,
    /// How long a kept-alive connection may sit idle between requests before it is
    /// closed (default 60 s).
    pub keep_alive_timeout: Duration,
    /// Requests parsed ahead of their responses; at the limit reading pauses until
    /// responses go out (default 16).
    pub max_pipelined: usize,
    /// Output bytes queued above which a streamed body waits for the socket to
    /// drain (default 64 KiB).
    pub stream_high_water: usize,
    /// Largest WebSocket message (all fragments together); more closes with 1009
    /// (default 1 MiB).
    pub ws_max_message_bytes: usize,
    /// Output bytes already queued for one WebSocket above which a send (own,
    /// broadcast or from a handle) closes it instead: a peer that does not read must
    /// not make the server buffer every broadcast (default 4 MiB). A single message
    /// larger than this still goes to a peer that keeps up.
    pub ws_max_queued_bytes: usize,
}

/// The most header fields any request may carry (the parser's array is this long).
pub(crate) const MAX_HEADERS: usize = 128;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            max_body_bytes: 1024 * 1024,
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(60),
            max_pipelined: 16,
            stream_high_water: 64 * 1024,
            ws_max_message_bytes: 1024 * 1024,
            ws_max_queued_bytes: 4 * 1024 * 1024,
        }
    }
}
