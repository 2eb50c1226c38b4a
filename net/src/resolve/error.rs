//! `ResolveError`: what went wrong with a name, said so that a log line names it.

use std::fmt;
use std::io;

/// Why a name did not resolve. Each names the host asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// Every name tried (the host and its search-list forms) does not exist.
    NxDomain {
        /// The host asked for.
        name: String,
    },
    /// The name exists but has no A or AAAA record.
    NoAddress {
        /// The host asked for.
        name: String,
    },
    /// No nameserver answered: `tries` queries of the configured timeout each, over
    /// `nameservers` servers.
    Timeout {
        /// The host asked for.
        name: String,
        /// Queries sent (attempts × nameservers).
        tries: u32,
        /// Nameservers configured.
        nameservers: usize,
    },
    /// The nameservers answered with an error (SERVFAIL, REFUSED, ...).
    ServerFailure {
        /// The host asked for.
        name: String,
        /// The response code, as DNS names it.
        code: String,
    },
    /// No nameserver is configured (and the name is not in the hosts file).
    NoNameserver {
        /// The host asked for.
        name: String,
    },
    /// Not a valid host name.
    InvalidName {
        /// The text given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A socket error talking to the nameservers.
    Io {
        /// The host asked for.
        name: String,
        /// The error.
        error: String,
    },
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::NxDomain { name } => write!(f, "{name}: no such domain (NXDOMAIN)"),
            ResolveError::NoAddress { name } => write!(f, "{name}: no A or AAAA record"),
            ResolveError::Timeout {
                name,
                tries,
                nameservers,
            } => write!(
                f,
                "{name}: no answer after {tries} queries to {nameservers} nameserver(s)"
            ),
            ResolveError::ServerFailure { name, code } => {
                write!(f, "{name}: nameserver answered {code}")
            }
            ResolveError::NoNameserver { name } => {
                write!(
                    f,
                    "{name}: not in the hosts file and no nameserver configured"
                )
            }
            ResolveError::InvalidName { name, reason } => {
                write!(f, "{name:?} is not a valid host name: {reason}")
            }
            ResolveError::Io { name, error } => write!(f, "{name}: {error}"),
        }
    }
}

impl std::error::Error for ResolveError {}

impl From<ResolveError> for io::Error {
    fn from(e: ResolveError) -> io::Error {
        let kind = match e {
            ResolveError::NxDomain { .. } | ResolveError::NoAddress { .. } => {
                io::ErrorKind::NotFound
            }
            ResolveError::Timeout { .. } => io::ErrorKind::TimedOut,
            ResolveError::InvalidName { .. } => io::ErrorKind::InvalidInput,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}
