//! What an answer's body shows: its text, and for a text exposition the values a test asserts
//! on — per repository (`up`, error class, any family) and of the exporter's own metrics.

use std::fmt;
use std::ops::Deref;
use std::sync::OnceLock;

use codearts_testkit::exposition::{samples, value_in, Sample};

/// The body of an answer. It reads as its text (`body.contains(…)`, `"{body}"`); when it is a
/// text exposition, the accessors read its samples, parsed once on first use (an accessor on a
/// body that is not one, such as the landing page, panics naming the line).
pub struct Body {
    text: String,
    samples: OnceLock<Vec<Sample>>,
}

impl Body {
    /// Every sample, in the order of the text.
    pub fn samples(&self) -> &[Sample] {
        self.samples.get_or_init(|| samples(&self.text))
    }

    /// The value of the one series `name` whose labels include every pair of `labels`; `None`
    /// when there is none. Panics when several match: the labels must pick one series.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        value_in(self.samples(), name, labels)
    }

    /// The value of family `name` for repository `id` (one series), if shown.
    pub fn series(&self, name: &str, id: u32) -> Option<f64> {
        self.value(name, &[("repository_id", &id.to_string())])
    }

    /// Every series of family `name` for repository `id` (for families with more labels).
    pub fn repo_series(&self, name: &str, id: u32) -> Vec<&Sample> {
        let id = id.to_string();
        self.samples()
            .iter()
            .filter(|s| s.name == name && s.labels.get("repository_id") == Some(&id))
            .collect()
    }

    /// `codearts_repo_statistics_up` of repository `id`: 1 answered, 0 failed, `None` not shown.
    pub fn up(&self, id: u32) -> Option<f64> {
        self.series("codearts_repo_statistics_up", id)
    }

    /// The error class shown for repository `id` (`codearts_repo_statistics_error`'s `class`
    /// label), if any; panics when it shows more than one.
    pub fn class(&self, id: u32) -> Option<&str> {
        let series = self.repo_series("codearts_repo_statistics_error", id);
        assert!(series.len() <= 1, "one error class at most: {series:?}");
        series.first().map(|s| s.labels["class"].as_str())
    }

    /// The ids of every repository shown (each has one `up` series), sorted.
    pub fn repositories(&self) -> Vec<u32> {
        self.ids_where(|_| true)
    }

    /// The ids of the repositories whose `up` is 1, sorted.
    pub fn healthy(&self) -> Vec<u32> {
        self.ids_where(|up| up == 1.0)
    }

    fn ids_where(&self, keep: impl Fn(f64) -> bool) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .samples()
            .iter()
            .filter(|s| s.name == "codearts_repo_statistics_up" && keep(s.value))
            .map(|s| s.labels["repository_id"].parse().expect("a numeric id"))
            .collect();
        ids.sort_unstable();
        ids
    }

    /// `codearts_repo_exporter_api_requests_total` of upstream endpoint `endpoint`
    /// (`statistics_status`, `iam_token`, `ecs_metadata`, …).
    pub fn requests(&self, endpoint: &str) -> Option<f64> {
        self.value(
            "codearts_repo_exporter_api_requests_total",
            &[("endpoint", endpoint)],
        )
    }

    /// `codearts_repo_exporter_api_request_errors_total` of `endpoint` and error `class`.
    pub fn errors(&self, endpoint: &str, class: &str) -> Option<f64> {
        self.value(
            "codearts_repo_exporter_api_request_errors_total",
            &[("endpoint", endpoint), ("class", class)],
        )
    }

    /// `codearts_repo_exporter_auth_token_expiry_timestamp_seconds`: when the credential in use
    /// expires, in Unix seconds.
    pub fn token_expiry(&self) -> Option<f64> {
        self.value(
            "codearts_repo_exporter_auth_token_expiry_timestamp_seconds",
            &[],
        )
    }

    /// `codearts_repo_exporter_config_last_reload_successful`.
    pub fn reload_successful(&self) -> Option<f64> {
        self.value("codearts_repo_exporter_config_last_reload_successful", &[])
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Self {
            text,
            samples: OnceLock::new(),
        }
    }
}

impl Deref for Body {
    type Target = str;

    fn deref(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}
