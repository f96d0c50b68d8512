//! `${VAR}` expansion from the environment in every string value of the config file.
//!
//! Expansion works on parsed YAML scalars, not on the raw text: a secret that contains `#` or
//! `: ` cannot change the document's structure, and a `${VAR}` inside a comment is never
//! evaluated. Only the braced form is expanded, so regex anchors such as `-archive$` stay as
//! written; `$${` produces a literal `${`.
//!
//! An unset variable is an error naming the key, except in a syntax-only check
//! (`--config.check-syntax-only`), which runs where the deployment's environment is absent (CI,
//! a build machine): there the `${NAME}` stays as written and is reported as not checked.

use serde_yaml_ng::Value;

use super::error::ConfigError;

/// A `${NAME}` left as written because the variable is not set (syntax-only checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsetVariable {
    /// The key whose value uses it (`codearts.auth.iam.password_file`).
    pub key: String,
    /// The variable's name, without `${}`.
    pub name: String,
}

/// Expands every string in `value`, naming the key path in errors.
pub fn expand_env(
    value: &mut Value,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    walk(value, &mut Vec::new(), lookup, None)
}

/// Like [`expand_env`], but an unset variable stays as written and is returned instead of
/// being an error.
pub fn expand_env_keeping_unset(
    value: &mut Value,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<UnsetVariable>, ConfigError> {
    let mut unset = Vec::new();
    walk(value, &mut Vec::new(), lookup, Some(&mut unset))?;
    Ok(unset)
}

fn walk(
    value: &mut Value,
    path: &mut Vec<String>,
    lookup: &dyn Fn(&str) -> Option<String>,
    mut unset: Option<&mut Vec<UnsetVariable>>,
) -> Result<(), ConfigError> {
    match value {
        Value::String(text) => {
            if text.contains('$') {
                let mut missing = Vec::new();
                let keep = unset.is_some().then_some(&mut missing);
                *text = expand_str(text, lookup, keep).map_err(|message| ConfigError::Invalid {
                    key: join_path(path),
                    message,
                })?;
                if let Some(unset) = unset {
                    let key = join_path(path);
                    unset.extend(missing.into_iter().map(|name| UnsetVariable {
                        key: key.clone(),
                        name,
                    }));
                }
            }
        }
        Value::Sequence(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                path.push(format!("[{index}]"));
                walk(item, path, lookup, unset.as_deref_mut())?;
                path.pop();
            }
        }
        Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                path.push(key.as_str().unwrap_or("?").to_owned());
                walk(item, path, lookup, unset.as_deref_mut())?;
                path.pop();
            }
        }
        Value::Tagged(tagged) => walk(&mut tagged.value, path, lookup, unset)?,
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// `a.b[0].c` from the segments collected while walking.
pub(crate) fn join_path(path: &[String]) -> String {
    if path.is_empty() {
        return "config".to_owned();
    }
    let mut out = String::new();
    for segment in path {
        if !out.is_empty() && !segment.starts_with('[') {
            out.push('.');
        }
        out.push_str(segment);
    }
    out
}

/// `text` with its variables expanded. With `keep_unset`, an unset variable stays as written and
/// its name is pushed there; without, it is an error.
fn expand_str(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    mut keep_unset: Option<&mut Vec<String>>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('$') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        if let Some(escaped) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = escaped;
        } else if let Some(body) = after.strip_prefix("${") {
            let end = body
                .find('}')
                .ok_or_else(|| "unterminated ${ in value".to_owned())?;
            let name = &body[..end];
            if !is_env_name(name) {
                return Err(format!(
                    "${{{name}}} is not a valid environment variable name"
                ));
            }
            match (lookup(name), keep_unset.as_deref_mut()) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(unset)) => {
                    out.push_str(&after[..end + 3]);
                    unset.push(name.to_owned());
                }
                (None, None) => return Err(format!("environment variable {name} is not set")),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cr#t: value".to_owned()),
            "PORT" => Some("8080".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn expands_braced_variables() {
        assert_eq!(expand_str("a-${PORT}-b", &env, None).unwrap(), "a-8080-b");
    }

    #[test]
    fn leaves_regex_anchors_and_bare_dollars_alone() {
        assert_eq!(expand_str("-archive$", &env, None).unwrap(), "-archive$");
        assert_eq!(expand_str("$PORT", &env, None).unwrap(), "$PORT");
    }

    #[test]
    fn double_dollar_escapes_expansion() {
        assert_eq!(expand_str("$${PORT}", &env, None).unwrap(), "${PORT}");
    }

    #[test]
    fn unset_variable_is_an_error_naming_it() {
        let err = expand_str("${NOPE}", &env, None).unwrap_err();
        assert!(err.contains("NOPE"), "{err}");
    }

    #[test]
    fn error_names_the_key_path() {
        let mut value: Value =
            serde_yaml_ng::from_str("codearts:\n  auth:\n    token: ${NOPE}\n").unwrap();
        let err = expand_env(&mut value, &env).unwrap_err().to_string();
        assert!(err.starts_with("codearts.auth.token:"), "{err}");
    }

    #[test]
    fn secret_with_yaml_syntax_does_not_change_structure() {
        let mut value: Value = serde_yaml_ng::from_str("token: ${TOKEN}\nother: 1\n").unwrap();
        expand_env(&mut value, &env).unwrap();
        assert_eq!(value["token"].as_str(), Some("s3cr#t: value"));
        assert_eq!(value["other"].as_u64(), Some(1));
    }

    #[test]
    fn syntax_only_keeps_an_unset_variable_and_names_its_key() {
        let mut value: Value = serde_yaml_ng::from_str(
            "auth:\n  password_file: ${NOPE}/password\n  token: ${TOKEN}\n",
        )
        .unwrap();
        let unset = expand_env_keeping_unset(&mut value, &env).unwrap();
        assert_eq!(
            value["auth"]["password_file"].as_str(),
            Some("${NOPE}/password")
        );
        assert_eq!(value["auth"]["token"].as_str(), Some("s3cr#t: value"));
        assert_eq!(
            unset,
            [UnsetVariable {
                key: "auth.password_file".to_owned(),
                name: "NOPE".to_owned()
            }]
        );
    }

    #[test]
    fn sequence_paths_are_indexed() {
        let mut value: Value =
            serde_yaml_ng::from_str("repositories:\n  - name: ${NOPE}\n").unwrap();
        let err = expand_env(&mut value, &env).unwrap_err().to_string();
        assert!(err.starts_with("repositories[0].name:"), "{err}");
    }
}
