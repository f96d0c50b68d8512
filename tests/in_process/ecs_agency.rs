//! The `ecs_agency` mode: temporary credentials from the ECS metadata service, as the official
//! SDK's `MetadataAccessor` gets them — against wiremock for each precise step, and against the
//! simulator (gateway, IAM and metadata service together) for the whole path and its faults.

use std::time::{Duration, SystemTime};

use crate::helpers::*;
use codearts_sim::MetadataFault;
use wiremock::matchers::header;
use wiremock::ResponseTemplate;

/// The metadata service's errors of `class` so far (0 before the first).
fn metadata_errors(body: &Body, class: &str) -> f64 {
    body.errors("ecs_metadata", class).unwrap_or(0.0)
}

/// A metadata service ([`metadata_service`]) handing out credentials that live `lifetime`,
/// counted by the keys returned with it, and a CodeArts that answers nothing yet.
async fn metadata_and_codearts(lifetime: Duration) -> (SecurityKeys, Upstream, Upstream) {
    let keys = SecurityKeys::new(lifetime);
    let metadata = metadata_service(keys.clone()).await;
    (keys, metadata, Upstream::start().await)
}

/// A CodeArts that accepts requests signed with temporary credential `n` (its token sent).
async fn codearts_accepting(codearts: &Upstream, n: usize) {
    codearts
        .for_security_token(&security_token(n), ok_status())
        .await;
}

/// A gateway's refusal of a temporary credential's security token.
fn token_refused(msg: &str) -> ResponseTemplate {
    error(401, "APIG.0301", msg)
}

fn path_count(requests: &[wiremock::Request], method_name: &str, wanted: &str) -> usize {
    requests
        .iter()
        .filter(|r| r.method.as_str() == method_name && r.url.path() == wanted)
        .count()
}

/// An app with `ecs_agency` auth against `metadata`, watching `ids` at `codearts`.
fn agency_app(
    codearts: &str,
    ids: &[u32],
    metadata: &str,
    scrape: &str,
) -> std::sync::Arc<codearts_repo_exporter::App> {
    app(&ecs_agency_yaml(codearts, ids, metadata, "", scrape))
}

#[tokio::test]
async fn the_metadata_flow_gets_a_session_token_then_the_security_key_and_signs_with_it() {
    let (keys, metadata, codearts) = metadata_and_codearts(Duration::from_secs(6 * 3600)).await;
    codearts_accepting(&codearts, 1).await;
    let app = agency_app(&codearts.uri(), &[1], &metadata.uri(), "");
    assert_not_ready(&app, &["no temporary credential"]).await;
    app.warm_up().await;
    assert_eq!(readyz(&app).await.status, 200);

    let body = scrape(&app, None).await.body;
    assert_eq!(body.up(1), Some(1.0), "{body}");
    let sent = &codearts.requests().await[0];
    let authorization = sent.headers["authorization"].to_str().unwrap();
    assert!(
        authorization.starts_with(&format!("SDK-HMAC-SHA256 Access={}, ", temporary(1).0))
            && authorization.contains("SignedHeaders=host;x-sdk-date;x-security-token,"),
        "{authorization}"
    );
    assert_eq!(
        body.requests("ecs_metadata").unwrap_or(0.0),
        2.0,
        "one session token, one security key"
    );
    // The expiry metric and the landing page show the credential's expires_at.
    let expiry = body.token_expiry().expect("expiry metric");
    let expected = (SystemTime::now() + Duration::from_secs(6 * 3600))
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((expiry - expected).abs() < 30.0, "{expiry} vs {expected}");
    let landing = get(&app, "/").await.body;
    assert!(
        landing.contains("Temporary credential (ECS agency) expires at"),
        "{landing}"
    );
    assert_eq!(keys.calls(), 1);
}

#[tokio::test]
async fn without_session_tokens_the_flow_goes_on_without_one() {
    for status in [404, 405, 503] {
        let metadata = Upstream::start().await;
        metadata
            .metadata_sessions(ResponseTemplate::new(status))
            .expect(1)
            .await;
        let keys = SecurityKeys::new(Duration::from_secs(3600));
        metadata.security_keys(keys.clone()).await;
        let codearts = Upstream::start().await;
        codearts_accepting(&codearts, 1).await;
        let app = agency_app(&codearts.uri(), &[1], &metadata.uri(), "");
        let body = scrape(&app, None).await.body;
        assert_eq!(body.up(1), Some(1.0), "{status}: {body}");
        let asked = metadata.requests().await;
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
    let metadata = Upstream::start().await;
    metadata
        .metadata_sessions(Sessions(Default::default()))
        .await;
    metadata
        .security_keys(ResponseTemplate::new(401).set_body_string("401 Unauthorized"))
        .and(header("x-metadata-token", "session-1"))
        .await;
    let keys = SecurityKeys::new(Duration::from_secs(3600));
    metadata
        .security_keys(keys.clone())
        .and(header("x-metadata-token", "session-2"))
        .await;
    let codearts = Upstream::start().await;
    codearts_accepting(&codearts, 1).await;
    let app = agency_app(&codearts.uri(), &[1], &metadata.uri(), "");
    let body = scrape(&app, None).await.body;
    assert_eq!(body.up(1), Some(1.0), "{body}");
    let asked = metadata.requests().await;
    assert_eq!(path_count(&asked, "PUT", TOKEN_PATH), 2);
    assert_eq!(path_count(&asked, "GET", KEY_PATH), 2);
}

#[tokio::test]
async fn an_ecs_without_an_agency_is_a_readiness_reason_and_not_asked_twice() {
    let metadata = Upstream::start().await;
    metadata
        .metadata_sessions(session_token(SESSION_TOKEN))
        .await;
    metadata
        .security_keys(
            ResponseTemplate::new(401)
                .set_body_string("Please configure Cloud Service Agency first"),
        )
        .expect(1)
        .await;
    let codearts = Upstream::start().await;
    let app = agency_app(&codearts.uri(), &[1, 2], &metadata.uri(), "");
    for _ in 0..3 {
        let body = scrape(&app, None).await.body;
        assert_eq!(body.class(1), Some("unauthorized"));
    }
    assert_not_ready(
        &app,
        &[
            "Please configure Cloud Service Agency first",
            "has no agency",
        ],
    )
    .await;
    assert!(codearts.requests().await.is_empty());
}

#[tokio::test]
async fn two_hundred_requests_without_a_credential_cause_one_fetch() {
    let (keys, metadata, codearts) = metadata_and_codearts(Duration::from_secs(3600)).await;
    codearts_accepting(&codearts, 1).await;
    let ids: Vec<u32> = (1..=200).collect();
    let app = agency_app(
        &codearts.uri(),
        &ids,
        &metadata.uri(),
        "  concurrency: 200\n",
    );
    let body = scrape(&app, None).await.body;
    assert_eq!(body.healthy().len(), 200);
    assert_eq!(keys.calls(), 1);
}

#[tokio::test]
async fn renews_ahead_of_expiry_keeps_the_old_credential_while_renewal_fails_and_backs_off() {
    // Credentials living 4 s are renewed after 2 s and used until 3.6 s.
    let (keys, metadata, codearts) = metadata_and_codearts(Duration::from_secs(4)).await;
    // Numbers count the service's answers: 2 is the failed one.
    codearts_accepting(&codearts, 1).await;
    codearts_accepting(&codearts, 3).await;
    let app = agency_app(&codearts.uri(), &[1], &metadata.uri(), "");
    let started = std::time::Instant::now();
    let body = scrape(&app, None).await.body;
    assert_eq!(body.up(1), Some(1.0), "{body}");

    keys.fail_with(Some(500));
    tokio::time::sleep(Duration::from_millis(2300).saturating_sub(started.elapsed())).await;
    let body = scrape(&app, None).await.body;
    assert_eq!(
        body.up(1),
        Some(1.0),
        "the old credential is still valid: {body}"
    );
    assert_eq!(keys.calls(), 2, "renewal was tried");
    assert_eq!(metadata_errors(&body, "server_error"), 1.0);
    assert_eq!(readyz(&app).await.status, 200);

    tokio::time::sleep(Duration::from_millis(4000).saturating_sub(started.elapsed())).await;
    let body = scrape(&app, None).await.body;
    assert_eq!(body.class(1), Some("unauthorized"), "expired, none new");
    assert_eq!(keys.calls(), 2, "backing off, not hammering the service");
    assert_not_ready(&app, &["no valid temporary credential", "answered 500"]).await;

    keys.fail_with(None);
    tokio::time::sleep(Duration::from_millis(7500).saturating_sub(started.elapsed())).await;
    let body = scrape(&app, None).await.body;
    assert_eq!(body.up(1), Some(1.0), "the backoff (5 s) is over: {body}");
    assert_eq!(keys.calls(), 3);
}

#[tokio::test]
async fn a_refused_security_token_is_renewed_once_and_the_request_retried() {
    let (keys, metadata, codearts) = metadata_and_codearts(Duration::from_secs(3600)).await;
    codearts
        .for_security_token(
            &security_token(1),
            token_refused("Incorrect IAM authentication information: verify security token fail"),
        )
        .await;
    codearts_accepting(&codearts, 2).await;
    let app = agency_app(&codearts.uri(), &[1], &metadata.uri(), "");
    let body = scrape(&app, None).await.body;
    assert_eq!(body.up(1), Some(1.0), "{body}");
    assert_eq!(keys.calls(), 2);
    assert_eq!(codearts.requests().await.len(), 2);
}

#[tokio::test]
async fn a_fresh_credential_refused_too_is_not_renewed_again_at_once() {
    let (keys, metadata, codearts) = metadata_and_codearts(Duration::from_secs(3600)).await;
    codearts
        .status(2, token_refused("verify security token fail"))
        .await;
    codearts.status(1, ok_status()).await;
    let app = agency_app(
        &codearts.uri(),
        &[1, 2],
        &metadata.uri(),
        "  concurrency: 1\n",
    );
    for _ in 0..4 {
        let body = scrape(&app, None).await.body;
        assert_eq!(body.class(2), Some("unauthorized"));
        assert_eq!(body.up(1), Some(1.0));
    }
    assert_eq!(
        keys.calls(),
        2,
        "one credential, one renewal, then a quiet window"
    );
}

#[tokio::test]
async fn a_second_refusal_after_a_renewal_that_worked_renews_at_once() {
    let (keys, metadata, codearts) = metadata_and_codearts(Duration::from_secs(3600)).await;
    let refused = || token_refused("verify security token fail");
    // Credential 1 is revoked; 2 works once, then is revoked too; 3 works.
    codearts
        .for_security_token(&security_token(1), refused())
        .await;
    codearts
        .for_security_token(&security_token(2), ok_status())
        .first(1)
        .await;
    codearts
        .for_security_token(&security_token(2), refused())
        .await;
    codearts_accepting(&codearts, 3).await;
    let app = agency_app(&codearts.uri(), &[1], &metadata.uri(), "");
    for round in 0..2 {
        let body = scrape(&app, None).await.body;
        assert_eq!(body.up(1), Some(1.0), "round {round}: {body}");
    }
    assert_eq!(keys.calls(), 3);
}

// ---------------------------------------------------------------------------------------------
// Against the simulator: gateway, IAM and metadata service checking each other.

#[tokio::test]
async fn on_the_simulator_every_request_is_signed_with_the_agency_credential_and_project() {
    let sim = start_sim(Duration::from_secs(3600)).await;
    let ids = sim_ids(&sim, 3);
    let app = app(&ecs_agency_yaml(
        &sim.endpoint(),
        &ids,
        &sim.metadata_endpoint(),
        &project_lookup("cn-north-4", &sim.iam_endpoint()),
        "",
    ));
    app.warm_up().await;
    assert_eq!(readyz(&app).await.status, 200);
    let body = scrape(&app, None).await.body;
    for id in &ids {
        assert_eq!(body.up(*id), Some(1.0), "{body}");
    }
    assert_eq!(body.requests("iam_projects").unwrap_or(0.0), 1.0);
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
    let app = agency_app(&sim.endpoint(), &ids, &sim.metadata_endpoint(), "");
    let mut expiries = Vec::new();
    for _ in 0..12 {
        let body = scrape(&app, None).await.body;
        for id in &ids {
            assert_eq!(body.up(*id), Some(1.0), "{body}");
        }
        expiries.push(body.token_expiry().unwrap());
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
    let app = agency_app(&sim.endpoint(), &ids, &sim.metadata_endpoint(), "");
    let body = scrape(&app, None).await.body;
    assert_eq!(body.up(ids[0]), Some(1.0), "{body}");
    sim.set_metadata_fault(MetadataFault::Error);
    // The simulator hands out a new 4 s credential every 2 s, so the one fetched had 2 to 4 s
    // left. Renewal is due once half of that has passed, and the credential is used until a
    // tenth of it is left: at 70 % it is due for renewal and still good, whatever it had.
    let left = body.token_expiry().expect("expiry metric")
        - SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
    tokio::time::sleep(Duration::from_secs_f64(left * 0.7)).await;
    let body = scrape(&app, None).await.body;
    assert_eq!(body.up(ids[0]), Some(1.0), "{body}");
    assert!(metadata_errors(&body, "server_error") >= 1.0, "{body}");
    assert_eq!(readyz(&app).await.status, 200);
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
        let app = agency_app(&sim.endpoint(), &ids, &sim.metadata_endpoint(), "");
        let answer = scrape(&app, Some("5")).await;
        assert!(
            answer.elapsed < Duration::from_secs(4),
            "{fault:?}: {:?}",
            answer.elapsed
        );
        assert_eq!(answer.body.class(ids[0]), Some("unauthorized"), "{fault:?}");
        assert!(
            metadata_errors(&answer.body, class) >= 1.0,
            "{fault:?}: {}",
            answer.body
        );
        assert_not_ready(&app, &[reason]).await;
    }
    sim.set_metadata_fault(MetadataFault::None);
}
