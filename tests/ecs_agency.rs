//! The `ecs_agency` mode: temporary credentials from the ECS metadata service, as the official
//! SDK's `MetadataAccessor` gets them — against wiremock for each precise step, and against the
//! simulator (gateway, IAM and metadata service together) for the whole path and its faults.

mod common;

use std::time::{Duration, SystemTime};

use codearts_sim::MetadataFault;
use common::credentials::*;
use common::*;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN_PATH: &str = "/meta-data/latest/api/token";
const KEY_PATH: &str = "/openstack/latest/securitykey";

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

fn metric(body: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(body, name, labels).unwrap_or(0.0)
}

fn metadata_errors(body: &str, class: &str) -> f64 {
    metric(
        body,
        "codearts_repo_exporter_api_request_errors_total",
        &[("endpoint", "ecs_metadata"), ("class", class)],
    )
}

/// A metadata service that hands out [`SESSION_TOKEN`] and checks it on `securitykey`.
async fn metadata_service(keys: SecurityKeys) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(TOKEN_PATH))
        .and(header("x-metadata-token-ttl-seconds", "21600"))
        .respond_with(ResponseTemplate::new(200).set_body_string(SESSION_TOKEN))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(KEY_PATH))
        .and(header("x-metadata-token", SESSION_TOKEN))
        .respond_with(keys)
        .mount(&server)
        .await;
    server
}

/// A CodeArts that accepts requests signed with temporary credential `n` (its token sent).
async fn codearts_accepting(server: &MockServer, n: usize) {
    let (_, _, token) = temporary(n);
    Mock::given(method("GET"))
        .and(header("x-security-token", token.as_str()))
        .respond_with(ok_answer())
        .mount(server)
        .await;
}

fn path_count(requests: &[wiremock::Request], method_name: &str, wanted: &str) -> usize {
    requests
        .iter()
        .filter(|r| r.method.as_str() == method_name && r.url.path() == wanted)
        .count()
}

#[tokio::test]
async fn the_metadata_flow_gets_a_session_token_then_the_security_key_and_signs_with_it() {
    let keys = SecurityKeys::new(Duration::from_secs(6 * 3600));
    let metadata = metadata_service(keys.clone()).await;
    let codearts = MockServer::start().await;
    codearts_accepting(&codearts, 1).await;
    let app = app(&ecs_agency_yaml(
        &codearts.uri(),
        &[1],
        &metadata.uri(),
        "",
        "",
    ));
    let before = request(&app, "GET", "/readyz", None).await;
    assert_eq!(before.status.as_u16(), 503);
    assert!(
        before.body.contains("no temporary credential"),
        "{}",
        before.body
    );
    app.warm_up().await;
    assert_eq!(
        request(&app, "GET", "/readyz", None).await.status.as_u16(),
        200
    );

    let body = scrape(&app, None).await.body;
    assert_eq!(up(&body, 1), Some(1.0), "{body}");
    let sent = &codearts.received_requests().await.unwrap()[0];
    let authorization = sent.headers["authorization"].to_str().unwrap();
    assert!(
        authorization.starts_with(&format!("SDK-HMAC-SHA256 Access={}, ", temporary(1).0))
            && authorization.contains("SignedHeaders=host;x-sdk-date;x-security-token,"),
        "{authorization}"
    );
    assert_eq!(
        metric(
            &body,
            "codearts_repo_exporter_api_requests_total",
            &[("endpoint", "ecs_metadata")]
        ),
        2.0,
        "one session token, one security key"
    );
    // The expiry metric and the landing page show the credential's expires_at.
    let expiry = value(
        &body,
        "codearts_repo_exporter_auth_token_expiry_timestamp_seconds",
        &[],
    )
    .expect("expiry metric");
    let expected = (SystemTime::now() + Duration::from_secs(6 * 3600))
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((expiry - expected).abs() < 30.0, "{expiry} vs {expected}");
    let landing = request(&app, "GET", "/", None).await.body;
    assert!(
        landing.contains("Temporary credential (ECS agency) expires at"),
        "{landing}"
    );
    assert_eq!(keys.calls(), 1);
}

#[tokio::test]
async fn without_session_tokens_the_flow_goes_on_without_one() {
    for status in [404, 405, 503] {
        let metadata = MockServer::start().await;
        Mock::given(method("PUT"))
            .and(path(TOKEN_PATH))
            .respond_with(ResponseTemplate::new(status))
            .expect(1)
            .mount(&metadata)
            .await;
        let keys = SecurityKeys::new(Duration::from_secs(3600));
        Mock::given(method("GET"))
            .and(path(KEY_PATH))
            .respond_with(keys.clone())
            .mount(&metadata)
            .await;
        let codearts = MockServer::start().await;
        codearts_accepting(&codearts, 1).await;
        let app = app(&ecs_agency_yaml(
            &codearts.uri(),
            &[1],
            &metadata.uri(),
            "",
            "",
        ));
        let body = scrape(&app, None).await.body;
        assert_eq!(up(&body, 1), Some(1.0), "{status}: {body}");
        let asked = metadata.received_requests().await.unwrap();
        let key_request = asked.iter().find(|r| r.url.path() == KEY_PATH).unwrap();
        assert!(
            !key_request.headers.contains_key("x-metadata-token"),
            "{status}"
        );
    }
}

/// A `PUT` answering `session-1`, `session-2`, … one per call.
struct Sessions(std::sync::atomic::AtomicUsize);

impl wiremock::Respond for Sessions {
    fn respond(&self, _request: &wiremock::Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        ResponseTemplate::new(200).set_body_string(format!("session-{n}"))
    }
}

#[tokio::test]
async fn a_refused_session_token_is_replaced_and_the_security_key_asked_once_more() {
    let metadata = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(TOKEN_PATH))
        .respond_with(Sessions(Default::default()))
        .mount(&metadata)
        .await;
    Mock::given(method("GET"))
        .and(path(KEY_PATH))
        .and(header("x-metadata-token", "session-1"))
        .respond_with(ResponseTemplate::new(401).set_body_string("401 Unauthorized"))
        .mount(&metadata)
        .await;
    let keys = SecurityKeys::new(Duration::from_secs(3600));
    Mock::given(method("GET"))
        .and(path(KEY_PATH))
        .and(header("x-metadata-token", "session-2"))
        .respond_with(keys.clone())
        .mount(&metadata)
        .await;
    let codearts = MockServer::start().await;
    codearts_accepting(&codearts, 1).await;
    let app = app(&ecs_agency_yaml(
        &codearts.uri(),
        &[1],
        &metadata.uri(),
        "",
        "",
    ));
    let body = scrape(&app, None).await.body;
    assert_eq!(up(&body, 1), Some(1.0), "{body}");
    let asked = metadata.received_requests().await.unwrap();
    assert_eq!(path_count(&asked, "PUT", TOKEN_PATH), 2);
    assert_eq!(path_count(&asked, "GET", KEY_PATH), 2);
}

#[tokio::test]
async fn an_ecs_without_an_agency_is_a_readiness_reason_and_not_asked_twice() {
    let metadata = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string(SESSION_TOKEN))
        .mount(&metadata)
        .await;
    Mock::given(method("GET"))
        .and(path(KEY_PATH))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_string("Please configure Cloud Service Agency first"),
        )
        .expect(1)
        .mount(&metadata)
        .await;
    let codearts = MockServer::start().await;
    let app = app(&ecs_agency_yaml(
        &codearts.uri(),
        &[1, 2],
        &metadata.uri(),
        "",
        "",
    ));
    for _ in 0..3 {
        let body = scrape(&app, None).await.body;
        assert_eq!(error_class(&body, 1).as_deref(), Some("unauthorized"));
    }
    let ready = request(&app, "GET", "/readyz", None).await;
    assert_eq!(ready.status.as_u16(), 503);
    assert!(
        ready
            .body
            .contains("Please configure Cloud Service Agency first")
            && ready.body.contains("has no agency"),
        "{}",
        ready.body
    );
    assert!(codearts.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn two_hundred_requests_without_a_credential_cause_one_fetch() {
    let keys = SecurityKeys::new(Duration::from_secs(3600));
    let metadata = metadata_service(keys.clone()).await;
    let codearts = MockServer::start().await;
    codearts_accepting(&codearts, 1).await;
    let ids: Vec<u32> = (1..=200).collect();
    let app = app(&ecs_agency_yaml(
        &codearts.uri(),
        &ids,
        &metadata.uri(),
        "",
        "  concurrency: 200\n",
    ));
    let body = scrape(&app, None).await.body;
    let ups = samples(&body)
        .into_iter()
        .filter(|s| s.name == "codearts_repo_statistics_up" && s.value == 1.0)
        .count();
    assert_eq!(ups, 200);
    assert_eq!(keys.calls(), 1);
}

#[tokio::test]
async fn renews_ahead_of_expiry_keeps_the_old_credential_while_renewal_fails_and_backs_off() {
    // Credentials living 4 s are renewed after 2 s and used until 3.6 s.
    let keys = SecurityKeys::new(Duration::from_secs(4));
    let metadata = metadata_service(keys.clone()).await;
    let codearts = MockServer::start().await;
    // Numbers count the service's answers: 2 is the failed one.
    codearts_accepting(&codearts, 1).await;
    codearts_accepting(&codearts, 3).await;
    let app = app(&ecs_agency_yaml(
        &codearts.uri(),
        &[1],
        &metadata.uri(),
        "",
        "",
    ));
    let started = std::time::Instant::now();
    let body = scrape(&app, None).await.body;
    assert_eq!(up(&body, 1), Some(1.0), "{body}");

    keys.fail_with(Some(500));
    tokio::time::sleep(Duration::from_millis(2300).saturating_sub(started.elapsed())).await;
    let body = scrape(&app, None).await.body;
    assert_eq!(
        up(&body, 1),
        Some(1.0),
        "the old credential is still valid: {body}"
    );
    assert_eq!(keys.calls(), 2, "renewal was tried");
    assert_eq!(metadata_errors(&body, "server_error"), 1.0);
    assert_eq!(
        request(&app, "GET", "/readyz", None).await.status.as_u16(),
        200
    );

    tokio::time::sleep(Duration::from_millis(4000).saturating_sub(started.elapsed())).await;
    let body = scrape(&app, None).await.body;
    assert_eq!(
        error_class(&body, 1).as_deref(),
        Some("unauthorized"),
        "expired, none new"
    );
    assert_eq!(keys.calls(), 2, "backing off, not hammering the service");
    let ready = request(&app, "GET", "/readyz", None).await;
    assert_eq!(ready.status.as_u16(), 503);
    assert!(
        ready.body.contains("no valid temporary credential") && ready.body.contains("answered 500"),
        "{}",
        ready.body
    );

    keys.fail_with(None);
    tokio::time::sleep(Duration::from_millis(7500).saturating_sub(started.elapsed())).await;
    let body = scrape(&app, None).await.body;
    assert_eq!(up(&body, 1), Some(1.0), "the backoff (5 s) is over: {body}");
    assert_eq!(keys.calls(), 3);
}

#[tokio::test]
async fn a_refused_security_token_is_renewed_once_and_the_request_retried() {
    let keys = SecurityKeys::new(Duration::from_secs(3600));
    let metadata = metadata_service(keys.clone()).await;
    let codearts = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header("x-security-token", temporary(1).2.as_str()))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error_code": "APIG.0301",
            "error_msg": "Incorrect IAM authentication information: verify security token fail"
        })))
        .mount(&codearts)
        .await;
    codearts_accepting(&codearts, 2).await;
    let app = app(&ecs_agency_yaml(
        &codearts.uri(),
        &[1],
        &metadata.uri(),
        "",
        "",
    ));
    let body = scrape(&app, None).await.body;
    assert_eq!(up(&body, 1), Some(1.0), "{body}");
    assert_eq!(keys.calls(), 2);
    assert_eq!(codearts.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_fresh_credential_refused_too_is_not_renewed_again_at_once() {
    let keys = SecurityKeys::new(Duration::from_secs(3600));
    let metadata = metadata_service(keys.clone()).await;
    let codearts = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(status_path(2)))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error_code": "APIG.0301", "error_msg": "verify security token fail"
        })))
        .mount(&codearts)
        .await;
    Mock::given(method("GET"))
        .and(path(status_path(1)))
        .respond_with(ok_answer())
        .mount(&codearts)
        .await;
    let app = app(&ecs_agency_yaml(
        &codearts.uri(),
        &[1, 2],
        &metadata.uri(),
        "",
        "  concurrency: 1\n",
    ));
    for _ in 0..4 {
        let body = scrape(&app, None).await.body;
        assert_eq!(error_class(&body, 2).as_deref(), Some("unauthorized"));
        assert_eq!(up(&body, 1), Some(1.0));
    }
    assert_eq!(
        keys.calls(),
        2,
        "one credential, one renewal, then a quiet window"
    );
}

#[tokio::test]
async fn a_second_refusal_after_a_renewal_that_worked_renews_at_once() {
    let keys = SecurityKeys::new(Duration::from_secs(3600));
    let metadata = metadata_service(keys.clone()).await;
    let codearts = MockServer::start().await;
    let refused = || {
        ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error_code": "APIG.0301", "error_msg": "verify security token fail"
        }))
    };
    // Credential 1 is revoked; 2 works once, then is revoked too; 3 works.
    Mock::given(method("GET"))
        .and(header("x-security-token", temporary(1).2.as_str()))
        .respond_with(refused())
        .mount(&codearts)
        .await;
    Mock::given(method("GET"))
        .and(header("x-security-token", temporary(2).2.as_str()))
        .respond_with(ok_answer())
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&codearts)
        .await;
    Mock::given(method("GET"))
        .and(header("x-security-token", temporary(2).2.as_str()))
        .respond_with(refused())
        .with_priority(2)
        .mount(&codearts)
        .await;
    codearts_accepting(&codearts, 3).await;
    let app = app(&ecs_agency_yaml(
        &codearts.uri(),
        &[1],
        &metadata.uri(),
        "",
        "",
    ));
    for round in 0..2 {
        let body = scrape(&app, None).await.body;
        assert_eq!(up(&body, 1), Some(1.0), "round {round}: {body}");
    }
    assert_eq!(keys.calls(), 3);
}

// ---------------------------------------------------------------------------------------------
// Against the simulator: gateway, IAM and metadata service checking each other.

#[tokio::test]
async fn on_the_simulator_every_request_is_signed_with_the_agency_credential_and_project() {
    let sim = start_sim(Duration::from_secs(3600)).await;
    let ids = sim_ids(&sim, 3);
    let extra = format!(
        "      project: cn-north-4\n      iam_endpoint: {}\n",
        sim.iam_endpoint()
    );
    let app = app(&ecs_agency_yaml(
        &sim.endpoint(),
        &ids,
        &sim.metadata_endpoint(),
        &extra,
        "",
    ));
    app.warm_up().await;
    assert_eq!(
        request(&app, "GET", "/readyz", None).await.status.as_u16(),
        200
    );
    let body = scrape(&app, None).await.body;
    for id in &ids {
        assert_eq!(up(&body, *id), Some(1.0), "{body}");
    }
    assert_eq!(
        metric(
            &body,
            "codearts_repo_exporter_api_requests_total",
            &[("endpoint", "iam_projects")]
        ),
        1.0
    );
    let project = sim.project_id("cn-north-4").unwrap();
    let statuses: Vec<_> = sim_requests(&sim)
        .await
        .into_iter()
        .filter(|r| r["path"].as_str().unwrap().ends_with("/statistics-status"))
        .collect();
    assert_eq!(statuses.len(), ids.len());
    for status in &statuses {
        assert_eq!(
            recorded_header(status, "x-project-id"),
            Some(project.as_str())
        );
        assert!(recorded_header(status, "x-security-token").is_some());
    }
}

#[tokio::test]
async fn on_the_simulator_short_lived_credentials_are_renewed_without_a_failed_scrape() {
    // The simulator hands out a new 4 s credential every 2 s.
    let sim = start_sim(Duration::from_secs(4)).await;
    let ids = sim_ids(&sim, 2);
    let app = app(&ecs_agency_yaml(
        &sim.endpoint(),
        &ids,
        &sim.metadata_endpoint(),
        "",
        "",
    ));
    let mut expiries = Vec::new();
    for _ in 0..12 {
        let body = scrape(&app, None).await.body;
        for id in &ids {
            assert_eq!(up(&body, *id), Some(1.0), "{body}");
        }
        expiries.push(
            value(
                &body,
                "codearts_repo_exporter_auth_token_expiry_timestamp_seconds",
                &[],
            )
            .unwrap(),
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    expiries.dedup();
    assert!(expiries.len() >= 2, "renewed: {expiries:?}");
    let access_keys: std::collections::HashSet<String> = sim_requests(&sim)
        .await
        .iter()
        .filter_map(|r| recorded_header(r, "authorization"))
        .map(|a| a.split(',').next().unwrap().to_owned())
        .collect();
    assert!(access_keys.len() >= 2, "{access_keys:?}");
}

#[tokio::test]
async fn on_the_simulator_the_last_good_credential_stays_in_use_while_the_service_is_down() {
    let sim = start_sim(Duration::from_secs(4)).await;
    let ids = sim_ids(&sim, 1);
    let app = app(&ecs_agency_yaml(
        &sim.endpoint(),
        &ids,
        &sim.metadata_endpoint(),
        "",
        "",
    ));
    let body = scrape(&app, None).await.body;
    assert_eq!(up(&body, ids[0]), Some(1.0), "{body}");
    sim.set_metadata_fault(MetadataFault::Error);
    // Renewal is due after at most 2 s; the credential lives at least 2 s more.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let body = scrape(&app, None).await.body;
    assert_eq!(up(&body, ids[0]), Some(1.0), "{body}");
    assert!(metadata_errors(&body, "server_error") >= 1.0, "{body}");
    assert_eq!(
        request(&app, "GET", "/readyz", None).await.status.as_u16(),
        200
    );
}

/// Each fault of the metadata service, with no credential yet: the scrape still answers in
/// time, repositories are `unauthorized` (no credential to send), the metadata request is
/// counted under its own class, and `/readyz` says what is wrong. The scrape may take 4.5 s, so
/// the slow service (10 s) runs into the metadata request timeout (3 s), not the deadline.
#[tokio::test]
async fn on_the_simulator_each_metadata_fault_has_its_class_and_reason() {
    let sim = start_sim(Duration::from_secs(3600)).await;
    let ids = sim_ids(&sim, 2);
    for (fault, class, reason) in [
        (MetadataFault::Error, "server_error", "answered 500"),
        (MetadataFault::Garbage, "invalid_response", "is not JSON"),
        (MetadataFault::Slow, "timeout", "did not answer"),
        (MetadataFault::NoAgency, "unauthorized", "has no agency"),
    ] {
        sim.set_metadata_fault(fault);
        let app = app(&ecs_agency_yaml(
            &sim.endpoint(),
            &ids,
            &sim.metadata_endpoint(),
            "",
            "",
        ));
        let answer = scrape(&app, Some("5")).await;
        assert!(
            answer.elapsed < Duration::from_secs(4),
            "{fault:?}: {:?}",
            answer.elapsed
        );
        assert_eq!(
            error_class(&answer.body, ids[0]).as_deref(),
            Some("unauthorized"),
            "{fault:?}"
        );
        assert!(
            metadata_errors(&answer.body, class) >= 1.0,
            "{fault:?}: {}",
            answer.body
        );
        let ready = request(&app, "GET", "/readyz", None).await;
        assert_eq!(ready.status.as_u16(), 503, "{fault:?}");
        assert!(ready.body.contains(reason), "{fault:?}: {}", ready.body);
    }
    sim.set_metadata_fault(MetadataFault::None);
}
