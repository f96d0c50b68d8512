//! serde_yaml_ng's error messages as this exporter shows them: after the key that
//! `serde_path_to_error` names, without the key path and the position serde_yaml_ng adds
//! (`scrape.retries: invalid type: … at line 7 column 12`). Used for the config file and the web
//! config alike, so both read the same way.

/// The message of `err`, which happened at `key`, without serde_yaml_ng's own path (`key`
/// itself, or the mapping around it when a value's own parsing failed) and position.
pub(crate) fn message_at(err: &serde_yaml_ng::Error, key: &str) -> String {
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
    match text.split_once(": ") {
        Some((path, rest)) if is_key_or_parent(path, key) => rest.to_owned(),
        _ => text,
    }
}

/// `path` is `key`, or a key that `key` is under (`tls` of `tls.min_version` or `tls[0]`).
fn is_key_or_parent(path: &str, key: &str) -> bool {
    key.strip_prefix(path)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        inner: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        count: u32,
        #[serde(default, deserialize_with = "refuse_x")]
        name: Option<String>,
    }

    /// Refuses the name `x` the way a value's own parsing refuses a value.
    fn refuse_x<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match String::deserialize(d)? {
            text if text == "x" => Err(serde::de::Error::custom(format!("{text}: refused here"))),
            text => Ok(Some(text)),
        }
    }

    fn message(yaml: &str) -> String {
        let err = serde_path_to_error::deserialize::<_, Outer>(
            serde_yaml_ng::Deserializer::from_str(yaml),
        )
        .unwrap_err();
        let key = err.path().to_string();
        format!("{key}: {}", message_at(err.inner(), &key))
    }

    #[test]
    fn the_document_of_these_tests_reads_when_valid() {
        let outer: Outer = serde_yaml_ng::from_str("inner:\n  count: 1\n  name: y\n").unwrap();
        assert_eq!(
            (outer.inner.count, outer.inner.name.as_deref()),
            (1, Some("y"))
        );
    }

    #[test]
    fn a_type_error_names_its_key_once_without_a_position() {
        assert_eq!(
            message("inner:\n  count: many\n"),
            "inner.count: invalid type: string \"many\", expected u32"
        );
    }

    #[test]
    fn a_value_refused_by_its_own_parsing_names_its_key_once() {
        assert_eq!(
            message("inner:\n  count: 1\n  name: x\n"),
            "inner.name: x: refused here"
        );
    }

    #[test]
    fn a_message_that_only_looks_like_a_path_is_kept() {
        assert!(is_key_or_parent("inner", "inner.name"));
        assert!(is_key_or_parent("inner", "inner[2]"));
        assert!(!is_key_or_parent("in", "inner.name"));
        assert!(!is_key_or_parent("x", "inner.name"));
    }
}
