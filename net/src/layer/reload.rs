//! What a reload of a TLS configuration changed: the files and their digests. Shared by
//! the TLS providers, so both report a reload with one type.

use std::fmt;
use std::path::PathBuf;

/// A digest of each file of a TLS configuration, as read right after it was built, so
/// that the next reload can say which files changed. For TLS providers (`net-ssl`,
/// `net-rustls`): each digests with its own crypto library.
#[derive(Debug, Clone, Default)]
pub struct FileDigests(Vec<(PathBuf, Option<Vec<u8>>)>);

impl FileDigests {
    /// Reads each of `files` and keeps `digest` of its bytes (`None` for a file that
    /// cannot be read).
    pub fn of(files: &[PathBuf], digest: impl Fn(&[u8]) -> Vec<u8>) -> FileDigests {
        FileDigests(
            files
                .iter()
                .map(|path| (path.clone(), std::fs::read(path).ok().map(|b| digest(&b))))
                .collect(),
        )
    }

    /// Which of `new`'s files differ from (or were not in) this configuration.
    pub fn compare(&self, new: &FileDigests) -> ReloadSummary {
        let mut summary = ReloadSummary::default();
        for (path, digest) in &new.0 {
            let before = self.0.iter().find(|(p, _)| p == path).map(|(_, d)| d);
            if before == Some(digest) {
                summary.unchanged.push(path.clone());
            } else {
                summary.changed.push(path.clone());
            }
        }
        summary
    }
}

/// What a successful reload of a TLS configuration found (`TlsAcceptor::reload` in
/// net-ssl, `RustlsAcceptor::reload` in net-rustls): which of the configuration's files
/// changed since the previous load (by content) and which did not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadSummary {
    /// Files whose content differs from the previous load, or that are new.
    pub changed: Vec<PathBuf>,
    /// Files read again with the same content.
    pub unchanged: Vec<PathBuf>,
}

impl fmt::Display for ReloadSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |paths: &[PathBuf]| {
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if self.changed.is_empty() {
            write!(f, "no file changed ({} read again)", self.unchanged.len())
        } else {
            write!(
                f,
                "changed: {}; unchanged: {}",
                list(&self.changed),
                self.unchanged.len()
            )
        }
    }
}
