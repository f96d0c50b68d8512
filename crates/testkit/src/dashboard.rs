//! The shipped Grafana dashboard read as data: its panels (those nested in collapsed rows
//! included) and the query of each panel target. The static checks of the dashboard and the
//! run of its queries against a real Prometheus read it the same way.

use serde_json::Value as Json;

/// `dashboards/codearts-repo-statistics.json`, parsed.
pub fn dashboard() -> Json {
    serde_json::from_str(&crate::repo::read(
        "dashboards/codearts-repo-statistics.json",
    ))
    .expect("dashboards/codearts-repo-statistics.json is not valid JSON")
}

/// Every panel, with the panels nested in collapsed rows.
pub fn panels(d: &Json) -> Vec<&Json> {
    let mut out = Vec::new();
    for p in d["panels"]
        .as_array()
        .expect("dashboard has a panels array")
    {
        out.push(p);
        if let Some(nested) = p["panels"].as_array() {
            out.extend(nested.iter());
        }
    }
    out
}

/// A panel's title, or `<untitled>`.
pub fn title(p: &Json) -> &str {
    p["title"].as_str().unwrap_or("<untitled>")
}

/// (panel title, expr) of every query target in the dashboard; panics on a target without an
/// expr.
pub fn exprs(d: &Json) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in panels(d) {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("panel {:?}: target without expr", title(p)));
            out.push((title(p).to_owned(), expr.to_owned()));
        }
    }
    out
}

/// The panels that read the last-push families (`codearts_repo_statistics_lag_seconds`), by
/// title, exactly. Against a real Prometheus each may be empty only while the exporter exposes
/// no lag series at all (the demo runs without `last_push`); as soon as one lag series exists
/// they must have data like every other panel. A static check holds this list to the dashboard.
pub const NEED_LAST_PUSH_DATA: &[&str] = &[
    "Behind by more than a day",
    "Behind by more than a week",
    "Statistics behind code",
];
