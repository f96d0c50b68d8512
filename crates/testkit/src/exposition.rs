//! A small reader for the Prometheus text exposition format, for assertions on `/metrics`.

use std::collections::BTreeMap;

/// One sample of the text format.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Reads every sample of a text exposition (comments skipped, label escapes decoded).
pub fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| parse_line(line).unwrap_or_else(|| panic!("unparseable line {line:?}")))
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let (name_end, mut rest) = match line.find(['{', ' ']) {
        Some(i) => (i, &line[i..]),
        None => return None,
    };
    let name = line[..name_end].to_owned();
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        let mut chars = after.char_indices().peekable();
        let mut consumed = 0;
        loop {
            let mut key = String::new();
            for (i, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                if c == '}' {
                    consumed = i + 1;
                    break;
                }
                key.push(c);
            }
            if consumed > 0 {
                break;
            }
            chars.next(); // opening quote
            let mut value = String::new();
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    '"' => break,
                    c => value.push(c),
                }
            }
            labels.insert(key.trim_start_matches(',').to_owned(), value);
            match chars.next()? {
                (_, ',') => {}
                (i, '}') => {
                    consumed = i + 1;
                    break;
                }
                _ => return None,
            }
        }
        rest = &after[consumed..];
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// The value of the series `name` whose labels include every pair in `labels`.
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    value_in(&samples(text), name, labels)
}

/// The value of the one sample of `samples` named `name` whose labels include every pair in
/// `labels`; `None` when there is none. Panics when several match: the labels must pick one.
pub fn value_in(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let matching: Vec<&Sample> = samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(
        matching.len() <= 1,
        "{name}{labels:?} matches {} series",
        matching.len()
    );
    matching.first().map(|s| s.value)
}
