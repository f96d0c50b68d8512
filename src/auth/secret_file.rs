//! Secrets read from files and read again when the file changes, so a rotating sidecar or a
//! Kubernetes Secret volume (which swaps a symlink) works without a restart.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::error::SecretFileError;
use crate::config::{Secret, SecretSource};
use crate::watched_file::{Stamp, Throttle};

/// A secret in a file, read again when the file changes ([`crate::watched_file`]).
pub(crate) struct SecretFile {
    path: PathBuf,
    cache: Mutex<Option<Cached>>,
}

struct Cached {
    throttle: Throttle,
    stamp: Stamp,
    secret: Secret,
}

impl SecretFile {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            cache: Mutex::new(None),
        }
    }

    /// The secret now in the file. The error names the file and the problem, never the content.
    pub(crate) fn current(&self) -> Result<Secret, SecretFileError> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(cached) = cache.as_mut() {
            if !cached.throttle.due() {
                return Ok(cached.secret.clone());
            }
        }
        let stamp = Stamp::of(&self.path).map_err(|source| SecretFileError::Unreadable {
            path: self.path.clone(),
            source,
        })?;
        if let Some(cached) = cache.as_mut() {
            if cached.stamp == stamp {
                return Ok(cached.secret.clone());
            }
        }
        let secret = read_secret_file(&self.path)?;
        *cache = Some(Cached {
            throttle: Throttle::new(),
            stamp,
            secret: secret.clone(),
        });
        Ok(secret)
    }
}

/// A secret given inline (through `${VAR}`) or in a file re-read on change.
pub(crate) enum SecretReader {
    Inline(Secret),
    File(SecretFile),
}

impl SecretReader {
    pub(crate) fn new(source: &SecretSource) -> Self {
        match source {
            SecretSource::Inline(secret) => Self::Inline(secret.clone()),
            SecretSource::File(path) => Self::File(SecretFile::new(path.clone())),
        }
    }

    pub(crate) fn current(&self) -> Result<Secret, SecretFileError> {
        match self {
            Self::Inline(secret) => Ok(secret.clone()),
            Self::File(file) => file.current(),
        }
    }
}

/// Reads a secret file, trimming surrounding white space (editors add a newline).
fn read_secret_file(path: &Path) -> Result<Secret, SecretFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| SecretFileError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let text = text.trim();
    if text.is_empty() {
        return Err(SecretFileError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(Secret::new(text))
}

/// Whether every user on this host may read `path` (`false` when it cannot be `stat`ed: reading
/// it will say why).
pub(super) fn readable_by_everyone(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o004 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
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
        file.cache
            .lock()
            .unwrap()
            .as_mut()
            .unwrap()
            .throttle
            .expire();
        assert_eq!(file.current().unwrap().expose(), "second-token");
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let file = SecretFile::new(PathBuf::from("/nonexistent/token"));
        let err = file.current().unwrap_err().to_string();
        assert!(err.contains("/nonexistent/token"), "{err}");
    }

    #[test]
    fn empty_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "\n").unwrap();
        let err = SecretFile::new(path).current().unwrap_err().to_string();
        assert!(err.contains("is empty"), "{err}");
    }
}
