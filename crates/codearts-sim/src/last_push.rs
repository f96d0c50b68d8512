//! `GET /v4/repositories/{id}/last-push-event`: the repository's last push, as the SDK's
//! `ShowLastPushEventInRepositoryResponse` has it — `ref` (the branch or tag pushed),
//! `created_at` (when), and `repository` (a `RepositoryBriefDto`: `id`, `name`, `path`,
//! `path_with_namespace`, `project_name`).
//!
//! `Varied` pushes follow the clock like the statistics events: each repository is pushed to
//! every few minutes (some every two minutes, most every seven to forty), so at any moment some
//! repositories were pushed after their last statistics run and some were not. The two
//! repositories whose statistics are days old were pushed within the last hour.
//!
//! **A repository nobody ever pushed to** answers `200` with `repository` alone: `ref` and
//! `created_at` are absent. The API documents no answer for this case; an empty push history is
//! most plausibly an empty event, and the repository part does not depend on it. A client must
//! read a missing (or `null`) `created_at` as "no recorded push". The scenario answers
//! (`scenarios.rs`) also send `{}` and explicit `null`s for the same case.
//!
//! A few repositories whose statistics-status is healthy fail here (403 `CH.004403` on
//! `identity/auth-service`, 500 on `support/chatbot`): a failed last push must not change what
//! a client reports about the statistics. The statistics-status faults of `faults.rs` do not
//! apply to this route. `Uniform` answers are all of one size, with a push older than the
//! statistics event, so that a benchmark measures the exporter.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::answers::{mix, timestamp, CYCLE_SECS};
use super::catalog::SimRepository;
use super::routes::{error_response, json_response};
use super::{Answers, DEMO_REPOSITORIES};

/// Positions (within each round of the demo list) whose repositories were never pushed to.
const NEVER_PUSHED: [u32; 3] = [13, 29, 45];
/// Positions whose last-push request fails, with the failure.
const FAILING: [(u32, Failure); 2] = [(20, Failure::Forbidden), (33, Failure::ServerError)];
/// Positions of the repositories pushed to every two minutes.
const BUSY: [u32; 4] = [0, 8, 14, 30];
/// Refs pushed; most pushes go to a branch, a few are tags.
const REFS: [&str; 6] = [
    "master",
    "master",
    "main",
    "develop",
    "feature/login",
    "v1.4.2",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Forbidden,
    ServerError,
}

/// The last-push answer for the repository at `index`, at `unix_seconds`.
pub(crate) fn answer(
    repository: &SimRepository,
    index: u32,
    now: i64,
    answers: Answers,
) -> Response {
    match answers {
        Answers::Uniform => {
            // Older than the Uniform statistics event, which starts each cycle.
            let cycle_start = now - now.rem_euclid(CYCLE_SECS);
            ok(
                repository,
                Some(("master", timestamp(cycle_start - 60, None))),
            )
        }
        Answers::Scenarios => super::scenarios::last_push(repository, index),
        Answers::Varied => varied(repository, index, now),
    }
}

fn varied(repository: &SimRepository, index: u32, now: i64) -> Response {
    let position = index % DEMO_REPOSITORIES;
    if let Some((_, failure)) = FAILING.iter().find(|(at, _)| *at == position) {
        return match failure {
            Failure::Forbidden => error_response(
                StatusCode::FORBIDDEN,
                "CH.004403",
                "Insufficient permissions. Apply for the required permissions and try again.",
            ),
            Failure::ServerError => error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "CH.00000001",
                "System error, please wait.",
            ),
        };
    }
    if NEVER_PUSHED.contains(&position) {
        return ok(repository, None);
    }
    let seed = mix(u64::from(repository.id) ^ 0x5055_5348);
    let period = if BUSY.contains(&position) {
        120
    } else {
        7 * 60 + (seed % (33 * 60)) as i64
    };
    let phase = (seed >> 16) as i64 % period;
    let pushed = (now - phase).div_euclid(period) * period + phase;
    let push_number = (now - phase).div_euclid(period) as u64;
    let reference = REFS[(mix(seed ^ push_number) % REFS.len() as u64) as usize];
    let millis = (index % 3 == 1).then_some((mix(seed ^ push_number) % 1000) as u16);
    // With a fraction, `timestamp` moves back a second, so the push never lies in the future.
    ok(repository, Some((reference, timestamp(pushed, millis))))
}

/// A 200 answer: the push (ref, created_at), or none.
pub(crate) fn ok(repository: &SimRepository, push: Option<(&str, String)>) -> Response {
    let mut body = json!({ "repository": brief(repository) });
    if let (Some((reference, created_at)), Value::Object(fields)) = (push, &mut body) {
        fields.insert("ref".to_owned(), json!(reference));
        fields.insert("created_at".to_owned(), json!(created_at));
    }
    json_response(StatusCode::OK, body.to_string())
}

/// A `RepositoryBriefDto`: unlike the list's entries it has `path_with_namespace`.
pub(crate) fn brief(repository: &SimRepository) -> Value {
    json!({
        "id": repository.id,
        "name": repository.display_name,
        "path": repository.path(),
        "path_with_namespace": repository.full_path,
        "project_name": repository.project_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    const NOW: i64 = 1_749_024_869;

    async fn body_of(response: Response) -> (u16, Value) {
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    fn parse(stamp: &str) -> i64 {
        time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339)
            .unwrap()
            .unix_timestamp()
    }

    #[tokio::test]
    async fn pushes_are_in_the_past_and_move_with_the_clock() {
        let catalog = Catalog::new(DEMO_REPOSITORIES, Answers::Varied).unwrap();
        let repository = &catalog.repositories()[0];
        let mut times = Vec::new();
        for now in (NOW..NOW + 600).step_by(30) {
            let (status, body) = body_of(answer(repository, 0, now, Answers::Varied)).await;
            assert_eq!(status, 200);
            let pushed = parse(body["created_at"].as_str().unwrap());
            assert!(pushed <= now && now - pushed <= 120, "{pushed} at {now}");
            assert!(body["ref"].is_string());
            times.push(pushed);
        }
        times.dedup();
        assert!(times.len() >= 4, "{times:?}");
    }

    #[tokio::test]
    async fn never_pushed_repositories_answer_their_brief_alone() {
        let catalog = Catalog::new(DEMO_REPOSITORIES, Answers::Varied).unwrap();
        let repository = &catalog.repositories()[13];
        let (status, body) = body_of(answer(repository, 13, NOW, Answers::Varied)).await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"repository": {
                "id": repository.id, "name": "reporting", "path": "reporting",
                "path_with_namespace": "data/reporting", "project_name": "Data"}})
        );
    }

    #[tokio::test]
    async fn two_healthy_repositories_fail_here() {
        let catalog = Catalog::new(DEMO_REPOSITORIES, Answers::Varied).unwrap();
        for (index, expected) in [(20, 403), (33, 500)] {
            assert!(crate::faults::fault_at(index).is_none());
            let repository = &catalog.repositories()[index as usize];
            let (status, body) = body_of(answer(repository, index, NOW, Answers::Varied)).await;
            assert_eq!(status, expected);
            assert!(body["error_code"].is_string());
        }
    }

    #[tokio::test]
    async fn uniform_pushes_are_one_size_and_older_than_the_statistics_event() {
        let catalog = Catalog::new(2000, Answers::Uniform).unwrap();
        let mut sizes = std::collections::BTreeSet::new();
        for (index, repository) in catalog.repositories().iter().enumerate() {
            let now = NOW + index as i64 * 7;
            let (_, body) = body_of(answer(repository, index as u32, now, Answers::Uniform)).await;
            let status = crate::answers::statistics_status(
                index as u32,
                repository.id,
                now,
                Answers::Uniform,
            );
            let event_created = parse(status["event"]["created_at"].as_str().unwrap());
            assert!(parse(body["created_at"].as_str().unwrap()) < event_created);
            sizes.insert(body.to_string().len());
        }
        assert_eq!(sizes.len(), 1, "{sizes:?}");
    }
}
