//! The four ways to authenticate, against wiremock: IAM token lifecycle (single flight,
//! renewal, renew-and-retry, backoff, a token revoked again right after a renewal), token file
//! rotation, and AK/SK signing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use codearts_repo_exporter::App;

use crate::helpers::*;
use wiremock::matchers::{header, header_exists};
use wiremock::ResponseTemplate;

const DAY: Duration = Duration::from_secs(24 * 3600);

#[tokio::test]
async fn iam_one_token_serves_200_concurrent_requests() {
    let upstream = Upstream::start().await;
    let iam = upstream.iam_tokens(DAY).await;
    upstream.for_token("token-1", ok_status()).expect(200).await;
    let ids: Vec<u32> = (1..=200).collect();
    let app = app(&iam_config(&upstream.uri(), &ids, "  concurrency: 200\n"));
    let body = scrape(&app, None).await.body;
    assert_eq!(iam.issued(), 1, "exactly one token request");
    assert_eq!(body.healthy().len(), 200);
    assert_eq!(body.requests("iam_token"), Some(1.0));
}

#[tokio::test]
async fn iam_expiry_metric_shows_the_token_expiry() {
    let upstream = Upstream::start().await;
    upstream.iam_tokens(DAY).await;
    upstream.every_get(ok_status()).await;
    let app = app(&iam_config(&upstream.uri(), &[1], ""));
    let body = scrape(&app, None).await.body;
    let expiry = body.token_expiry().expect("expiry metric");
    let expected = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + 24.0 * 3600.0;
    assert!((expiry - expected).abs() < 30.0, "{expiry} vs {expected}");
}

#[tokio::test]
async fn iam_renews_ahead_of_expiry() {
    let upstream = Upstream::start().await;
    // A 3 s token is due for renewal 0.3 s before it expires.
    let iam = upstream.iam_tokens(Duration::from_secs(3)).await;
    upstream.for_token("token-1", ok_status()).expect(1).await;
    upstream.for_token("token-2", ok_status()).expect(1).await;
    let app = app(&iam_config(&upstream.uri(), &[1], ""));
    let first = scrape(&app, None).await.body;
    tokio::time::sleep(Duration::from_millis(2800)).await;
    let second = scrape(&app, None).await.body;
    assert_eq!(iam.issued(), 2);
    assert!(
        second.token_expiry().unwrap() > first.token_expiry().unwrap() + 2.0,
        "the metric follows the new token"
    );
}

async fn renew_and_retry_on(code: &str) {
    let upstream = Upstream::start().await;
    let iam = upstream.iam_tokens(DAY).await;
    upstream
        .for_token("token-1", error(401, code, "token expired"))
        .expect(1)
        .await;
    upstream.for_token("token-2", ok_status()).expect(1).await;
    let app = app(&iam_config(&upstream.uri(), &[1], ""));
    let body = scrape(&app, None).await.body;
    assert_eq!(body.up(1), Some(1.0), "{body}");
    assert_eq!(iam.issued(), 2);
}

#[tokio::test]
async fn iam_renews_and_retries_once_on_expired_token() {
    renew_and_retry_on("DEV.00000003").await;
}

#[tokio::test]
async fn iam_renews_and_retries_once_on_undecryptable_token() {
    renew_and_retry_on("APIG.0301").await;
}

#[tokio::test]
async fn iam_401_for_other_reasons_is_not_retried() {
    let upstream = Upstream::start().await;
    let iam = upstream.iam_tokens(DAY).await;
    upstream
        .every_get(error(401, "CH.00401008", "no permission"))
        .expect(1)
        .await;
    let app = app(&iam_config(&upstream.uri(), &[1], "  retries: 3\n"));
    let body = scrape(&app, None).await.body;
    assert_eq!(body.class(1), Some("unauthorized"));
    assert_eq!(iam.issued(), 1);
}

#[tokio::test]
async fn iam_wrong_password_backs_off_instead_of_looping() {
    let upstream = Upstream::start().await;
    upstream.iam(wrong_password()).expect(1).await;
    upstream.every_get(ok_status()).expect(0).await;
    let ids: Vec<u32> = (1..=50).collect();
    let app = app(&iam_config(&upstream.uri(), &ids, "  retries: 3\n"));
    for _ in 0..3 {
        let body = scrape(&app, None).await.body;
        assert_eq!(body.class(1), Some("unauthorized"));
    }
    assert_not_ready(&app, &["IAM answered 401", "IAM.0004"]).await;
}

#[tokio::test]
async fn readyz_waits_for_the_first_iam_token() {
    let upstream = Upstream::start().await;
    upstream.iam_tokens(Duration::from_secs(3600)).await;
    let app = app(&iam_config(&upstream.uri(), &[1], ""));
    assert_not_ready(&app, &["no IAM token obtained yet"]).await;
    app.warm_up().await;
    assert_eq!(readyz(&app).await.status, 200);
}

/// An app watching repository 1 at `endpoint` with its token read from a file that holds
/// `content`; returns the file's directory (the file lives as long as it does), its path and
/// the app.
fn token_file_app(endpoint: &str, content: &str) -> (tempfile::TempDir, PathBuf, Arc<App>) {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, content).unwrap();
    let app = app(&config_with_auth(
        endpoint,
        &[1],
        &token_file_auth(&token),
        "",
    ));
    (dir, token, app)
}

#[tokio::test]
async fn token_file_rotation_is_picked_up_without_restart() {
    let upstream = Upstream::start().await;
    upstream.for_token("first-token", ok_status()).await;
    upstream
        .for_token("second-token", status_answer(false, 1, "finish"))
        .await;
    let (dir, token, app) = token_file_app(&upstream.uri(), "first-token\n");
    let first = scrape(&app, None).await.body;
    assert_eq!(
        first.series("codearts_repo_statistics_reason", 1),
        Some(0.0)
    );

    // Swap the file the way a Kubernetes Secret volume does: a new inode under the same name.
    let next = dir.path().join("token.tmp");
    std::fs::write(&next, "second-token\n").unwrap();
    std::fs::rename(&next, &token).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = scrape(&app, None).await.body;
    assert_eq!(
        second.series("codearts_repo_statistics_reason", 1),
        Some(1.0)
    );
}

#[tokio::test]
async fn missing_token_file_is_a_class_and_a_readiness_reason() {
    let upstream = Upstream::start().await;
    upstream.every_get(ok_status()).expect(0).await;
    let (_dir, token, app) = token_file_app(&upstream.uri(), "t\n");
    std::fs::remove_file(&token).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let body = scrape(&app, None).await.body;
    assert_eq!(body.class(1), Some("unauthorized"));
    assert_not_ready(&app, &[&token.display().to_string()]).await;
}

#[tokio::test]
async fn empty_token_file_is_a_readiness_reason() {
    let (_dir, _token, app) = token_file_app("http://127.0.0.1:9", "  \n");
    assert_not_ready(&app, &["is empty"]).await;
}

/// An app watching repository 1 at `endpoint`, signing with the demo's AK/SK from files (which
/// live as long as the returned directory), with `project_id` when given.
fn aksk_app(endpoint: &str, project: Option<&str>, scrape: &str) -> (tempfile::TempDir, Arc<App>) {
    let dir = tempfile::tempdir().unwrap();
    let project_id = project
        .map(|project| format!("      project_id: {project}\n"))
        .unwrap_or_default();
    let auth = aksk_files_yaml(
        dir.path(),
        "DEMOACCESSKEY",
        "demo-secret-key",
        None,
        &project_id,
    );
    let app = app(&config_with_auth(endpoint, &[1], &auth, scrape));
    (dir, app)
}

#[tokio::test]
async fn aksk_requests_are_signed() {
    let upstream = Upstream::start().await;
    upstream
        .every_get(ok_status())
        .and(header_exists("x-sdk-date"))
        .and(header("x-project-id", "0123456789abcdef0123456789abcdef"))
        .expect(1)
        .await;
    let (_keys, app) = aksk_app(
        &upstream.uri(),
        Some("0123456789abcdef0123456789abcdef"),
        "",
    );
    let body = scrape(&app, None).await.body;
    assert_eq!(body.up(1), Some(1.0));
    let requests = upstream.requests().await;
    let authorization = requests[0].headers["authorization"].to_str().unwrap();
    assert!(
        authorization.starts_with("SDK-HMAC-SHA256 Access=DEMOACCESSKEY, SignedHeaders=host;x-project-id;x-sdk-date, Signature="),
        "{authorization}"
    );
    assert!(!requests[0].headers.contains_key("x-auth-token"));
}

#[tokio::test]
async fn aksk_401_is_never_retried() {
    let upstream = Upstream::start().await;
    upstream
        .every_get(error(
            401,
            "APIG.0301",
            "Incorrect IAM authentication information: verify aksk signature fail, canonicalRequest:GET|/v4/…",
        ))
        .expect(1)
        .await;
    let (_keys, app) = aksk_app(&upstream.uri(), None, "  retries: 5\n");
    let body = scrape(&app, None).await.body;
    assert_eq!(body.class(1), Some("unauthorized"));
}

#[tokio::test]
async fn iam_does_not_renew_again_when_a_fresh_token_is_refused_too() {
    // One repository always answers "expired": the first 401 renews once; after that the
    // exporter stops paying an IAM request per scrape for it.
    let upstream = Upstream::start().await;
    let iam = upstream.iam_tokens(DAY).await;
    upstream
        .status(
            2,
            error(401, "DEV.00000003", "Authentication information expired."),
        )
        .await;
    upstream.status(1, ok_status()).await;
    let app = app(&iam_config(&upstream.uri(), &[1, 2], "  concurrency: 1\n"));
    for _ in 0..4 {
        let body = scrape(&app, None).await.body;
        assert_eq!(body.class(2), Some("unauthorized"));
        assert_eq!(body.up(1), Some(1.0));
    }
    assert_eq!(iam.issued(), 2, "one token, one renewal, then no more");
}

/// A gateway's answer to a revoked IAM token.
fn revoked() -> ResponseTemplate {
    error(401, "APIG.0301", "decrypt token fail")
}

/// A token revoked again soon after a renewal that worked is renewed at once too, not five
/// minutes later (a fresh token refused as well opens a short quiet window instead:
/// `iam_does_not_renew_again_when_a_fresh_token_is_refused_too`).
#[tokio::test]
async fn a_token_revoked_again_right_after_a_renewal_that_worked_is_renewed_at_once() {
    let upstream = Upstream::start().await;
    let iam = upstream.iam_tokens(Duration::from_secs(24 * 3600)).await;
    // token-1 is revoked; token-2 works once, then is revoked too; token-3 works.
    upstream.for_token("token-1", revoked()).await;
    upstream.for_token("token-2", ok_status()).first(1).await;
    upstream.for_token("token-2", revoked()).await;
    upstream.for_token("token-3", ok_status()).await;
    let app = app(&iam_config(&upstream.uri(), &[1], ""));
    for round in 0..2 {
        let body = scrape(&app, None).await.body;
        assert_eq!(body.up(1), Some(1.0), "round {round}: {body}");
    }
    assert_eq!(iam.issued(), 3, "two renewals, both at once");
}
