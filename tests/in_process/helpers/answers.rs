//! What the upstream answers, by meaning: a healthy statistics status, an API error, a
//! throttling answer, IAM's refusal of a password, and IAM tokens handed out one after another.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use wiremock::{Request, Respond, ResponseTemplate};

/// The `updated_at` of every healthy status: 2025-06-04T08:14:29Z (Unix 1749024869).
pub const UPDATED_AT: &str = "2025-06-04T16:14:29+08:00";

/// A statistics-status body: `can_statistics`, `reason` and an event in state `status`,
/// last updated at `updated_at`.
pub fn status_body(can: bool, reason: i64, status: &str, updated_at: &str) -> serde_json::Value {
    serde_json::json!({
        "can_statistics": can,
        "reason": reason,
        "event": {
            "id": 7, "user_id": 2, "project_id": 1, "branch": "master", "status": status,
            "stat_date": "20250604", "created_at": "2025-06-04T16:14:29+08:00",
            "updated_at": updated_at
        }
    })
}

/// An answer with HTTP status `status` and `body` as JSON.
pub fn answer_json(status: u16, body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// 200 with a healthy status: statistics possible (reason 0), the last run finished at
/// [`UPDATED_AT`].
pub fn ok_status() -> ResponseTemplate {
    status_answer(true, 0, "finish")
}

/// 200 with a status of `can_statistics`, `reason` and event state `status`, updated at
/// [`UPDATED_AT`].
pub fn status_answer(can: bool, reason: i64, status: &str) -> ResponseTemplate {
    answer_json(200, status_body(can, reason, status, UPDATED_AT))
}

/// An API error as the gateway and CodeArts send it: `status` with
/// `{"error_code": code, "error_msg": msg}`.
pub fn error(status: u16, code: &str, msg: &str) -> ResponseTemplate {
    answer_json(
        status,
        serde_json::json!({"error_code": code, "error_msg": msg}),
    )
}

/// 429 with `Retry-After: seconds`, and no body.
pub fn throttled(seconds: &str) -> ResponseTemplate {
    ResponseTemplate::new(429).insert_header("Retry-After", seconds)
}

/// IAM's 401 for a wrong user name or password (`IAM.0004`).
pub fn wrong_password() -> ResponseTemplate {
    answer_json(
        401,
        serde_json::json!({"error": {"code": "IAM.0004", "message": "The username or password is incorrect."}}),
    )
}

/// An IAM project entry with `id` and `name`, for [`Upstream::projects`](super::Upstream::projects).
pub fn project(id: &str, name: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "name": name, "domain_id": "d", "enabled": true, "is_domain": false})
}

/// RFC 3339 in UTC with microseconds, like IAM's own answers.
pub fn iam_time(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

/// IAM's token endpoint: hands out `token-1`, `token-2`, … each living `lifetime` from the
/// moment it is issued, and counts them. Clones share the count.
#[derive(Clone)]
pub struct IamTokens {
    issued: Arc<AtomicUsize>,
    lifetime: Duration,
}

impl IamTokens {
    pub fn new(lifetime: Duration) -> Self {
        Self {
            issued: Arc::new(AtomicUsize::new(0)),
            lifetime,
        }
    }

    /// How many tokens were issued so far.
    pub fn issued(&self) -> usize {
        self.issued.load(Ordering::SeqCst)
    }
}

impl Respond for IamTokens {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let now = SystemTime::now();
        ResponseTemplate::new(201)
            .insert_header("X-Subject-Token", format!("token-{n}").as_str())
            .set_body_json(serde_json::json!({"token": {
                "issued_at": iam_time(now),
                "expires_at": iam_time(now + self.lifetime),
                "methods": ["password"]
            }}))
    }
}
