//! Reading a config: the YAML file, `${VAR}` expansion in its values, then validation.

use std::path::Path;

use super::error::ConfigError;
use super::raw::RawConfig;
use super::types::Config;
use super::{expand, validate};

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
        let mut value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)
            .map_err(|err| ConfigError::Syntax(format!("config: invalid YAML: {err}")))?;
        if value.is_null() {
            value = serde_yaml_ng::Value::Mapping(Default::default());
        }
        expand::expand_env(&mut value, env)?;
        let raw: RawConfig = serde_path_to_error::deserialize(value).map_err(|err| {
            let key = err.path().to_string();
            let key = if key == "." { "config".to_owned() } else { key };
            ConfigError::invalid(key, hide_values(&err.into_inner().to_string()))
        })?;
        validate::validate(raw)
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
