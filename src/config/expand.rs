//! `${VAR}` expansion from the environment in one string value of the config file
//! ([`super::values`] applies it to every value on the way from YAML to the typed config).
//!
//! Expansion works on parsed YAML scalars, not on the raw text: a secret that contains `#` or
//! `: ` cannot change the document's structure, and a `${VAR}` inside a comment is never
//! evaluated. Only the braced form is expanded, so regex anchors such as `-archive$` stay as
//! written; `$${` produces a literal `${`.
//!
//! An unset variable is an error naming the key, except in a syntax-only check
//! (`--config.check-syntax-only`), which runs where the deployment's environment is absent (CI,
//! a build machine): there the `${NAME}` stays as written and is reported as not checked.

/// Looks an environment variable up by name.
pub(crate) type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A `${NAME}` left as written because the variable is not set (syntax-only checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsetVariable {
    /// The key whose value uses it (`codearts.auth.iam.password_file`).
    pub key: String,
    /// The variable's name, without `${}`.
    pub name: String,
}

/// Why a value's `${…}` cannot be expanded; the key is added by whoever knows it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ExpandError {
    #[error("unterminated ${{ in value")]
    Unterminated,
    #[error("${{{0}}} is not a valid environment variable name")]
    InvalidName(String),
    #[error("environment variable {0} is not set")]
    Unset(String),
}

/// `text` with its variables expanded. With `keep_unset`, an unset variable stays as written and
/// its name is pushed there; without, it is an error.
pub(crate) fn expand_str(
    text: &str,
    lookup: Lookup<'_>,
    mut keep_unset: Option<&mut Vec<String>>,
) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('$') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        if let Some(escaped) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = escaped;
        } else if let Some(body) = after.strip_prefix("${") {
            let end = body.find('}').ok_or(ExpandError::Unterminated)?;
            let name = &body[..end];
            if !is_env_name(name) {
                return Err(ExpandError::InvalidName(name.to_owned()));
            }
            match (lookup(name), keep_unset.as_deref_mut()) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(unset)) => {
                    out.push_str(&after[..end + 3]);
                    unset.push(name.to_owned());
                }
                (None, None) => return Err(ExpandError::Unset(name.to_owned())),
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

/// The environment of the config tests: `TOKEN` holds YAML syntax, `PORT` a number.
#[cfg(test)]
pub(super) fn test_env(name: &str) -> Option<String> {
    match name {
        "TOKEN" => Some("s3cr#t: value".to_owned()),
        "PORT" => Some("8080".to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::test_env as env;
    use super::*;

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
        let err = expand_str("${NOPE}", &env, None).unwrap_err().to_string();
        assert!(err.contains("NOPE"), "{err}");
    }

    #[test]
    fn keeping_unset_leaves_the_reference_and_reports_its_name() {
        let mut unset = Vec::new();
        let text = expand_str("${NOPE}/pw-${PORT}", &env, Some(&mut unset)).unwrap();
        assert_eq!(text, "${NOPE}/pw-8080");
        assert_eq!(unset, ["NOPE"]);
    }

    #[test]
    fn invalid_names_and_unterminated_references_are_errors() {
        assert!(expand_str("${1X}", &env, None).is_err());
        assert!(expand_str("${PORT", &env, None).is_err());
    }
}
