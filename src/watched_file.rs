//! Files read again when they change, without re-reading them on every use: the `stat` check
//! shared by the secret files of [`crate::auth`] and the `--web.config.file` of [`crate::http`].
//!
//! A file counts as changed when its device, inode, size or modification time differ, following
//! symlinks, so a Kubernetes Secret volume (which swaps a `..data` symlink) and a rotation that
//! writes a new file and renames it are both seen. Checks are throttled to one per interval:
//! however many requests a scrape sends, a file is `stat`ed at most once a second.

use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

/// How often a watched file is checked at most.
pub(crate) const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Identity and version of a file: a change in any field means "read it again".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    modified: Option<std::time::SystemTime>,
}

impl Stamp {
    /// The stamp of the file at `path` now (the target, when `path` is a symlink).
    pub(crate) fn of(path: &Path) -> std::io::Result<Self> {
        let meta = std::fs::metadata(path)?;
        #[cfg(unix)]
        let (dev, ino) = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let (dev, ino) = (0, 0);
        Ok(Self {
            dev,
            ino,
            size: meta.len(),
            modified: meta.modified().ok(),
        })
    }

    /// The stamps of `paths`, `None` for a file that cannot be `stat`ed.
    pub(crate) fn of_all<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Vec<Option<Self>> {
        paths.into_iter().map(|path| Self::of(path).ok()).collect()
    }
}

/// When files were last checked; says whether the next check is due.
#[derive(Debug)]
pub(crate) struct Throttle {
    checked_at: Instant,
}

impl Throttle {
    /// Checked just now.
    pub(crate) fn new() -> Self {
        Self {
            checked_at: Instant::now(),
        }
    }

    /// `true` (and counts as checked now) when [`CHECK_INTERVAL`] has passed since the last
    /// check; `false` otherwise.
    pub(crate) fn due(&mut self) -> bool {
        if self.checked_at.elapsed() < CHECK_INTERVAL {
            return false;
        }
        self.checked_at = Instant::now();
        true
    }

    /// Makes the next [`Throttle::due`] answer `true`.
    #[cfg(test)]
    pub(crate) fn expire(&mut self) {
        self.checked_at -= CHECK_INTERVAL;
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewritten_or_swapped_file_has_a_new_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "one").unwrap();
        let first = Stamp::of(&path).unwrap();
        assert_eq!(Stamp::of(&path).unwrap(), first, "unchanged");
        let next = dir.path().join("secret.new");
        std::fs::write(&next, "two").unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert_ne!(Stamp::of(&path).unwrap(), first, "a new inode");
    }

    #[test]
    fn a_missing_file_has_no_stamp() {
        assert!(Stamp::of(Path::new("/nonexistent/secret")).is_err());
        assert_eq!(Stamp::of_all([Path::new("/nonexistent/secret")]), [None]);
    }

    #[tokio::test(start_paused = true)]
    async fn checks_are_due_once_per_interval() {
        let mut throttle = Throttle::new();
        assert!(!throttle.due());
        tokio::time::advance(CHECK_INTERVAL).await;
        assert!(throttle.due());
        assert!(!throttle.due(), "counted as checked");
    }
}
