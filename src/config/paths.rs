//! The files a config names. Every key whose name ends in `_file` holds a path (`token_file`,
//! `password_file`, `access_key_file`, `secret_key_file`, `ca_file`, and any added later): one
//! rule, so a new secret or certificate key gets the same treatment without code of its own.
//!
//! - A relative path is resolved against the directory of the config file, as exporter-toolkit
//!   does for `--web.config.file`; where the config file sits is what the operator knows, not
//!   the working directory of a service manager. A config that did not come from a file
//!   (`--demo`, tests) keeps its paths as written.
//! - Whether each file exists and is a regular file is checked after the config is otherwise
//!   valid — except in a syntax-only check, which runs where the secrets are absent (CI, a build
//!   machine) and lists the files instead.

use std::path::{Path, PathBuf};

use super::error::ConfigError;

/// One path key of the config: its full name and the path it names (resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileKey {
    /// `codearts.auth.token_file`.
    pub key: String,
    pub path: PathBuf,
}

/// Whether a config key names a file.
pub(crate) fn is_path_key(key: &str) -> bool {
    key.ends_with("_file")
}

/// The path a path key's value `written` names: relative to `base` when there is one, as
/// written otherwise (and when empty, which validation then refuses in its own words).
pub(crate) fn resolve(written: &str, base: Option<&Path>) -> PathBuf {
    let path = PathBuf::from(written);
    match base {
        Some(base) if path.is_relative() && !written.trim().is_empty() => base.join(path),
        _ => path,
    }
}

/// Fails, naming the key, unless `file.path` is a readable regular file.
pub(crate) fn check_exists(file: &FileKey) -> Result<(), ConfigError> {
    match std::fs::metadata(&file.path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(ConfigError::invalid(
            &file.key,
            format!("{} is not a regular file", file.path.display()),
        )),
        Err(err) => Err(ConfigError::invalid(
            &file.key,
            format!("cannot read {}: {err}", file.path.display()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_resolve_against_the_base() {
        let base = Some(Path::new("/etc/exporter"));
        assert_eq!(resolve("token", base), Path::new("/etc/exporter/token"));
        assert_eq!(resolve("sub/st", base), Path::new("/etc/exporter/sub/st"));
        assert_eq!(resolve("/x/y", base), Path::new("/x/y"));
    }

    #[test]
    fn without_a_base_or_a_value_paths_stay_as_written() {
        assert_eq!(resolve("token", None), Path::new("token"));
        assert_eq!(resolve(" ", Some(Path::new("/b"))), Path::new(" "));
    }

    #[test]
    fn only_keys_ending_in_file_are_path_keys() {
        assert!(is_path_key("security_token_file"));
        assert!(!is_path_key("file_name"));
    }
}
