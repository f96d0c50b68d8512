//! A revoked IAM token is renewed, and a token revoked again soon after a renewal that worked is
//! renewed at once too — not five minutes later. (A fresh token refused as well opens a short
//! quiet window instead: `tests/auth.rs`, `iam_does_not_renew_again_when_a_fresh_token_is_refused_too`.)

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn revoked() -> ResponseTemplate {
    ResponseTemplate::new(401).set_body_json(
        serde_json::json!({"error_code": "APIG.0301", "error_msg": "decrypt token fail"}),
    )
}

fn ok_answer() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(status_body(
        true,
        0,
        "finish",
        "2025-06-04T16:14:29+08:00",
    ))
}

#[tokio::test]
async fn a_token_revoked_again_right_after_a_renewal_that_worked_is_renewed_at_once() {
    let server = MockServer::start().await;
    let iam = IamResponder::new(Duration::from_secs(24 * 3600));
    let calls = iam.calls.clone();
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .respond_with(iam)
        .mount(&server)
        .await;
    // token-1 is revoked; token-2 works once, then is revoked too; token-3 works.
    Mock::given(method("GET"))
        .and(header("x-auth-token", "token-1"))
        .respond_with(revoked())
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("x-auth-token", "token-2"))
        .respond_with(ok_answer())
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("x-auth-token", "token-2"))
        .respond_with(revoked())
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("x-auth-token", "token-3"))
        .respond_with(ok_answer())
        .mount(&server)
        .await;
    let app = app(&config_with_auth(
        &server.uri(),
        &[1],
        &iam_auth_yaml(&server.uri()),
        "",
    ));
    for round in 0..2 {
        let body = scrape(&app, None).await.body;
        assert_eq!(
            value(
                &body,
                "codearts_repo_statistics_up",
                &[("repository_id", "1")]
            ),
            Some(1.0),
            "round {round}: {body}"
        );
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "two renewals, both at once"
    );
}
