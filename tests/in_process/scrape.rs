//! `/metrics` end to end through the router, against a wiremock upstream: every error class,
//! isolation of failures, the scrape deadline, bounded concurrency, and fresh series.

use std::time::Duration;

use crate::helpers::*;
use wiremock::matchers::header;
use wiremock::ResponseTemplate;

const OK_ID: u32 = 1000;

/// An upstream where `OK_ID` answers a healthy, active status to the config's token.
async fn upstream_with_ok_repo() -> Upstream {
    let upstream = Upstream::start().await;
    upstream
        .status(OK_ID, status_answer(true, 2, "active"))
        .and(header("x-auth-token", "test-token"))
        .await;
    upstream
}

fn error_json(status: u16, code: &str) -> ResponseTemplate {
    error(status, code, "something").insert_header("X-Request-Id", "req-123")
}

/// Scrapes an upstream where `OK_ID` answers well and `id` answers `template`, and checks that
/// `id` shows `class` and `OK_ID` is untouched.
async fn assert_class(template: ResponseTemplate, class: &str, http_status: f64) {
    let upstream = upstream_with_ok_repo().await;
    let id = 2000;
    upstream.status(id, template).await;
    let app = app(&config_yaml(
        &upstream.uri(),
        &[OK_ID, id],
        "  request_timeout: 1s\n",
    ));
    let body = scrape(&app, None).await.body;

    assert_eq!(body.class(id), Some(class), "{body}");
    assert_eq!(body.up(id), Some(0.0));
    assert_eq!(
        body.series("codearts_repo_statistics_http_status", id),
        Some(http_status)
    );
    assert!(body
        .repo_series("codearts_repo_statistics_can_statistics", id)
        .is_empty());
    assert_ok_repo_complete(&body);
}

fn assert_ok_repo_complete(body: &Body) {
    let ok = OK_ID.to_string();
    let labels = [
        ("repository_id", ok.as_str()),
        ("repository", "group/repo-1000"),
    ];
    assert_eq!(
        body.value("codearts_repo_statistics_up", &labels),
        Some(1.0),
        "{body}"
    );
    for (name, expected) in [
        ("codearts_repo_statistics_can_statistics", 1.0),
        ("codearts_repo_statistics_reason", 2.0),
        ("codearts_repo_statistics_http_status", 200.0),
        (
            "codearts_repo_statistics_event_updated_timestamp_seconds",
            1_749_024_869.0,
        ),
    ] {
        assert_eq!(body.value(name, &labels), Some(expected), "{name}");
    }
    assert_eq!(body.class(OK_ID), None);
}

#[tokio::test]
async fn unauthorized_answer_sets_class_unauthorized() {
    assert_class(error_json(401, "DEV.00000003"), "unauthorized", 401.0).await;
}

#[tokio::test]
async fn forbidden_answer_sets_class_forbidden() {
    assert_class(error_json(403, "CH.004403"), "forbidden", 403.0).await;
}

#[tokio::test]
async fn not_found_answer_sets_class_not_found() {
    assert_class(error_json(404, "CH.00402000"), "not_found", 404.0).await;
}

#[tokio::test]
async fn throttled_answer_sets_class_throttled() {
    assert_class(error_json(429, "APIG.0308"), "throttled", 429.0).await;
}

#[tokio::test]
async fn forbidden_with_throttling_code_is_throttled() {
    assert_class(error_json(403, "APIG.0308"), "throttled", 403.0).await;
}

#[tokio::test]
async fn other_4xx_sets_class_client_error() {
    assert_class(error_json(400, "CH.010001"), "client_error", 400.0).await;
}

#[tokio::test]
async fn bad_gateway_with_html_sets_class_server_error() {
    let html = ResponseTemplate::new(502)
        .set_body_raw("<html><body>502 Bad Gateway</body></html>", "text/html");
    assert_class(html, "server_error", 502.0).await;
}

#[tokio::test]
async fn malformed_json_sets_class_invalid_response() {
    let broken =
        ResponseTemplate::new(200).set_body_raw("{\"can_statistics\": tru", "application/json");
    assert_class(broken, "invalid_response", 200.0).await;
}

#[tokio::test]
async fn json_array_sets_class_invalid_response() {
    let array = ResponseTemplate::new(200).set_body_json(serde_json::json!([]));
    assert_class(array, "invalid_response", 200.0).await;
}

#[tokio::test]
async fn oversized_body_sets_class_invalid_response() {
    let padding = "x".repeat(2 << 20);
    let huge = ResponseTemplate::new(200)
        .set_body_raw(format!("{{\"pad\":\"{padding}\"}}"), "application/json");
    // The read stops at the cap; the status that came with the answer is still reported.
    assert_class(huge, "invalid_response", 200.0).await;
}

#[tokio::test]
async fn answer_slower_than_request_timeout_sets_class_timeout() {
    let slow = ok_status().set_delay(Duration::from_secs(3));
    assert_class(slow, "timeout", 0.0).await;
}

#[tokio::test]
async fn refused_connection_sets_class_connection() {
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let app = app(&config_yaml(&endpoint, &[OK_ID], ""));
    let body = scrape(&app, None).await.body;
    assert_eq!(body.class(OK_ID), Some("connection"));
    assert_eq!(
        body.series("codearts_repo_statistics_http_status", OK_ID),
        Some(0.0)
    );
}

#[tokio::test]
async fn redirect_is_not_followed_and_sets_class_invalid_response() {
    let other = Upstream::start().await;
    other
        .every_get(answer_json(200, status_body(true, 0, "finish", "x")))
        .expect(0)
        .await;
    let redirect = ResponseTemplate::new(302)
        .insert_header("Location", format!("{}/steal", other.uri()).as_str());
    assert_class(redirect, "invalid_response", 302.0).await;
}

#[tokio::test]
async fn one_failing_repository_never_changes_the_others() {
    let upstream = upstream_with_ok_repo().await;
    for (id, status) in [(3001u32, 401u16), (3002, 500), (3003, 404)] {
        upstream.status(id, error_json(status, "X")).await;
    }
    let app = app(&config_yaml(
        &upstream.uri(),
        &[3001, OK_ID, 3002, 3003],
        "",
    ));
    let answer = scrape(&app, None).await;
    assert_ok_repo_complete(&answer.body);
    assert_eq!(answer.body.class(3001), Some("unauthorized"));
    assert_eq!(answer.body.class(3002), Some("server_error"));
    assert_eq!(answer.body.class(3003), Some("not_found"));
    assert!(answer.content_type.starts_with("text/plain; version=0.0.4"));
}

#[tokio::test]
async fn deadline_cuts_off_a_repository_that_never_answers() {
    let upstream = upstream_with_ok_repo().await;
    let hanging = 4000;
    upstream
        .status(
            hanging,
            ResponseTemplate::new(200).set_delay(Duration::from_secs(60)),
        )
        .await;
    let app = app(&config_yaml(
        &upstream.uri(),
        &[OK_ID, hanging],
        "  request_timeout: 30s\n  timeout_offset: 500ms\n",
    ));
    let answer = scrape(&app, Some("2")).await;

    // 2 s header minus 0.5 s offset.
    assert!(
        answer.elapsed >= Duration::from_millis(1450)
            && answer.elapsed < Duration::from_millis(1900),
        "answered after {:?}",
        answer.elapsed
    );
    assert_eq!(answer.body.class(hanging), Some("timeout"));
    assert_ok_repo_complete(&answer.body);
    assert_eq!(
        answer
            .body
            .value("codearts_repo_exporter_scrape_timeout_seconds", &[]),
        Some(1.5)
    );
}

#[tokio::test]
async fn concurrency_bounds_requests_in_flight() {
    let delay = Duration::from_millis(300);
    let upstream = counting_upstream(delay).await;
    let ids: Vec<u32> = (1..=20).collect();
    let app = app(&config_yaml(&upstream.endpoint, &ids, "  concurrency: 4\n"));
    let answer = scrape(&app, None).await;

    assert_eq!(upstream.request_count(), 20);
    assert_eq!(upstream.most_in_flight(), 4);
    // 20 repositories, 4 at a time: 5 waves of 300 ms.
    assert!(
        answer.elapsed >= delay * 5 && answer.elapsed < delay * 5 + Duration::from_millis(400),
        "took {:?}",
        answer.elapsed
    );
    for id in ids {
        assert_eq!(answer.body.up(id), Some(1.0));
    }
}

#[tokio::test]
async fn series_disappear_when_a_repository_leaves_the_config() {
    let upstream = Upstream::start().await;
    for id in [5001, 5002] {
        upstream.status(id, ok_status()).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yml");
    std::fs::write(&file, config_yaml(&upstream.uri(), &[5001, 5002], "")).unwrap();
    let app = app_from_file(&file);
    let before = scrape(&app, None).await.body;
    assert!(!before
        .repo_series("codearts_repo_statistics_up", 5002)
        .is_empty());

    std::fs::write(&file, config_yaml(&upstream.uri(), &[5001], "")).unwrap();
    app.reload().await.expect("reload");
    let after = scrape(&app, None).await.body;
    assert!(!after
        .repo_series("codearts_repo_statistics_up", 5001)
        .is_empty());
    assert!(
        !after.contains("repository_id=\"5002\""),
        "no series of the removed repository remain:\n{after}"
    );
}

#[tokio::test]
async fn event_metrics_follow_the_answer() {
    let upstream = Upstream::start().await;
    upstream
        .status(
            6001,
            ResponseTemplate::new(200).set_body_raw(
            r#"{"can_statistics": false, "reason": "3", "unknown": 1,
                "event": {"id": 42, "branch": "rel\"ease\n1", "status": "failed", "stat_date": "20250604",
                          "created_at": "2025-06-04T08:00:00.5Z", "updated_at": "not a time"}}"#,
            "application/json",
            ),
        )
        .await;
    upstream
        .status(
            6002,
            answer_json(
                200,
                serde_json::json!({"can_statistics": true, "reason": 0, "event": null}),
            ),
        )
        .await;
    let app = app(&config_yaml(&upstream.uri(), &[6001, 6002], ""));
    let body = scrape(&app, None).await.body;
    assert_eq!(body.up(6001), Some(1.0));
    for (name, expected) in [
        ("codearts_repo_statistics_can_statistics", 0.0),
        ("codearts_repo_statistics_reason", 3.0),
        ("codearts_repo_statistics_event_id", 42.0),
        (
            "codearts_repo_statistics_event_created_timestamp_seconds",
            1_749_024_000.5,
        ),
    ] {
        assert_eq!(body.series(name, 6001), Some(expected), "{name}");
    }
    // An unparseable updated_at drops only its two metrics.
    assert!(body
        .repo_series(
            "codearts_repo_statistics_event_updated_timestamp_seconds",
            6001
        )
        .is_empty());
    assert!(body
        .repo_series("codearts_repo_statistics_event_age_seconds", 6001)
        .is_empty());
    // An unknown status is "other"; the raw value stays in event_info, escaped.
    assert_eq!(
        body.value(
            "codearts_repo_statistics_event_status",
            &[("repository_id", "6001"), ("status", "other")]
        ),
        Some(1.0)
    );
    assert_eq!(
        body.value(
            "codearts_repo_statistics_event_status",
            &[("repository_id", "6001"), ("status", "finish")]
        ),
        Some(0.0)
    );
    assert_eq!(
        body.value(
            "codearts_repo_statistics_event_info",
            &[
                ("repository_id", "6001"),
                ("branch", "rel\"ease\n1"),
                ("status", "failed")
            ]
        ),
        Some(1.0)
    );
    // No event: the event families are absent, the rest is there.
    assert_eq!(
        body.series("codearts_repo_statistics_can_statistics", 6002),
        Some(1.0)
    );
    assert!(body
        .repo_series("codearts_repo_statistics_event_status", 6002)
        .is_empty());
    assert!(body
        .repo_series("codearts_repo_statistics_event_info", 6002)
        .is_empty());
}

#[tokio::test]
async fn exporter_metrics_count_requests_and_errors() {
    let upstream = upstream_with_ok_repo().await;
    upstream.status(7001, error_json(404, "CH.00402000")).await;
    let app = app(&config_yaml(&upstream.uri(), &[OK_ID, 7001], ""));
    let body = scrape(&app, None).await.body;
    assert_eq!(body.requests("statistics_status"), Some(2.0));
    assert_eq!(body.errors("statistics_status", "not_found"), Some(1.0));
    assert_eq!(
        body.errors("iam_token", "timeout"),
        Some(0.0),
        "known series start at 0"
    );
    assert_eq!(
        body.value(
            "codearts_repo_exporter_repositories",
            &[("source", "static")]
        ),
        Some(2.0)
    );
    assert!(body
        .value("codearts_repo_exporter_build_info", &[])
        .is_some());
    assert!(body.contains("process_resident_memory_bytes"));
}
