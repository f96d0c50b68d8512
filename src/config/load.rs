//! Reading a config: the YAML file, `${VAR}` expansion in its values, the paths it names
//! ([`super::paths`]), then validation — in full, or without what only the deployment has
//! (the files, the environment) for a syntax-only check.

use std::path::Path;

use super::error::ConfigError;
use super::expand::{self, UnsetVariable};
use super::paths::{self, FileKey};
use super::raw::RawConfig;
use super::types::Config;
use super::validate;

/// How much of a config to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckMode {
    /// Everything: an unset `${VAR}` is an error, and every file the config names must exist.
    Full,
    /// Everything but what only the deployment has: the files the config names (secrets, CA)
    /// are not looked at, and an unset `${VAR}` stays as written (`--config.check-syntax-only`,
    /// like `promtool check config --syntax-only`).
    SyntaxOnly,
}

/// What a syntax-only check left out; empty after a full check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unchecked {
    /// Files named by the config, not looked at.
    pub files: Vec<FileKey>,
    /// Variables not set, left as written.
    pub unset: Vec<UnsetVariable>,
}

impl Unchecked {
    /// One line per file and variable, for `--config.check-syntax-only`.
    pub fn lines(&self) -> Vec<String> {
        let files = self
            .files
            .iter()
            .map(|f| format!("not checked: {} = {}", f.key, f.path.display()));
        let unset = self
            .unset
            .iter()
            .map(|u| format!("not set: ${{{}}} in {}", u.name, u.key));
        files.chain(unset).collect()
    }
}

impl Config {
    /// Reads, expands and validates the file at `path` with the process environment; relative
    /// paths in it are relative to the file's directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_checked(path, CheckMode::Full).map(|(config, _)| config)
    }

    /// Like [`Config::load`], as thoroughly as `mode` says; returns what was left unchecked.
    pub fn load_checked(path: &Path, mode: CheckMode) -> Result<(Self, Unchecked), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        Self::parse_checked(&text, &|name| std::env::var(name).ok(), Some(base), mode)
    }

    /// Parses and validates config text, looking `${VAR}` up with `env`. Paths stay as written.
    pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::parse_checked(text, env, None, CheckMode::Full).map(|(config, _)| config)
    }

    /// Parses and validates config text; relative paths are resolved against `base` when given.
    pub fn parse_checked(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
        base: Option<&Path>,
        mode: CheckMode,
    ) -> Result<(Self, Unchecked), ConfigError> {
        let mut value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)
            .map_err(|err| ConfigError::Syntax(format!("config: invalid YAML: {err}")))?;
        if value.is_null() {
            value = serde_yaml_ng::Value::Mapping(Default::default());
        }
        let unset = match mode {
            CheckMode::Full => {
                expand::expand_env(&mut value, env)?;
                Vec::new()
            }
            CheckMode::SyntaxOnly => expand::expand_env_keeping_unset(&mut value, env)?,
        };
        let unresolved: Vec<&str> = unset.iter().map(|u| u.key.as_str()).collect();
        let files = paths::resolve(&mut value, base, &unresolved);
        let explain = |err: ConfigError| explain_unset(err, &unset);
        let raw: RawConfig = serde_path_to_error::deserialize(value)
            .map_err(|err| {
                let key = err.path().to_string();
                let key = if key == "." { "config".to_owned() } else { key };
                ConfigError::invalid(key, hide_values(&err.into_inner().to_string()))
            })
            .map_err(explain)?;
        let config = validate::validate(raw).map_err(explain)?;
        match mode {
            CheckMode::Full => {
                for file in &files {
                    paths::check_exists(file)?;
                }
                Ok((config, Unchecked::default()))
            }
            CheckMode::SyntaxOnly => Ok((config, Unchecked { files, unset })),
        }
    }
}

/// In a syntax-only check, a value left as `${VAR}` may be what makes its key invalid (a number
/// or URL written as a variable); the message then says so.
fn explain_unset(err: ConfigError, unset: &[UnsetVariable]) -> ConfigError {
    match err {
        ConfigError::Invalid { key, message } => {
            let names: Vec<String> = unset
                .iter()
                .filter(|u| u.key == key)
                .map(|u| format!("${{{}}}", u.name))
                .collect();
            let message = if names.is_empty() {
                message
            } else {
                format!(
                    "{message} (the value uses {}, which is not set)",
                    names.join(", ")
                )
            };
            ConfigError::Invalid { key, message }
        }
        other => other,
    }
}

/// serde quotes the offending value (`invalid type: string "…"`); after `${VAR}` expansion that
/// value could be a secret, so the message keeps the key and the expectation, not the value.
fn hide_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find("string \"") {
        out.push_str(&rest[..start]);
        out.push_str("a string");
        let after = &rest[start + "string \"".len()..];
        rest = match after.find('"') {
            Some(end) => &after[end + 1..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}
