//! Reading a config: the YAML file, `${VAR}` expansion in its values, the paths it names
//! ([`super::paths`]), then validation — in full, or without what only the deployment has
//! (the files, the environment) for a syntax-only check.

use std::path::Path;

use serde::de::IgnoredAny;

use super::error::ConfigError;
use super::expand::UnsetVariable;
use super::paths::{self, FileKey};
use super::raw::RawConfig;
use super::types::Config;
use super::validate;
use super::values::Reader;
use super::yaml_error;

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
        let reader = Reader::new(env, base, mode == CheckMode::SyntaxOnly);
        let yaml = serde_yaml_ng::Deserializer::from_str(text);
        let raw: Result<Option<RawConfig>, _> =
            serde_path_to_error::deserialize(reader.values(yaml));
        let found = reader.into_found();
        let explain = |err: ConfigError| explain_unset(err, &found.unset);
        let raw = match raw {
            Ok(raw) => raw,
            Err(err) => {
                // A syntax error is reported as one, with its line. Only on this path is the
                // syntax checked on its own (a second parse, of libyaml's events alone): a
                // parse is most of the time a large config takes to load (BENCHMARKS.md,
                // "Figures behind the code").
                if let Err(syntax) = serde_yaml_ng::from_str::<IgnoredAny>(text) {
                    return Err(ConfigError::Syntax(format!(
                        "config: invalid YAML: {syntax}"
                    )));
                }
                // An empty key (`?` alone writes one) leaves an empty last segment; the message
                // must still start with a key.
                let path = err.path().to_string();
                let key = path.trim_end_matches('.');
                let message = yaml_error::message_at(err.inner(), key);
                let key = if key.is_empty() { "config" } else { key };
                return Err(explain(ConfigError::invalid(key, hide_values(&message))));
            }
        };
        // An empty file is an empty config (which validation then refuses, naming what is
        // missing).
        let config = validate::validate(raw.unwrap_or_default()).map_err(explain)?;
        match mode {
            CheckMode::Full => {
                for file in &found.files {
                    paths::check_exists(file)?;
                }
                Ok((config, Unchecked::default()))
            }
            CheckMode::SyntaxOnly => Ok((
                config,
                Unchecked {
                    files: found.files,
                    unset: found.unset,
                },
            )),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> String {
        Config::parse(text, &|_| None).unwrap_err().to_string()
    }

    #[test]
    fn an_empty_file_is_an_empty_config_not_a_syntax_error() {
        for text in ["", "# nothing\n", "~\n"] {
            let err = parse(text);
            assert!(err.starts_with("codearts:"), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_syntax_error_is_reported_as_one_with_its_line() {
        let err = parse("codearts:\n  endpoint: [unclosed\nrepositories: []\n");
        assert!(err.starts_with("config: invalid YAML:"), "{err}");
        assert!(err.contains("line"), "{err}");
    }

    #[test]
    fn an_empty_key_is_refused_naming_where_it_stands() {
        // `?` is a YAML key of its own: an empty one.
        let err = parse("?");
        assert!(err.starts_with("config: unknown field ``"), "{err}");
        let err = parse("scrape:\n  ? \n");
        assert!(err.starts_with("scrape: unknown field ``"), "{err}");
    }

    #[test]
    fn a_type_error_names_its_key_once_and_no_position() {
        let err = parse("codearts:\n  endpoint: https://x.example\nrepositories:\n  - id: [1]\n");
        assert!(err.starts_with("repositories[0].id: "), "{err}");
        assert!(
            !err["repositories[0].id: ".len()..].contains("repositories[0]"),
            "{err}"
        );
        assert!(!err.contains(" at line "), "{err}");
    }
}
