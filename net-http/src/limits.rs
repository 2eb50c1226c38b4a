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
    /// Most header fields in one request; more is 431 (default 64, at most
    /// 128).
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
    /// HTTP/2: streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS);
    /// a stream over it is refused with RST_STREAM(REFUSED_STREAM) (default 100).
    /// Request bodies in flight are bounded by this times `max_body_bytes`.
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2: each stream's receive window (SETTINGS_INITIAL_WINDOW_SIZE); the
    /// connection's is four times it (default 256 KiB).
    pub h2_initial_window_size: u32,
    /// HTTP/2: the largest frame payload the server accepts (SETTINGS_MAX_FRAME_SIZE,
    /// 16 KiB to 16 MiB; default 16 KiB). HEADERS and CONTINUATION together are
    /// bounded by `max_header_bytes` (SETTINGS_MAX_HEADER_LIST_SIZE).
    pub h2_max_frame_size: u32,
    /// HTTP/2: streams the client may open and reset before the server accepts them
    /// (rapid reset, CVE-2023-44487); more is GOAWAY(ENHANCE_YOUR_CALM) (default 20).
    pub h2_max_pending_reset_streams: usize,
    /// HTTP/2: SETTINGS and PING frames (not ACKs) the peer may send in a row without
    /// a request between them; more is GOAWAY(ENHANCE_YOUR_CALM) (default 1,000).
    pub h2_max_control_frames: u32,
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
            h2_max_concurrent_streams: 100,
            h2_initial_window_size: 256 * 1024,
            h2_max_frame_size: 16 * 1024,
            h2_max_pending_reset_streams: 20,
            h2_max_control_frames: 1000,
        }
    }
}
