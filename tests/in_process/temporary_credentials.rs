//! Temporary AK/SK from files (`aksk.security_token_file`) and the project-id lookup
//! (`aksk.project`): the security token sent and signed, the three files re-read on change,
//! `X-Project-Id` looked up once through IAM and cached, and a name IAM does not know.

use std::sync::Arc;
use std::time::Duration;

use codearts_repo_exporter::App;

use crate::helpers::*;
use wiremock::matchers::header;
use wiremock::ResponseTemplate;

const PROJECT_ID: &str = "0123456789abcdef0123456789abcdef";

fn signed_headers(request: &wiremock::Request) -> String {
    let authorization = request.headers["authorization"].to_str().unwrap();
    authorization
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap()
        .to_owned()
}

/// An app signing with AK/SK from files (no security token) that looks up the id of project
/// `project` through IAM at `upstream`, which is CodeArts too. The key files live as long as
/// the returned directory.
fn lookup_app(
    upstream: &Upstream,
    project: &str,
    ids: &[u32],
    scrape: &str,
) -> (tempfile::TempDir, Arc<App>) {
    let dir = tempfile::tempdir().unwrap();
    let auth = aksk_files_yaml(
        dir.path(),
        "AK",
        "SK",
        None,
        &project_lookup(project, &upstream.uri()),
    );
    let app = app(&config_with_auth(&upstream.uri(), ids, &auth, scrape));
    (dir, app)
}

/// The requests counted so far to upstream `endpoint` (0 before the first).
fn requests_total(body: &Body, endpoint: &str) -> f64 {
    body.requests(endpoint).unwrap_or(0.0)
}

#[tokio::test]
async fn the_security_token_is_sent_and_signed() {
    let upstream = Upstream::start().await;
    upstream
        .for_security_token("sts-token-1", ok_status())
        .expect(1)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let auth = aksk_files_yaml(
        dir.path(),
        "STSACCESS1",
        "sts-secret-1",
        Some("sts-token-1"),
        &format!("      project_id: {PROJECT_ID}\n"),
    );
    let app = app(&config_with_auth(&upstream.uri(), &[1], &auth, ""));
    let body = scrape(&app, None).await.body;
    assert_eq!(body.up(1), Some(1.0), "{body}");
    let requests = upstream.requests().await;
    assert_eq!(
        signed_headers(&requests[0]),
        "host;x-project-id;x-sdk-date;x-security-token"
    );
    assert!(requests[0].headers["authorization"]
        .to_str()
        .unwrap()
        .starts_with("SDK-HMAC-SHA256 Access=STSACCESS1, "));
}

#[tokio::test]
async fn the_simulator_accepts_temporary_keys_from_files_and_refuses_them_without_the_token() {
    let sim = start_sim(Duration::from_secs(3600)).await;
    let (access, secret, token) = sim_temporary_credential(&sim).await;
    let ids = sim_ids(&sim, 3);
    let dir = tempfile::tempdir().unwrap();
    let auth = aksk_files_yaml(dir.path(), &access, &secret, Some(&token), "");
    let app = app(&config_with_auth(&sim.endpoint(), &ids, &auth, ""));
    let body = scrape(&app, None).await.body;
    for id in &ids {
        assert_eq!(body.up(*id), Some(1.0), "{body}");
    }

    // The same keys without their security token: the gateway refuses them.
    let dir = tempfile::tempdir().unwrap();
    let auth = aksk_files_yaml(dir.path(), &access, &secret, None, "");
    let app = crate::helpers::app(&config_with_auth(&sim.endpoint(), &ids, &auth, ""));
    let body = scrape(&app, None).await.body;
    assert_eq!(body.class(ids[0]), Some("unauthorized"));
}

#[tokio::test]
async fn a_401_is_retried_once_with_key_files_rotated_meanwhile_and_never_otherwise() {
    let upstream = Upstream::start().await;
    // The old temporary credential has expired at the gateway, which takes its time to say so;
    // the new one works.
    upstream
        .for_security_token(
            "sts-token-old",
            error(
                401,
                "APIG.0301",
                "Incorrect IAM authentication information: the security token has expired",
            )
            .set_delay(Duration::from_millis(1200)),
        )
        .await;
    upstream
        .for_security_token("sts-token-new", ok_status())
        .await;
    let dir = tempfile::tempdir().unwrap();
    let auth = aksk_files_yaml(
        dir.path(),
        "STSOLD",
        "secret-old",
        Some("sts-token-old"),
        "",
    );
    let app = app(&config_with_auth(
        &upstream.uri(),
        &[1],
        &auth,
        "  retries: 3\n",
    ));
    let body = scrape(&app, None).await.body;
    assert_eq!(body.class(1), Some("unauthorized"));
    assert_eq!(
        upstream.requests().await.len(),
        1,
        "unchanged keys are never retried: five bad signatures lock the key"
    );

    // A sidecar replaces the three files while a request signed with the old ones is out: its
    // 401 is retried once with what the files hold now.
    let scraping = tokio::spawn({
        let app = app.clone();
        async move { scrape(&app, None).await.body }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    rotate(&dir.path().join("ak"), "STSNEW");
    rotate(&dir.path().join("sk"), "secret-new");
    rotate(&dir.path().join("token"), "sts-token-new");
    let body = scraping.await.unwrap();
    assert_eq!(body.up(1), Some(1.0), "{body}");
    let requests = upstream.requests().await;
    assert_eq!(requests.len(), 3, "old, old (401), new");
    assert!(requests[2].headers["authorization"]
        .to_str()
        .unwrap()
        .starts_with("SDK-HMAC-SHA256 Access=STSNEW, "));
}

#[tokio::test]
async fn a_missing_security_token_file_is_a_class_and_a_readiness_reason() {
    let upstream = Upstream::start().await;
    upstream.every_get(ok_status()).expect(0).await;
    let dir = tempfile::tempdir().unwrap();
    let auth = aksk_files_yaml(dir.path(), "AK", "SK", Some("token"), "");
    let app = app(&config_with_auth(&upstream.uri(), &[1], &auth, ""));
    std::fs::remove_file(dir.path().join("token")).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let body = scrape(&app, None).await.body;
    assert_eq!(body.class(1), Some("unauthorized"));
    assert_not_ready(&app, &[&dir.path().join("token").display().to_string()]).await;
}

#[tokio::test]
async fn a_project_name_is_looked_up_once_and_sent_as_x_project_id() {
    let upstream = Upstream::start().await;
    upstream
        .projects(
            "cn-north-4",
            serde_json::json!([project(PROJECT_ID, "cn-north-4")]),
        )
        .await;
    for id in [1, 2] {
        upstream
            .status(id, ok_status())
            .and(header("x-project-id", PROJECT_ID))
            .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let auth = aksk_files_yaml(
        dir.path(),
        "STSACCESS1",
        "sts-secret-1",
        Some("sts-token-1"),
        &project_lookup("cn-north-4", &upstream.uri()),
    );
    let app = app(&config_with_auth(
        &upstream.uri(),
        &[1, 2],
        &auth,
        "  concurrency: 2\n",
    ));
    assert_not_ready(&app, &["not been looked up yet"]).await;
    for _ in 0..3 {
        let body = scrape(&app, None).await.body;
        assert_eq!(body.up(1), Some(1.0), "{body}");
        assert_eq!(body.up(2), Some(1.0), "{body}");
        assert_eq!(requests_total(&body, "iam_projects"), 1.0, "cached");
    }
    assert_eq!(readyz(&app).await.status, 200);
    let lookup = upstream
        .requests()
        .await
        .into_iter()
        .find(|r| r.url.path() == "/v3/projects")
        .unwrap();
    assert_eq!(
        signed_headers(&lookup),
        "host;x-sdk-date;x-security-token",
        "signed with the same credentials, and no project id yet"
    );
}

#[tokio::test]
async fn a_project_name_iam_does_not_know_fails_requests_with_a_class_and_backs_off() {
    let upstream = Upstream::start().await;
    upstream.projects("mars-1", serde_json::json!([])).await;
    upstream.status(1, ok_status()).expect(0).await;
    let ids: Vec<u32> = (1..=20).collect();
    let (_keys, app) = lookup_app(&upstream, "mars-1", &ids, "  retries: 3\n");
    for _ in 0..3 {
        let answer = scrape(&app, Some("5")).await;
        assert!(answer.elapsed < Duration::from_secs(5));
        assert_eq!(answer.body.class(1), Some("unauthorized"));
        assert_eq!(
            requests_total(&answer.body, "iam_projects"),
            1.0,
            "one lookup, then a backoff: no retry storm"
        );
        assert_eq!(requests_total(&answer.body, "statistics_status"), 0.0);
    }
    assert_not_ready(
        &app,
        &[
            "codearts.auth.aksk.project",
            "IAM knows no project named \"mars-1\"",
        ],
    )
    .await;
}

#[tokio::test]
async fn several_projects_of_one_name_ask_for_a_project_id() {
    let upstream = Upstream::start().await;
    upstream
        .projects(
            "cn-north-4",
            serde_json::json!([project("aaaa", "cn-north-4"), project("bbbb", "cn-north-4")]),
        )
        .await;
    let (_keys, app) = lookup_app(&upstream, "cn-north-4", &[1], "");
    app.warm_up().await;
    assert_not_ready(&app, &["aaaa, bbbb", "set project_id"]).await;
}

#[tokio::test]
async fn an_iam_outage_during_the_lookup_is_counted_and_explained() {
    let upstream = Upstream::start().await;
    upstream
        .project_lookups(ResponseTemplate::new(503).set_body_string("<html>busy</html>"))
        .await;
    let (_keys, app) = lookup_app(&upstream, "cn-north-4", &[1], "");
    let body = scrape(&app, None).await.body;
    assert_eq!(body.class(1), Some("unauthorized"));
    assert_eq!(body.errors("iam_projects", "server_error"), Some(1.0));
    assert_not_ready(&app, &["IAM answered 503"]).await;
}

#[tokio::test]
async fn the_simulator_gives_the_project_id_the_gateway_expects() {
    let sim = start_sim(Duration::from_secs(3600)).await;
    let ids = sim_ids(&sim, 2);
    let dir = tempfile::tempdir().unwrap();
    let auth = aksk_files_yaml(
        dir.path(),
        "DEMOACCESSKEY",
        "demo-secret-key",
        None,
        &project_lookup("cn-north-4_dev", &sim.iam_endpoint()),
    );
    let app = app(&config_with_auth(&sim.endpoint(), &ids, &auth, ""));
    let body = scrape(&app, None).await.body;
    for id in &ids {
        assert_eq!(body.up(*id), Some(1.0), "{body}");
    }
    let expected = sim.project_id("cn-north-4_dev").unwrap();
    let status = sim_requests(&sim)
        .await
        .into_iter()
        .find(|r| r["path"].as_str().unwrap().ends_with("/statistics-status"))
        .unwrap();
    assert_eq!(
        recorded_header(&status, "x-project-id"),
        Some(expected.as_str())
    );
}
