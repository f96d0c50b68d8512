//! Reading a config: the YAML file, `${VAR}` expansion in its values, then validation.

use std::path::Path;

use serde::de::IgnoredAny;

use super::error::ConfigError;
use super::expand::Expanding;
use super::raw::RawConfig;
use super::types::Config;
use super::validate;

impl Config {
    /// Reads, expands and validates the file at `path` with the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &|name| std::env::var(name).ok())
    }

    /// Parses and validates config text, looking `${VAR}` up with `env`.
    pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let yaml = serde_yaml_ng::Deserializer::from_str(text);
        let raw: Option<RawConfig> =
            match serde_path_to_error::deserialize(Expanding::new(yaml, env)) {
                Ok(raw) => raw,
                Err(err) => {
                    // A syntax error is reported as one, with its line. Only on this path is the
                    // syntax checked on its own (a second parse, of libyaml's events alone): at
                    // 100,000 repositories a parse is 0.2 s.
                    if let Err(syntax) = serde_yaml_ng::from_str::<IgnoredAny>(text) {
                        return Err(ConfigError::Syntax(format!(
                            "config: invalid YAML: {syntax}"
                        )));
                    }
                    let key = err.path().to_string();
                    let message = without_position(err.inner(), &key);
                    let key = if key == "." { "config".to_owned() } else { key };
                    return Err(ConfigError::invalid(key, hide_values(&message)));
                }
            };
        // An empty file is an empty config (which validation then refuses, naming what is
        // missing).
        let raw = raw.unwrap_or_default();
        validate::validate(raw)
    }
}

/// serde_yaml_ng's message for `err` without the key path and the position it adds
/// (`scrape.retries: invalid type: … at line 7 column 12`): our message starts with the key
/// already, as it did when the config was deserialized from a parsed tree, which has no
/// positions.
fn without_position(err: &serde_yaml_ng::Error, path: &str) -> String {
    let mut text = err.to_string();
    if let Some(at) = err.location() {
        for suffix in [
            format!(" at line {} column {}", at.line(), at.column()),
            format!(" at position {}", at.index()),
        ] {
            if text.ends_with(&suffix) {
                text.truncate(text.len() - suffix.len());
                break;
            }
        }
    }
    match text
        .strip_prefix(path)
        .and_then(|rest| rest.strip_prefix(": "))
    {
        Some(rest) => rest.to_owned(),
        None => text,
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
