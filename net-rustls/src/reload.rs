//! What a reload changed: the files of a configuration and their digests (the same
//! report as net-ssl's).

use std::fmt;
use std::path::PathBuf;

/// The SHA-256 of each file of a configuration, as read right after it was built.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileDigests(Vec<(PathBuf, Option<Vec<u8>>)>);

impl FileDigests {
    pub(crate) fn of(files: &[PathBuf]) -> FileDigests {
        FileDigests(
            files
                .iter()
                .map(|path| {
                    let digest = std::fs::read(path).ok().map(|bytes| {
                        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes)
                            .as_ref()
                            .to_vec()
                    });
                    (path.clone(), digest)
                })
                .collect(),
        )
    }

    /// Which of `new`'s files differ from (or were not in) this configuration.
    pub(crate) fn compare(&self, new: &FileDigests) -> ReloadSummary {
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

/// What a successful [`crate::RustlsAcceptor::reload`] found: which of the
/// configuration's files changed since the previous load (by content) and which did
/// not. Shaped and printed like net-ssl's `ReloadSummary`.
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
