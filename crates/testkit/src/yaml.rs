//! YAML as the deployment tests read it: every document of a (multi-document) text, and a value
//! by its path of keys and indices ("spec.template.spec.containers.0"), failing the test with
//! the path when it is missing.

use serde_yaml_ng::Value;

/// All documents of a (possibly multi-document) YAML text, empty ones dropped; fails the test
/// naming `name` and the document when one does not parse.
pub fn documents(text: &str, name: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .enumerate()
        .map(|(i, doc)| {
            <Value as serde::Deserialize>::deserialize(doc)
                .unwrap_or_else(|e| panic!("{name}: document {i} does not parse: {e}"))
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// Follows a path of mapping keys and sequence indices ("spec.template.spec.containers.0").
pub fn at<'a>(value: &'a Value, path: &str) -> &'a Value {
    let mut current = value;
    for step in path.split('.') {
        current = match step.parse::<usize>() {
            Ok(i) => current.get(i),
            Err(_) => current.get(step),
        }
        .unwrap_or_else(|| panic!("missing `{path}` (stopped at `{step}`)"));
    }
    current
}

/// The string at `path` (see [`at`]).
pub fn str_at<'a>(value: &'a Value, path: &str) -> &'a str {
    at(value, path)
        .as_str()
        .unwrap_or_else(|| panic!("`{path}` is not a string"))
}

/// The `kind` of a Kubernetes document.
pub fn kind(doc: &Value) -> &str {
    str_at(doc, "kind")
}
