//! Secrets read from files and re-read when the file changes, so a rotating sidecar or a
//! Kubernetes Secret volume (which swaps a symlink) works without a restart.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::config::{Secret, SecretSource};

/// How long a checked file is trusted before it is looked at again: one `stat` a second at
/// most, however many requests a scrape sends.
const RECHECK_AFTER: Duration = Duration::from_secs(1);

pub struct SecretFile {
    path: PathBuf,
    cache: Mutex<Option<Cached>>,
}

struct Cached {
    checked: Instant,
    stamp: Stamp,
    token: Secret,
}

/// What tells us the file changed: modification time, inode (a swapped symlink) and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    inode: u64,
    len: u64,
}

impl SecretFile {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            cache: Mutex::new(None),
        }
    }

    /// The secret now in the file. The error names the file and the problem, never the content.
    pub fn current(&self) -> Result<Secret, String> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(cached) = cache.as_ref() {
            if cached.checked.elapsed() < RECHECK_AFTER {
                return Ok(cached.token.clone());
            }
        }
        let stamp = self.stamp()?;
        if let Some(cached) = cache.as_mut() {
            if cached.stamp == stamp {
                cached.checked = Instant::now();
                return Ok(cached.token.clone());
            }
        }
        let token = read_secret_file(&self.path)?;
        *cache = Some(Cached {
            checked: Instant::now(),
            stamp,
            token: token.clone(),
        });
        Ok(token)
    }

    fn stamp(&self) -> Result<Stamp, String> {
        let meta = std::fs::metadata(&self.path)
            .map_err(|err| format!("secret file {}: {err}", self.path.display()))?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Ok(Stamp {
            modified: meta.modified().ok(),
            inode,
            len: meta.len(),
        })
    }
}

/// A secret given inline (through `${VAR}`) or in a file re-read on change.
pub enum SecretReader {
    Inline(Secret),
    File(SecretFile),
}

impl SecretReader {
    pub fn new(source: &SecretSource) -> Self {
        match source {
            SecretSource::Inline(secret) => Self::Inline(secret.clone()),
            SecretSource::File(path) => {
                super::warn_if_world_readable(path);
                Self::File(SecretFile::new(path.clone()))
            }
        }
    }

    pub fn current(&self) -> Result<Secret, String> {
        match self {
            Self::Inline(secret) => Ok(secret.clone()),
            Self::File(file) => file.current(),
        }
    }
}

/// Reads a secret file, trimming surrounding white space (editors add a newline).
pub fn read_secret_file(path: &std::path::Path) -> Result<Secret, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("secret file {}: {err}", path.display()))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("secret file {} is empty", path.display()));
    }
    Ok(Secret::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_up_a_rotated_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "first\n").unwrap();
        let file = SecretFile::new(path.clone());
        assert_eq!(file.current().unwrap().expose(), "first");

        // A Kubernetes Secret update: a new file swapped in under the same name.
        let next = dir.path().join("token.new");
        std::fs::write(&next, "second-token\n").unwrap();
        std::fs::rename(&next, &path).unwrap();
        file.cache.lock().unwrap().as_mut().unwrap().checked -= RECHECK_AFTER;
        assert_eq!(file.current().unwrap().expose(), "second-token");
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let file = SecretFile::new(PathBuf::from("/nonexistent/token"));
        let err = file.current().unwrap_err();
        assert!(err.contains("/nonexistent/token"), "{err}");
    }

    #[test]
    fn empty_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "\n").unwrap();
        let err = SecretFile::new(path).current().unwrap_err();
        assert!(err.contains("is empty"), "{err}");
    }
}
