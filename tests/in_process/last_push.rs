//! How far statistics trail the code: `last_push` asks each repository's last push, after every
//! status request has started, at most every `last_push.min_interval`; its failures never touch
//! the statistics series.

use std::time::Duration;

use crate::helpers::*;
use wiremock::{Request, ResponseTemplate};

/// The healthy statuses' statistics update ([`UPDATED_AT`]), in Unix seconds.
const UPDATED: f64 = 1_749_024_869.0;

/// A last push at `created_at`.
fn pushed(created_at: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "ref": "master", "created_at": created_at,
        "repository": {"id": 1, "name": "r", "path": "r", "path_with_namespace": "g/r"}
    }))
}

fn last_push_yaml(endpoint: &str, ids: &[u32], last_push: &str) -> String {
    format!("{}last_push:\n{last_push}", config_yaml(endpoint, ids, ""))
}

fn push_requests(requests: &[Request]) -> usize {
    requests
        .iter()
        .filter(|r| r.url.path().ends_with("/last-push-event"))
        .count()
}

#[tokio::test]
async fn off_by_default_no_request_and_no_series() {
    let upstream = Upstream::start().await;
    upstream.every_status(ok_status()).await;
    upstream.every_last_push(pushed(UPDATED_AT)).expect(0).await;
    let app = app(&config_yaml(&upstream.uri(), &[1, 2], ""));
    let body = scrape(&app, None).await.body;
    for name in ["last_push_up", "last_push_timestamp_seconds", "lag_seconds"] {
        assert!(
            !body.contains(&format!("codearts_repo_statistics_{name}")),
            "{name}"
        );
    }
}

#[tokio::test]
async fn lag_is_the_push_minus_the_statistics_update_and_zero_when_covered() {
    let upstream = Upstream::start().await;
    upstream.every_status(ok_status()).await;
    // 1: pushed a day after the statistics; 2: pushed before them; 3: never pushed.
    upstream.last_push(1, pushed("2025-06-05T08:14:29Z")).await;
    upstream.last_push(2, pushed("2025-06-01T00:00:00Z")).await;
    upstream
        .last_push(3, answer_json(200, serde_json::json!({})))
        .await;
    let app = app(&last_push_yaml(
        &upstream.uri(),
        &[1, 2, 3],
        "  enabled: true\n",
    ));
    let body = scrape(&app, None).await.body;
    assert_eq!(
        body.series("codearts_repo_statistics_lag_seconds", 1),
        Some(86_400.0)
    );
    assert_eq!(
        body.series("codearts_repo_statistics_last_push_timestamp_seconds", 1),
        Some(UPDATED + 86_400.0)
    );
    assert_eq!(
        body.series("codearts_repo_statistics_lag_seconds", 2),
        Some(0.0)
    );
    // No recorded push: the request worked, there is nothing to compare.
    assert_eq!(
        body.series("codearts_repo_statistics_last_push_up", 3),
        Some(1.0)
    );
    assert_eq!(body.series("codearts_repo_statistics_lag_seconds", 3), None);
    assert_eq!(
        body.series("codearts_repo_statistics_last_push_timestamp_seconds", 3),
        None
    );
    assert_eq!(body.requests("last_push_event"), Some(3.0));
}

#[tokio::test]
async fn a_last_push_is_asked_again_only_after_min_interval() {
    let upstream = Upstream::start().await;
    upstream.every_status(ok_status()).await;
    upstream.last_push(1, pushed("2025-06-05T08:14:29Z")).await;
    let app = app(&last_push_yaml(
        &upstream.uri(),
        &[1],
        "  enabled: true\n  min_interval: 1h\n",
    ));
    let first = scrape(&app, None).await.body;
    let second = scrape(&app, None).await.body;
    let requests = upstream.requests().await;
    assert_eq!(
        push_requests(&requests),
        1,
        "the push is reused within min_interval"
    );
    assert_eq!(
        second.series("codearts_repo_statistics_lag_seconds", 1),
        first.series("codearts_repo_statistics_lag_seconds", 1)
    );
}

#[tokio::test]
async fn every_status_request_starts_before_any_last_push_request() {
    let upstream = Upstream::start().await;
    upstream.every_status(ok_status()).await;
    for id in 1..=20 {
        upstream.last_push(id, pushed("2025-06-05T08:14:29Z")).await;
    }
    let ids: Vec<u32> = (1..=20).collect();
    let yaml = format!(
        "{}last_push:\n  enabled: true\n",
        config_yaml(&upstream.uri(), &ids, "  concurrency: 4\n")
    );
    let app = app(&yaml);
    scrape(&app, None).await;
    let requests = upstream.requests().await;
    let first_push = requests
        .iter()
        .position(|r| r.url.path().ends_with("/last-push-event"))
        .expect("last pushes were asked");
    let last_status = requests
        .iter()
        .rposition(|r| r.url.path().ends_with("/statistics-status"))
        .unwrap();
    // With 4 at a time, the first pushes start while the last statuses are still in flight,
    // but never before every status request has started.
    assert!(
        requests[..first_push]
            .iter()
            .filter(|r| r.url.path().ends_with("/statistics-status"))
            .count()
            >= 20 - 4,
        "pushes began before the statuses: first push at {first_push}, last status at {last_status}"
    );
    assert_eq!(push_requests(&requests), 20);
}

#[tokio::test]
async fn a_failing_last_push_leaves_the_statistics_untouched() {
    let upstream = Upstream::start().await;
    upstream.every_status(ok_status()).await;
    upstream
        .last_push(1, error(403, "CH.004403", "Insufficient permissions."))
        .await;
    let with = app(&last_push_yaml(&upstream.uri(), &[1], "  enabled: true\n"));
    let without = app(&config_yaml(&upstream.uri(), &[1], ""));
    let body = scrape(&with, None).await.body;
    let plain = scrape(&without, None).await.body;
    assert_eq!(
        body.series("codearts_repo_statistics_last_push_up", 1),
        Some(0.0)
    );
    assert_eq!(body.series("codearts_repo_statistics_lag_seconds", 1), None);
    for name in [
        "codearts_repo_statistics_up",
        "codearts_repo_statistics_can_statistics",
        "codearts_repo_statistics_reason",
        "codearts_repo_statistics_event_updated_timestamp_seconds",
        "codearts_repo_statistics_http_status",
    ] {
        assert_eq!(body.series(name, 1), plain.series(name, 1), "{name}");
    }
    assert_eq!(body.class(1), None, "no statistics error");
    assert_eq!(body.errors("last_push_event", "forbidden"), Some(1.0));
}

#[tokio::test]
async fn malformed_and_future_push_times_give_no_lag() {
    let upstream = Upstream::start().await;
    upstream.every_status(ok_status()).await;
    upstream.last_push(1, pushed("yesterday")).await;
    upstream.last_push(2, pushed("2999-01-01T00:00:00Z")).await;
    upstream
        .last_push(3, answer_json(200, serde_json::json!({"created_at": 17})))
        .await;
    let app = app(&last_push_yaml(
        &upstream.uri(),
        &[1, 2, 3],
        "  enabled: true\n",
    ));
    let body = scrape(&app, None).await.body;
    for id in 1..=3 {
        assert_eq!(
            body.series("codearts_repo_statistics_last_push_up", id),
            Some(1.0)
        );
        assert_eq!(
            body.series("codearts_repo_statistics_lag_seconds", id),
            None,
            "{id}"
        );
        assert_eq!(
            body.series("codearts_repo_statistics_last_push_timestamp_seconds", id),
            None,
            "{id}"
        );
    }
}

#[tokio::test]
async fn slow_last_pushes_never_delay_the_statuses_past_the_deadline() {
    let upstream = Upstream::start().await;
    upstream.every_status(ok_status()).await;
    upstream
        .every_last_push(pushed(UPDATED_AT).set_delay(Duration::from_secs(10)))
        .await;
    let app = app(&last_push_yaml(
        &upstream.uri(),
        &[1, 2],
        "  enabled: true\n",
    ));
    let answer = scrape(&app, Some("2")).await;
    assert!(
        answer.elapsed < Duration::from_millis(1900),
        "{:?}",
        answer.elapsed
    );
    for id in [1, 2] {
        assert_eq!(
            answer.body.series("codearts_repo_statistics_up", id),
            Some(1.0)
        );
        assert_eq!(
            answer
                .body
                .series("codearts_repo_statistics_lag_seconds", id),
            None
        );
    }
}

#[tokio::test]
async fn probe_asks_the_last_push_too() {
    let upstream = Upstream::start().await;
    upstream.every_status(ok_status()).await;
    upstream.last_push(8, pushed("2025-06-05T08:14:29Z")).await;
    let app = app(&last_push_yaml(&upstream.uri(), &[8], "  enabled: true\n"));
    let answer = request(&app, "GET", "/probe?repository_id=8", Some("5")).await;
    assert_eq!(
        answer
            .body
            .series("codearts_repo_statistics_lag_seconds", 8),
        Some(86_400.0)
    );
}

#[tokio::test]
async fn a_zero_min_interval_is_refused_naming_the_key() {
    let yaml = last_push_yaml(
        "http://127.0.0.1:1",
        &[1],
        "  enabled: true\n  min_interval: 0s\n",
    );
    let err = codearts_repo_exporter::Config::parse(&yaml, &|_| None).unwrap_err();
    assert!(
        err.to_string().starts_with("last_push.min_interval:"),
        "{err}"
    );
    let typo = last_push_yaml("http://127.0.0.1:1", &[1], "  enable: true\n");
    let err = codearts_repo_exporter::Config::parse(&typo, &|_| None).unwrap_err();
    assert!(err.to_string().starts_with("last_push"), "{err}");
}
