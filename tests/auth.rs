//! The four ways to authenticate, against wiremock: IAM token lifecycle (single flight,
//! renewal, renew-and-retry, backoff), token file rotation, and AK/SK signing.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use common::*;
use wiremock::matchers::{body_partial_json, header, header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn ok_answer() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(status_body(
        true,
        0,
        "finish",
        "2025-06-04T16:14:29+08:00",
    ))
}

async fn mount_iam(server: &MockServer, responder: IamResponder) {
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .and(query_param("nocatalog", "true"))
        .and(body_partial_json(serde_json::json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "exporter-bot", "password": "pw-s3cret", "domain": {"name": "acme"}}}},
            "scope": {"project": {"name": "cn-north-4"}}}})))
        .respond_with(responder)
        .mount(server)
        .await;
}

#[tokio::test]
async fn iam_one_token_serves_200_concurrent_requests() {
    let server = MockServer::start().await;
    let iam = IamResponder::new(Duration::from_secs(24 * 3600));
    let calls = iam.calls.clone();
    mount_iam(&server, iam).await;
    Mock::given(method("GET"))
        .and(header("x-auth-token", "token-1"))
        .respond_with(ok_answer())
        .expect(200)
        .mount(&server)
        .await;
    let ids: Vec<u32> = (1..=200).collect();
    let app = app(&config_with_auth(
        &server.uri(),
        &ids,
        &iam_auth_yaml(&server.uri()),
        "  concurrency: 200\n",
    ));
    let body = scrape(&app, None).await.body;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "exactly one token request");
    let up = samples(&body)
        .into_iter()
        .filter(|s| s.name == "codearts_repo_statistics_up" && s.value == 1.0)
        .count();
    assert_eq!(up, 200);
    assert_eq!(
        value(
            &body,
            "codearts_repo_exporter_api_requests_total",
            &[("endpoint", "iam_token")]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn iam_expiry_metric_shows_the_token_expiry() {
    let server = MockServer::start().await;
    mount_iam(&server, IamResponder::new(Duration::from_secs(24 * 3600))).await;
    Mock::given(method("GET"))
        .respond_with(ok_answer())
        .mount(&server)
        .await;
    let app = app(&config_with_auth(
        &server.uri(),
        &[1],
        &iam_auth_yaml(&server.uri()),
        "",
    ));
    let body = scrape(&app, None).await.body;
    let expiry = value(
        &body,
        "codearts_repo_exporter_auth_token_expiry_timestamp_seconds",
        &[],
    )
    .expect("expiry metric");
    let expected = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + 24.0 * 3600.0;
    assert!((expiry - expected).abs() < 30.0, "{expiry} vs {expected}");
}

#[tokio::test]
async fn iam_renews_ahead_of_expiry() {
    let server = MockServer::start().await;
    // A 3 s token is due for renewal 0.3 s before it expires.
    let iam = IamResponder::new(Duration::from_secs(3));
    let calls = iam.calls.clone();
    mount_iam(&server, iam).await;
    Mock::given(method("GET"))
        .and(header("x-auth-token", "token-1"))
        .respond_with(ok_answer())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("x-auth-token", "token-2"))
        .respond_with(ok_answer())
        .expect(1)
        .mount(&server)
        .await;
    let app = app(&config_with_auth(
        &server.uri(),
        &[1],
        &iam_auth_yaml(&server.uri()),
        "",
    ));
    let first = scrape(&app, None).await.body;
    tokio::time::sleep(Duration::from_millis(2800)).await;
    let second = scrape(&app, None).await.body;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let expiry = |body: &str| {
        value(
            body,
            "codearts_repo_exporter_auth_token_expiry_timestamp_seconds",
            &[],
        )
        .unwrap()
    };
    assert!(
        expiry(&second) > expiry(&first) + 2.0,
        "the metric follows the new token"
    );
}

async fn renew_and_retry_on(code: &str) {
    let server = MockServer::start().await;
    let iam = IamResponder::new(Duration::from_secs(24 * 3600));
    let calls = iam.calls.clone();
    mount_iam(&server, iam).await;
    Mock::given(method("GET"))
        .and(header("x-auth-token", "token-1"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(
                serde_json::json!({"error_code": code, "error_msg": "token expired"}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("x-auth-token", "token-2"))
        .respond_with(ok_answer())
        .expect(1)
        .mount(&server)
        .await;
    let app = app(&config_with_auth(
        &server.uri(),
        &[1],
        &iam_auth_yaml(&server.uri()),
        "",
    ));
    let body = scrape(&app, None).await.body;
    assert_eq!(
        value(
            &body,
            "codearts_repo_statistics_up",
            &[("repository_id", "1")]
        ),
        Some(1.0),
        "{body}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
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
    let server = MockServer::start().await;
    let iam = IamResponder::new(Duration::from_secs(24 * 3600));
    let calls = iam.calls.clone();
    mount_iam(&server, iam).await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            serde_json::json!({"error_code": "CH.00401008", "error_msg": "no permission"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let app = app(&config_with_auth(
        &server.uri(),
        &[1],
        &iam_auth_yaml(&server.uri()),
        "  retries: 3\n",
    ));
    let body = scrape(&app, None).await.body;
    assert_eq!(error_class(&body, 1).as_deref(), Some("unauthorized"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn iam_wrong_password_backs_off_instead_of_looping() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            serde_json::json!({"error": {"code": "IAM.0004", "message": "The username or password is incorrect."}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ok_answer())
        .expect(0)
        .mount(&server)
        .await;
    let ids: Vec<u32> = (1..=50).collect();
    let app = app(&config_with_auth(
        &server.uri(),
        &ids,
        &iam_auth_yaml(&server.uri()),
        "  retries: 3\n",
    ));
    for _ in 0..3 {
        let body = scrape(&app, None).await.body;
        assert_eq!(error_class(&body, 1).as_deref(), Some("unauthorized"));
    }
    let ready = request(&app, "GET", "/readyz", None).await;
    assert_eq!(ready.status.as_u16(), 503);
    assert!(ready.body.contains("IAM answered 401"), "{}", ready.body);
    assert!(ready.body.contains("IAM.0004"), "{}", ready.body);
}

#[tokio::test]
async fn readyz_waits_for_the_first_iam_token() {
    let server = MockServer::start().await;
    mount_iam(&server, IamResponder::new(Duration::from_secs(3600))).await;
    let app = app(&config_with_auth(
        &server.uri(),
        &[1],
        &iam_auth_yaml(&server.uri()),
        "",
    ));
    let before = request(&app, "GET", "/readyz", None).await;
    assert_eq!(before.status.as_u16(), 503);
    assert!(before.body.contains("no IAM token obtained yet"));
    app.warm_up().await;
    assert_eq!(
        request(&app, "GET", "/readyz", None).await.status.as_u16(),
        200
    );
}

#[tokio::test]
async fn token_file_rotation_is_picked_up_without_restart() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header("x-auth-token", "first-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(status_body(
            true,
            0,
            "finish",
            "2025-06-04T16:14:29+08:00",
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("x-auth-token", "second-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(status_body(
            false,
            1,
            "finish",
            "2025-06-04T16:14:29+08:00",
        )))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "first-token\n").unwrap();
    let auth = format!("    token_file: {}\n", token.display());
    let app = app(&config_with_auth(&server.uri(), &[1], &auth, ""));
    let first = scrape(&app, None).await.body;
    assert_eq!(
        value(
            &first,
            "codearts_repo_statistics_reason",
            &[("repository_id", "1")]
        ),
        Some(0.0)
    );

    // Swap the file the way a Kubernetes Secret volume does: a new inode under the same name.
    let next = dir.path().join("token.tmp");
    std::fs::write(&next, "second-token\n").unwrap();
    std::fs::rename(&next, &token).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = scrape(&app, None).await.body;
    assert_eq!(
        value(
            &second,
            "codearts_repo_statistics_reason",
            &[("repository_id", "1")]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn missing_token_file_is_a_class_and_a_readiness_reason() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ok_answer())
        .expect(0)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "t\n").unwrap();
    let auth = format!("    token_file: {}\n", token.display());
    let app = app(&config_with_auth(&server.uri(), &[1], &auth, ""));
    std::fs::remove_file(&token).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let body = scrape(&app, None).await.body;
    assert_eq!(error_class(&body, 1).as_deref(), Some("unauthorized"));
    let ready = request(&app, "GET", "/readyz", None).await;
    assert_eq!(ready.status.as_u16(), 503);
    assert!(
        ready.body.contains(&token.display().to_string()),
        "{}",
        ready.body
    );
}

#[tokio::test]
async fn empty_token_file_is_a_readiness_reason() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "  \n").unwrap();
    let auth = format!("    token_file: {}\n", token.display());
    let app = app(&config_with_auth("http://127.0.0.1:9", &[1], &auth, ""));
    let ready = request(&app, "GET", "/readyz", None).await;
    assert_eq!(ready.status.as_u16(), 503);
    assert!(ready.body.contains("is empty"), "{}", ready.body);
}

fn aksk_yaml(dir: &std::path::Path, project: Option<&str>) -> String {
    std::fs::write(dir.join("ak"), "DEMOACCESSKEY\n").unwrap();
    std::fs::write(dir.join("sk"), "demo-secret-key\n").unwrap();
    let mut yaml = format!(
        "    aksk:\n      access_key_file: {}\n      secret_key_file: {}\n",
        dir.join("ak").display(),
        dir.join("sk").display()
    );
    if let Some(project) = project {
        yaml.push_str(&format!("      project_id: {project}\n"));
    }
    yaml
}

#[tokio::test]
async fn aksk_requests_are_signed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header_exists("x-sdk-date"))
        .and(header("x-project-id", "0123456789abcdef0123456789abcdef"))
        .respond_with(ok_answer())
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let app = app(&config_with_auth(
        &server.uri(),
        &[1],
        &aksk_yaml(dir.path(), Some("0123456789abcdef0123456789abcdef")),
        "",
    ));
    let body = scrape(&app, None).await.body;
    assert_eq!(
        value(
            &body,
            "codearts_repo_statistics_up",
            &[("repository_id", "1")]
        ),
        Some(1.0)
    );
    let requests = server.received_requests().await.unwrap();
    let authorization = requests[0].headers["authorization"].to_str().unwrap();
    assert!(
        authorization.starts_with("SDK-HMAC-SHA256 Access=DEMOACCESSKEY, SignedHeaders=host;x-project-id;x-sdk-date, Signature="),
        "{authorization}"
    );
    assert!(!requests[0].headers.contains_key("x-auth-token"));
}

#[tokio::test]
async fn aksk_401_is_never_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error_code": "APIG.0301",
            "error_msg": "Incorrect IAM authentication information: verify aksk signature fail, canonicalRequest:GET|/v4/…"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let app = app(&config_with_auth(
        &server.uri(),
        &[1],
        &aksk_yaml(dir.path(), None),
        "  retries: 5\n",
    ));
    let body = scrape(&app, None).await.body;
    assert_eq!(error_class(&body, 1).as_deref(), Some("unauthorized"));
}

#[tokio::test]
async fn iam_does_not_renew_again_when_a_fresh_token_is_refused_too() {
    // One repository always answers "expired": the first 401 renews once; after that the
    // exporter stops paying an IAM request per scrape for it.
    let server = MockServer::start().await;
    let iam = IamResponder::new(Duration::from_secs(24 * 3600));
    let calls = iam.calls.clone();
    mount_iam(&server, iam).await;
    Mock::given(method("GET"))
        .and(path(status_path(2)))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            serde_json::json!({"error_code": "DEV.00000003", "error_msg": "Authentication information expired."}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(status_path(1)))
        .respond_with(ok_answer())
        .mount(&server)
        .await;
    let app = app(&config_with_auth(
        &server.uri(),
        &[1, 2],
        &iam_auth_yaml(&server.uri()),
        "  concurrency: 1\n",
    ));
    for _ in 0..4 {
        let body = scrape(&app, None).await.body;
        assert_eq!(error_class(&body, 2).as_deref(), Some("unauthorized"));
        assert_eq!(
            value(
                &body,
                "codearts_repo_statistics_up",
                &[("repository_id", "1")]
            ),
            Some(1.0)
        );
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "one token, one renewal, then no more"
    );
}
