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

use serde_yaml_ng::Value;

use super::error::ConfigError;
use super::expand::join_path;

/// One path key of the config: its full name and the path it names (resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileKey {
    /// `codearts.auth.token_file`.
    pub key: String,
    pub path: PathBuf,
}

/// Whether a config key names a file.
pub fn is_path_key(key: &str) -> bool {
    key.ends_with("_file")
}

/// Rewrites every relative path of a path key to `base.join(path)` (when there is a `base`) and
/// returns all path keys. Keys listed in `unresolved` (values still holding an unset `${VAR}`)
/// are returned as written: their real location is unknown.
pub fn resolve(value: &mut Value, base: Option<&Path>, unresolved: &[&str]) -> Vec<FileKey> {
    let mut found = Vec::new();
    walk(value, &mut Vec::new(), base, unresolved, &mut found);
    found
}

fn walk(
    value: &mut Value,
    path: &mut Vec<String>,
    base: Option<&Path>,
    unresolved: &[&str],
    found: &mut Vec<FileKey>,
) {
    match value {
        Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                let name = key.as_str().unwrap_or("?").to_owned();
                path.push(name.clone());
                match item {
                    Value::String(text) if is_path_key(&name) => {
                        let key = join_path(path);
                        let written = PathBuf::from(text.as_str());
                        let resolved = match base {
                            Some(base)
                                if written.is_relative()
                                    && !text.trim().is_empty()
                                    && !unresolved.contains(&key.as_str()) =>
                            {
                                base.join(&written)
                            }
                            _ => written,
                        };
                        *text = resolved.to_string_lossy().into_owned();
                        found.push(FileKey {
                            key,
                            path: resolved,
                        });
                    }
                    item => walk(item, path, base, unresolved, found),
                }
                path.pop();
            }
        }
        Value::Sequence(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                path.push(format!("[{index}]"));
                walk(item, path, base, unresolved, found);
                path.pop();
            }
        }
        Value::Tagged(tagged) => walk(&mut tagged.value, path, base, unresolved, found),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// Fails, naming the key, unless `file.path` is a readable regular file.
pub fn check_exists(file: &FileKey) -> Result<(), ConfigError> {
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

    fn resolved(yaml: &str, base: Option<&Path>, unresolved: &[&str]) -> (Value, Vec<FileKey>) {
        let mut value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let found = resolve(&mut value, base, unresolved);
        (value, found)
    }

    #[test]
    fn relative_paths_of_any_file_key_resolve_against_the_base() {
        let (value, found) = resolved(
            "a:\n  token_file: token\n  b:\n    security_token_file: sub/st\n  abs_file: /x/y\n",
            Some(Path::new("/etc/exporter")),
            &[],
        );
        assert_eq!(
            value["a"]["token_file"].as_str(),
            Some("/etc/exporter/token")
        );
        assert_eq!(
            value["a"]["b"]["security_token_file"].as_str(),
            Some("/etc/exporter/sub/st")
        );
        assert_eq!(value["a"]["abs_file"].as_str(), Some("/x/y"));
        let keys: Vec<&str> = found.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            ["a.token_file", "a.b.security_token_file", "a.abs_file"]
        );
    }

    #[test]
    fn without_a_base_paths_stay_as_written() {
        let (value, _) = resolved("token_file: token\n", None, &[]);
        assert_eq!(value["token_file"].as_str(), Some("token"));
    }

    #[test]
    fn other_keys_and_non_string_values_are_left_alone() {
        let (value, found) = resolved(
            "name: relative\nlist:\n  - ca_file: 5\n",
            Some(Path::new("/b")),
            &[],
        );
        assert_eq!(value["name"].as_str(), Some("relative"));
        assert!(found.is_empty());
    }

    #[test]
    fn values_with_an_unset_variable_are_not_resolved() {
        let (value, _) = resolved(
            "password_file: ${CREDENTIALS_DIRECTORY}/pw\n",
            Some(Path::new("/etc")),
            &["password_file"],
        );
        assert_eq!(
            value["password_file"].as_str(),
            Some("${CREDENTIALS_DIRECTORY}/pw")
        );
    }
}
