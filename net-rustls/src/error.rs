//! [`RustlsError`]: every failure of this provider, with the reason rustls gives and
//! the context it happened in (a file name, a peer address, the step that failed).
//!
//! It travels through [`net::Layer`] as an [`std::io::Error`] (kind
//! [`std::io::ErrorKind::Other`]) and can be recovered from it:
//!
//! ```
//! use net_rustls::RustlsError;
//! let io_err: std::io::Error = RustlsError::msg("handshake timed out").into();
//! let err = io_err.get_ref().and_then(|e| e.downcast_ref::<RustlsError>());
//! assert_eq!(err.map(|e| e.to_string()), Some("handshake timed out".to_string()));
//! ```

use std::fmt;
use std::io;

/// A TLS failure: rustls's error (or a PEM or I/O error) plus context, printed on one line.
#[derive(Debug)]
pub struct RustlsError {
    context: String,
    cause: Cause,
}

#[derive(Debug)]
enum Cause {
    None,
    Rustls(rustls::Error),
    Pem(rustls::pki_types::pem::Error),
    Verifier(rustls::server::VerifierBuilderError),
    Io(io::Error),
}

impl RustlsError {
    /// An error that is only a message.
    pub fn msg(context: impl Into<String>) -> RustlsError {
        RustlsError {
            context: context.into(),
            cause: Cause::None,
        }
    }

    /// An error rustls reported (a handshake alert, a bad certificate, a bad key, ...).
    pub fn rustls(context: impl Into<String>, err: rustls::Error) -> RustlsError {
        RustlsError {
            context: context.into(),
            cause: Cause::Rustls(err),
        }
    }

    /// A PEM file that could not be read or parsed.
    pub fn pem(context: impl Into<String>, err: rustls::pki_types::pem::Error) -> RustlsError {
        RustlsError {
            context: context.into(),
            cause: Cause::Pem(err),
        }
    }

    /// A client-certificate verifier that could not be built (e.g. no usable CA).
    pub fn verifier(
        context: impl Into<String>,
        err: rustls::server::VerifierBuilderError,
    ) -> RustlsError {
        RustlsError {
            context: context.into(),
            cause: Cause::Verifier(err),
        }
    }

    /// An I/O error (reading a file, for instance).
    pub fn io(context: impl Into<String>, err: io::Error) -> RustlsError {
        RustlsError {
            context: context.into(),
            cause: Cause::Io(err),
        }
    }

    /// Prefixes more context, e.g. the peer address: `"{prefix}: {old context}"`.
    pub fn context(mut self, prefix: impl fmt::Display) -> RustlsError {
        self.context = if self.context.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}: {}", self.context)
        };
        self
    }

    /// The context message (without rustls's reason).
    pub fn context_message(&self) -> &str {
        &self.context
    }

    /// rustls's own error, if the failure came from rustls.
    pub fn rustls_error(&self) -> Option<&rustls::Error> {
        match &self.cause {
            Cause::Rustls(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for RustlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context)?;
        let sep = if self.context.is_empty() { "" } else { ": " };
        match &self.cause {
            Cause::None => Ok(()),
            Cause::Rustls(e) => write!(f, "{sep}{e}"),
            Cause::Pem(e) => write!(f, "{sep}{e}"),
            Cause::Verifier(e) => write!(f, "{sep}{e}"),
            Cause::Io(e) => write!(f, "{sep}{e}"),
        }
    }
}

impl std::error::Error for RustlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.cause {
            Cause::None => None,
            Cause::Rustls(e) => Some(e),
            Cause::Pem(e) => Some(e),
            Cause::Verifier(e) => Some(e),
            Cause::Io(e) => Some(e),
        }
    }
}

impl From<RustlsError> for io::Error {
    fn from(err: RustlsError) -> io::Error {
        io::Error::other(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_io_error() {
        let err = RustlsError::msg("handshake").context("127.0.0.1:9");
        let io_err: io::Error = err.into();
        let back = io_err
            .get_ref()
            .and_then(|e| e.downcast_ref::<RustlsError>())
            .map(|e| e.to_string());
        assert_eq!(back.as_deref(), Some("127.0.0.1:9: handshake"));
    }
}
