//! `HttpError`: why a request was refused, as the status the client gets.

/// A request the server refuses: the status to answer with, then the connection
/// closes (the framing of what follows can no longer be trusted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpError {
    /// 400, 408, 413, 417, 431, 501 ...
    pub status: u16,
    /// Why, for the log and the response body.
    pub reason: &'static str,
}

impl HttpError {
    pub(crate) const fn new(status: u16, reason: &'static str) -> Self {
        HttpError { status, reason }
    }

    pub(crate) const fn bad(reason: &'static str) -> Self {
        HttpError::new(400, reason)
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.status, self.reason)
    }
}

impl std::error::Error for HttpError {}
