//! Temporary AK/SK from files (`aksk.security_token_file`) and the project-id lookup
//! (`aksk.project`): the security token sent and signed, the three files re-read on change,
//! `X-Project-Id` looked up once through IAM and cached, and a name IAM does not know.

mod common;

use std::time::Duration;

use common::credentials::*;
use common::*;
use wiremock::matchers::{header, header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PROJECT_ID: &str = "0123456789abcdef0123456789abcdef";

fn ok_answer() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(status_body(
        true,
        0,
        "finish",
        "2025-06-04T16:14:29+08:00",
    ))
}

fn up(body: &str, id: u32) -> Option<f64> {
    value(
        body,
        "codearts_repo_statistics_up",
        &[("repository_id", &id.to_string())],
    )
}

fn requests_total(body: &str, endpoint: &str) -> f64 {
    value(
        body,
        "codearts_repo_exporter_api_requests_total",
        &[("endpoint", endpoint)],
    )
    .unwrap_or(0.0)
}

fn signed_headers(request: &wiremock::Request) -> String {
    let authorization = request.headers["authorization"].to_str().unwrap();
    authorization
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_security_token_is_sent_and_signed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header("x-security-token", "sts-token-1"))
        .respond_with(ok_answer())
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let auth = aksk_files_yaml(
        dir.path(),
        "STSACCESS1",
        "sts-secret-1",
        Some("sts-token-1"),
        &format!("      project_id: {PROJECT_ID}\n"),
    );
    let app = app(&config_with_auth(&server.uri(), &[1], &auth, ""));
    let body = scrape(&app, None).await.body;
    assert_eq!(up(&body, 1), Some(1.0), "{body}");
    let requests = server.received_requests().await.unwrap();
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
        assert_eq!(up(&body, *id), Some(1.0), "{body}");
    }

    // The same keys without their security token: the gateway refuses them.
    let dir = tempfile::tempdir().unwrap();
    let auth = aksk_files_yaml(dir.path(), &access, &secret, None, "");
    let app = common::app(&config_with_auth(&sim.endpoint(), &ids, &auth, ""));
    let body = scrape(&app, None).await.body;
    assert_eq!(error_class(&body, ids[0]).as_deref(), Some("unauthorized"));
}

#[tokio::test]
async fn a_401_is_retried_once_with_key_files_rotated_meanwhile_and_never_otherwise() {
    let server = MockServer::start().await;
    // The old temporary credential has expired at the gateway, which takes its time to say so;
    // the new one works.
    Mock::given(method("GET"))
        .and(header("x-security-token", "sts-token-old"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(serde_json::json!({
                    "error_code": "APIG.0301",
                    "error_msg": "Incorrect IAM authentication information: the security token has expired"
                }))
                .set_delay(Duration::from_millis(1200)),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("x-security-token", "sts-token-new"))
        .respond_with(ok_answer())
        .mount(&server)
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
        &server.uri(),
        &[1],
        &auth,
        "  retries: 3
",
    ));
    let body = scrape(&app, None).await.body;
    assert_eq!(error_class(&body, 1).as_deref(), Some("unauthorized"));
    assert_eq!(
        server.received_requests().await.unwrap().len(),
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
    assert_eq!(up(&body, 1), Some(1.0), "{body}");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3, "old, old (401), new");
    assert!(requests[2].headers["authorization"]
        .to_str()
        .unwrap()
        .starts_with("SDK-HMAC-SHA256 Access=STSNEW, "));
}

#[tokio::test]
async fn a_missing_security_token_file_is_a_class_and_a_readiness_reason() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ok_answer())
        .expect(0)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let auth = aksk_files_yaml(dir.path(), "AK", "SK", Some("token"), "");
    let app = app(&config_with_auth(&server.uri(), &[1], &auth, ""));
    std::fs::remove_file(dir.path().join("token")).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let body = scrape(&app, None).await.body;
    assert_eq!(error_class(&body, 1).as_deref(), Some("unauthorized"));
    let ready = request(&app, "GET", "/readyz", None).await;
    assert_eq!(ready.status.as_u16(), 503);
    assert!(
        ready
            .body
            .contains(&dir.path().join("token").display().to_string()),
        "{}",
        ready.body
    );
}

/// An IAM that knows the project `cn-north-4` as [`PROJECT_ID`] and checks that the lookup is
/// signed.
async fn mount_projects(server: &MockServer, name: &str, projects: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path("/v3/projects"))
        .and(query_param("name", name))
        .and(header_exists("authorization"))
        .and(header_exists("x-sdk-date"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "projects": projects,
            "links": {"self": "https://iam.example/v3/projects", "previous": null, "next": null}
        })))
        .mount(server)
        .await;
}

fn project(id: &str, name: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "name": name, "domain_id": "d", "enabled": true, "is_domain": false})
}

#[tokio::test]
async fn a_project_name_is_looked_up_once_and_sent_as_x_project_id() {
    let server = MockServer::start().await;
    mount_projects(
        &server,
        "cn-north-4",
        serde_json::json!([project(PROJECT_ID, "cn-north-4")]),
    )
    .await;
    Mock::given(method("GET"))
        .and(path(status_path(1)))
        .and(header("x-project-id", PROJECT_ID))
        .respond_with(ok_answer())
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(status_path(2)))
        .and(header("x-project-id", PROJECT_ID))
        .respond_with(ok_answer())
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let auth = aksk_files_yaml(
        dir.path(),
        "STSACCESS1",
        "sts-secret-1",
        Some("sts-token-1"),
        &format!(
            "      project: cn-north-4\n      iam_endpoint: {}\n",
            server.uri()
        ),
    );
    let app = app(&config_with_auth(
        &server.uri(),
        &[1, 2],
        &auth,
        "  concurrency: 2\n",
    ));
    let not_yet = request(&app, "GET", "/readyz", None).await;
    assert_eq!(not_yet.status.as_u16(), 503);
    assert!(
        not_yet.body.contains("not been looked up yet"),
        "{}",
        not_yet.body
    );
    for _ in 0..3 {
        let body = scrape(&app, None).await.body;
        assert_eq!(up(&body, 1), Some(1.0), "{body}");
        assert_eq!(up(&body, 2), Some(1.0), "{body}");
        assert_eq!(requests_total(&body, "iam_projects"), 1.0, "cached");
    }
    assert_eq!(
        request(&app, "GET", "/readyz", None).await.status.as_u16(),
        200
    );
    let lookup = server
        .received_requests()
        .await
        .unwrap()
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
    let server = MockServer::start().await;
    mount_projects(&server, "mars-1", serde_json::json!([])).await;
    Mock::given(method("GET"))
        .and(path(status_path(1)))
        .respond_with(ok_answer())
        .expect(0)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let auth = aksk_files_yaml(
        dir.path(),
        "AK",
        "SK",
        None,
        &format!(
            "      project: mars-1\n      iam_endpoint: {}\n",
            server.uri()
        ),
    );
    let ids: Vec<u32> = (1..=20).collect();
    let app = app(&config_with_auth(
        &server.uri(),
        &ids,
        &auth,
        "  retries: 3\n",
    ));
    for _ in 0..3 {
        let answer = scrape(&app, Some("5")).await;
        assert!(answer.elapsed < Duration::from_secs(5));
        assert_eq!(
            error_class(&answer.body, 1).as_deref(),
            Some("unauthorized")
        );
        assert_eq!(
            requests_total(&answer.body, "iam_projects"),
            1.0,
            "one lookup, then a backoff: no retry storm"
        );
        assert_eq!(requests_total(&answer.body, "statistics_status"), 0.0);
    }
    let ready = request(&app, "GET", "/readyz", None).await;
    assert_eq!(ready.status.as_u16(), 503);
    assert!(
        ready.body.contains("codearts.auth.aksk.project")
            && ready.body.contains("IAM knows no project named \"mars-1\""),
        "{}",
        ready.body
    );
}

#[tokio::test]
async fn several_projects_of_one_name_ask_for_a_project_id() {
    let server = MockServer::start().await;
    mount_projects(
        &server,
        "cn-north-4",
        serde_json::json!([project("aaaa", "cn-north-4"), project("bbbb", "cn-north-4")]),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let auth = aksk_files_yaml(
        dir.path(),
        "AK",
        "SK",
        None,
        &format!(
            "      project: cn-north-4\n      iam_endpoint: {}\n",
            server.uri()
        ),
    );
    let app = app(&config_with_auth(&server.uri(), &[1], &auth, ""));
    app.warm_up().await;
    let ready = request(&app, "GET", "/readyz", None).await;
    assert_eq!(ready.status.as_u16(), 503);
    assert!(
        ready.body.contains("aaaa, bbbb") && ready.body.contains("set project_id"),
        "{}",
        ready.body
    );
}

#[tokio::test]
async fn an_iam_outage_during_the_lookup_is_counted_and_explained() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/projects"))
        .respond_with(ResponseTemplate::new(503).set_body_string("<html>busy</html>"))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let auth = aksk_files_yaml(
        dir.path(),
        "AK",
        "SK",
        None,
        &format!(
            "      project: cn-north-4\n      iam_endpoint: {}\n",
            server.uri()
        ),
    );
    let app = app(&config_with_auth(&server.uri(), &[1], &auth, ""));
    let body = scrape(&app, None).await.body;
    assert_eq!(error_class(&body, 1).as_deref(), Some("unauthorized"));
    assert_eq!(
        value(
            &body,
            "codearts_repo_exporter_api_request_errors_total",
            &[("endpoint", "iam_projects"), ("class", "server_error")]
        ),
        Some(1.0)
    );
    let ready = request(&app, "GET", "/readyz", None).await;
    assert!(ready.body.contains("IAM answered 503"), "{}", ready.body);
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
        &format!(
            "      project: cn-north-4_dev\n      iam_endpoint: {}\n",
            sim.iam_endpoint()
        ),
    );
    let app = app(&config_with_auth(&sim.endpoint(), &ids, &auth, ""));
    let body = scrape(&app, None).await.body;
    for id in &ids {
        assert_eq!(up(&body, *id), Some(1.0), "{body}");
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
