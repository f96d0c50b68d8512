//! docs/configuration.md against the config loader: its key table lists every key the loader
//! accepts and none it refuses, its regions table is the built-in one, and every IAM endpoint
//! the pages name is one the exporter knows.

use crate::helpers::*;
use codearts_repo_exporter::Config;

fn no_env(_: &str) -> Option<String> {
    None
}

/// The field names serde says it expected, from an "unknown field" error.
fn expected_fields(error: &str) -> Option<Vec<String>> {
    let (_, expected) = error.split_once("unknown field `__probe__`, expected ")?;
    Some(
        expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect(),
    )
}

/// `value` with `{__probe__: 1}` at `path` (`[]` descends into a one-element list).
fn probe_yaml(path: &[String]) -> serde_yaml_ng::Value {
    use serde_yaml_ng::{Mapping, Value};
    let mut value = Value::Mapping(Mapping::from_iter([(
        Value::from("__probe__"),
        Value::from(1),
    )]));
    for segment in path.iter().rev() {
        value = if segment == "[]" {
            Value::Sequence(vec![value])
        } else {
            Value::Mapping(Mapping::from_iter([(Value::from(segment.as_str()), value)]))
        };
    }
    value
}

/// Every leaf key the config parser accepts, found by asking it: a key holding a mapping answers
/// an unknown field with the fields it expects.
fn parser_keys(path: &mut Vec<String>, out: &mut Vec<String>) {
    let try_path = |path: &[String]| {
        let yaml = serde_yaml_ng::to_string(&probe_yaml(path)).unwrap();
        let err = Config::parse(&yaml, &no_env).unwrap_err().to_string();
        expected_fields(&err)
    };
    let fields = try_path(path).or_else(|| {
        let mut list = path.clone();
        list.push("[]".to_owned());
        let fields = try_path(&list)?;
        path.push("[]".to_owned());
        Some(fields)
    });
    match fields {
        Some(fields) => {
            for field in fields {
                path.push(field);
                parser_keys(path, out);
                path.pop();
            }
            if path.last().is_some_and(|l| l == "[]") {
                path.pop();
            }
        }
        None => out.push(path.join(".").replace(".[]", "[]")),
    }
}

#[test]
fn the_key_table_lists_every_key_the_loader_accepts_and_no_other() {
    let mut parsed = Vec::new();
    parser_keys(&mut Vec::new(), &mut parsed);
    assert!(
        parsed.contains(&"codearts.auth.iam.password_file".to_owned())
            && parsed.contains(&"repositories[].id".to_owned()),
        "the probe finds nested and list keys: {parsed:?}"
    );
    let table: Vec<String> = doc_table_after("<!-- config-keys:")
        .into_iter()
        .map(|row| row[0].clone())
        .collect();
    let missing: Vec<&String> = parsed.iter().filter(|k| !table.contains(k)).collect();
    let unknown: Vec<&String> = table.iter().filter(|k| !parsed.contains(k)).collect();
    assert!(
        missing.is_empty(),
        "the loader accepts keys that docs/configuration.md's key table lacks: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "docs/configuration.md's key table lists keys the loader refuses: {unknown:?}"
    );
    for row in doc_table_after("<!-- config-keys:") {
        assert_eq!(row.len(), 5, "{row:?}");
        let reloadable = if row[0].starts_with("server.") {
            "no"
        } else {
            "yes"
        };
        assert_eq!(
            row[3], reloadable,
            "{}: server limits alone need a restart",
            row[0]
        );
    }
}

#[test]
fn the_regions_table_is_the_built_in_one() {
    use codearts_repo_exporter::region;
    let rows = doc_table_after("<!-- regions:");
    let listed: Vec<&str> = rows.iter().map(|row| row[0].as_str()).collect();
    let known: Vec<String> = region::known_regions()
        .split(", ")
        .map(str::to_owned)
        .collect();
    assert_eq!(listed, known, "docs/configuration.md's regions table");
    for row in &rows {
        assert_eq!(
            region::endpoint_of(&row[0]),
            Some(row[1].as_str()),
            "{}",
            row[0]
        );
    }
}

#[test]
fn every_iam_endpoint_the_docs_name_is_the_built_in_one() {
    // An operator copies these into curl commands and configs: RUNBOOK once had eu-west-101's
    // IAM host wrong (it is under myhuaweicloud.eu, not .com).
    use codearts_repo_exporter::region;
    let mut files = doc_pages();
    files.push(repo_file("RUNBOOK.md"));
    let known: Vec<&str> = region::IAM_REGIONS
        .iter()
        .map(|(_, endpoint)| *endpoint)
        .chain([region::GLOBAL_IAM_ENDPOINT])
        .collect();
    let mut seen = 0;
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "md"))
    {
        let text = std::fs::read_to_string(file).unwrap();
        for (at, _) in text.match_indices("https://iam.") {
            let url: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "-.:/".contains(*c))
                .collect();
            // `https://iam.<region>.…` placeholders stop at the `<`: no host to check.
            let host = url.split('/').take(3).collect::<Vec<_>>().join("/");
            let host = host.trim_end_matches(['.', ':']);
            if !host["https://".len()..].contains('.') {
                continue;
            }
            assert!(
                known.contains(&host),
                "{}: {host} is not an IAM endpoint of the built-in table",
                file.display()
            );
            seen += 1;
        }
    }
    assert!(seen >= 3, "the docs name IAM endpoints ({seen} seen)");
}
