//! [`TlsError`]: every TLS failure, with OpenSSL's own reasons and the context it
//! happened in (a file name, a peer address, the step that failed).
//!
//! A `TlsError` travels through [`net::Layer`] as an [`std::io::Error`] (kind
//! [`std::io::ErrorKind::Other`]) and can be recovered from it:
//!
//! ```
//! use net_ssl::TlsError;
//! let io_err: std::io::Error = TlsError::msg("handshake timed out").into();
//! let tls = io_err.get_ref().and_then(|e| e.downcast_ref::<TlsError>());
//! assert_eq!(tls.map(|e| e.to_string()), Some("handshake timed out".to_string()));
//! ```

use std::fmt;
use std::io;

use openssl::error::ErrorStack;
use openssl::ssl::{self, ErrorCode};
use openssl::x509::X509VerifyResult;

/// A TLS failure: OpenSSL's error stack (or SSL error) plus context.
///
/// `Display` prints everything on one line: the context, then OpenSSL's reasons
/// (library, function, reason, source position), then the certificate verification
/// result when a verification failed, so a log line says *why* without further digging.
#[derive(Debug)]
pub struct TlsError {
    context: String,
    cause: Cause,
    verify: Option<X509VerifyResult>,
}

#[derive(Debug)]
enum Cause {
    None,
    Stack(ErrorStack),
    Ssl(ssl::Error),
    Io(io::Error),
}

impl TlsError {
    /// An error that is only a message (no OpenSSL error behind it).
    pub fn msg(context: impl Into<String>) -> TlsError {
        TlsError {
            context: context.into(),
            cause: Cause::None,
            verify: None,
        }
    }

    /// An error from an OpenSSL call that reports an [`ErrorStack`].
    pub fn stack(context: impl Into<String>, stack: ErrorStack) -> TlsError {
        TlsError {
            context: context.into(),
            cause: Cause::Stack(stack),
            verify: None,
        }
    }

    /// An error from `SSL_read`/`SSL_write`/`SSL_do_handshake`/`SSL_shutdown`.
    pub fn ssl(context: impl Into<String>, err: ssl::Error) -> TlsError {
        TlsError {
            context: context.into(),
            cause: Cause::Ssl(err),
            verify: None,
        }
    }

    /// An I/O error (reading a certificate file, for instance).
    pub fn io(context: impl Into<String>, err: io::Error) -> TlsError {
        TlsError {
            context: context.into(),
            cause: Cause::Io(err),
            verify: None,
        }
    }

    /// Attaches the certificate verification result (shown when it is not "ok").
    pub fn with_verify_result(mut self, verify: X509VerifyResult) -> TlsError {
        if verify != X509VerifyResult::OK {
            self.verify = Some(verify);
        }
        self
    }

    /// Prefixes more context, e.g. the peer address: `"{prefix}: {old context}"`.
    pub fn context(mut self, prefix: impl fmt::Display) -> TlsError {
        self.context = if self.context.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}: {}", self.context)
        };
        self
    }

    /// The context message (without OpenSSL's reasons).
    pub fn context_message(&self) -> &str {
        &self.context
    }

    /// OpenSSL's error stack, if the failure came with one.
    pub fn error_stack(&self) -> Option<&ErrorStack> {
        match &self.cause {
            Cause::Stack(stack) => Some(stack),
            Cause::Ssl(err) => err.ssl_error(),
            _ => None,
        }
    }

    /// The SSL error (with its [`ErrorCode`]), if the failure came from an SSL I/O call.
    pub fn ssl_error(&self) -> Option<&ssl::Error> {
        match &self.cause {
            Cause::Ssl(err) => Some(err),
            _ => None,
        }
    }

    /// The certificate verification result, if a verification failed.
    pub fn verify_result(&self) -> Option<X509VerifyResult> {
        self.verify
    }
}

/// Writes an error stack as one line: `lib:func:reason (file:line)` entries joined by `; `.
fn write_stack(f: &mut fmt::Formatter<'_>, stack: &ErrorStack) -> fmt::Result {
    if stack.errors().is_empty() {
        return f.write_str("no OpenSSL reason recorded");
    }
    for (i, e) in stack.errors().iter().enumerate() {
        if i > 0 {
            f.write_str("; ")?;
        }
        let reason = e.reason().unwrap_or("unknown reason");
        match (e.library(), e.function()) {
            (Some(lib), Some(func)) => write!(f, "{lib}:{func}:{reason}")?,
            (Some(lib), None) => write!(f, "{lib}:{reason}")?,
            _ => f.write_str(reason)?,
        }
        if let Some(data) = e.data() {
            write!(f, " ({data})")?;
        }
        write!(f, " [{}:{}]", e.file(), e.line())?;
    }
    Ok(())
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context)?;
        let sep = if self.context.is_empty() { "" } else { ": " };
        match &self.cause {
            Cause::None => {}
            Cause::Stack(stack) => {
                f.write_str(sep)?;
                write_stack(f, stack)?;
            }
            Cause::Ssl(err) => {
                f.write_str(sep)?;
                match (err.ssl_error(), err.io_error()) {
                    (Some(stack), _) => write_stack(f, stack)?,
                    (None, Some(io)) => write!(f, "I/O error: {io}")?,
                    (None, None) => match err.code() {
                        ErrorCode::SYSCALL => f.write_str("unexpected end of stream")?,
                        ErrorCode::ZERO_RETURN => f.write_str("the peer closed the TLS session")?,
                        code => write!(f, "SSL error code {}", code.as_raw())?,
                    },
                }
            }
            Cause::Io(err) => write!(f, "{sep}{err}")?,
        }
        if let Some(verify) = self.verify {
            write!(f, " (certificate verification: {})", verify.error_string())?;
        }
        Ok(())
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.cause {
            Cause::None => None,
            Cause::Stack(stack) => Some(stack),
            Cause::Ssl(err) => Some(err),
            Cause::Io(err) => Some(err),
        }
    }
}

impl From<TlsError> for io::Error {
    fn from(err: TlsError) -> io::Error {
        io::Error::other(err)
    }
}

impl From<ErrorStack> for TlsError {
    fn from(stack: ErrorStack) -> TlsError {
        TlsError::stack("OpenSSL", stack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_io_error() {
        let err = TlsError::msg("handshake").context("127.0.0.1:9");
        let io_err: io::Error = err.into();
        assert_eq!(io_err.kind(), io::ErrorKind::Other);
        let back = io_err
            .get_ref()
            .and_then(|e| e.downcast_ref::<TlsError>())
            .map(|e| e.to_string());
        assert_eq!(back.as_deref(), Some("127.0.0.1:9: handshake"));
    }

    #[test]
    fn shows_openssl_reasons_on_one_line() {
        let stack = match openssl::x509::X509::from_pem(b"not a certificate") {
            Err(stack) => stack,
            Ok(_) => return,
        };
        let text = TlsError::stack("parsing x.crt", stack).to_string();
        assert!(text.starts_with("parsing x.crt: "), "{text}");
        assert!(!text.contains('\n'), "{text}");
        assert!(text.to_lowercase().contains("pem"), "{text}");
    }
}
