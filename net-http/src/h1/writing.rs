//! What an HTTP/1.1 connection is writing: answers in request order, a streamed body
//! pulled under the high-water mark, or nothing more, once the connection has been
//! handed over to WebSocket.

use crate::response::{BodySource, OutFraming};

/// The writing state.
pub(crate) enum Writing {
    /// Answers go out in request order as they become ready.
    InOrder,
    /// A streamed body is being pulled while the output is below the high-water mark;
    /// the answers behind it wait.
    Streaming(Streaming),
    /// The 101 went out and WebSocket owns the connection: HTTP is finished with it.
    Upgraded,
}

/// A response body pulled chunk by chunk from its source.
pub(crate) struct Streaming {
    pub(crate) source: Box<dyn BodySource>,
    pub(crate) framing: OutFraming,
    /// Bytes still owed to the declared `Content-Length`, if one was declared.
    pub(crate) remaining: Option<u64>,
}

impl Writing {
    /// Whether a streamed body is in progress.
    pub(crate) fn is_streaming(&self) -> bool {
        matches!(self, Writing::Streaming(_))
    }

    /// Whether the connection belongs to WebSocket now.
    pub(crate) fn is_upgraded(&self) -> bool {
        matches!(self, Writing::Upgraded)
    }
}
