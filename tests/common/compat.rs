//! The helpers' names before `Body` and `Upstream`, while tests move over; removed with the
//! last user.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use super::Sample;

/// All series of `name` for repository `id`.
pub fn repo_series(text: &str, name: &str, id: u32) -> Vec<Sample> {
    let id = id.to_string();
    super::samples(text)
        .into_iter()
        .filter(|s| s.name == name && s.labels.get("repository_id") == Some(&id))
        .collect()
}

/// The error class shown for repository `id`, if any.
pub fn error_class(text: &str, id: u32) -> Option<String> {
    let series = repo_series(text, "codearts_repo_statistics_error", id);
    assert!(series.len() <= 1, "one error class at most: {series:?}");
    series.first().map(|s| s.labels["class"].clone())
}

/// An IAM token endpoint for wiremock that hands out `token-1`, `token-2`, … each living
/// `lifetime`, and counts its calls.
pub struct IamResponder {
    pub calls: Arc<AtomicUsize>,
    pub lifetime: Duration,
}

impl IamResponder {
    pub fn new(lifetime: Duration) -> Self {
        Self {
            calls: Arc::new(AtomicUsize::new(0)),
            lifetime,
        }
    }
}

impl wiremock::Respond for IamResponder {
    fn respond(&self, _request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let now = std::time::SystemTime::now();
        wiremock::ResponseTemplate::new(201)
            .insert_header("X-Subject-Token", format!("token-{n}").as_str())
            .set_body_json(serde_json::json!({"token": {
                "issued_at": super::iam_time(now),
                "expires_at": super::iam_time(now + self.lifetime),
                "methods": ["password"]
            }}))
    }
}
