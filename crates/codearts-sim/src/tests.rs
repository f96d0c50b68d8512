//! The simulator over real HTTP, as the exporter and the benchmark see it.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::*;
use huaweicloud_signer as signer;

async fn start(config: SimConfig) -> SimHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(config, listener).await.unwrap()
}

fn demo_without_latency() -> SimConfig {
    SimConfig {
        latency: Latency::Fixed(Duration::ZERO),
        ..SimConfig::demo()
    }
}

fn status_url(sim: &SimHandle, id: u32) -> String {
    format!(
        "{}/v4/repositories/{id}/repository/statistics-status",
        sim.endpoint()
    )
}

async fn get_with_token(url: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(url)
        .header("X-Auth-Token", "demo-token")
        .send()
        .await
        .unwrap()
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error_code"].as_str().unwrap().to_owned()
}

/// An integer as the SDK's `int(…)` reads it: a number, or a string of digits.
fn lenient_int(value: &Value) -> Option<u64> {
    match value {
        Value::String(text) => text.parse().ok(),
        other => other.as_u64(),
    }
}

/// The error code as the SDK's `exception_handler.py` finds it: `error_code`/`error_msg`, then
/// `errorCode`/`errorMsg`, then `code`/`message`, then the same inside nested objects.
fn sdk_error_code(body: &Value) -> Option<String> {
    let fields = body.as_object()?;
    for (code, message) in [
        ("error_code", "error_msg"),
        ("errorCode", "errorMsg"),
        ("code", "message"),
    ] {
        if let (Some(code), true) = (fields.get(code), fields.contains_key(message)) {
            return Some(match code {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            });
        }
    }
    fields.values().find_map(sdk_error_code)
}

fn healthy_ids(sim: &SimHandle) -> Vec<u32> {
    let faulty: BTreeSet<u32> = sim
        .failing_repositories()
        .into_iter()
        .chain(sim.flaky_repositories())
        .map(|(id, _)| id)
        .collect();
    sim.repositories()
        .into_iter()
        .map(|r| r.id)
        .filter(|id| !faulty.contains(id))
        .collect()
}

#[tokio::test]
async fn healthy_repositories_answer_the_documented_shape() {
    let sim = start(demo_without_latency()).await;
    let mut saw_event = false;
    for id in healthy_ids(&sim) {
        let response = get_with_token(&status_url(&sim, id)).await;
        assert_eq!(response.status(), StatusCode::OK, "repository {id}");
        assert!(response.headers().contains_key("x-request-id"));
        assert_eq!(response.headers()["x-total"], "1");
        let body: Value = response.json().await.unwrap();
        // As the SDK decodes: bool("true") and int("2") are what the loose ones mean.
        assert!(
            body["can_statistics"].is_boolean() || body["can_statistics"] == "true",
            "{body}"
        );
        assert!(lenient_int(&body["reason"]).is_some_and(|reason| reason <= 3));
        if let Some(event) = body.get("event").filter(|e| !e.is_null()) {
            saw_event = true;
            assert_eq!(event["project_id"], id);
            for field in ["id", "user_id"] {
                assert!(
                    lenient_int(&event[field]).is_some_and(|v| v > 0),
                    "{field} in {body}"
                );
            }
            assert!(
                event["status"].is_string() || event["status"] == 0,
                "{body}"
            );
            for field in ["branch", "stat_date", "created_at", "updated_at"] {
                assert!(event[field].is_string(), "{field} in {body}");
            }
            for field in ["created_at", "updated_at"] {
                let stamp = event[field].as_str().unwrap();
                assert!(stamp.ends_with("+08:00"), "{stamp}");
                time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339)
                    .unwrap();
            }
        }
    }
    assert!(saw_event);
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_repository_is_404_ch_00402000() {
    let sim = start(demo_without_latency()).await;
    for id in [FIRST_ID - 1, FIRST_ID + DEMO_REPOSITORIES, 1] {
        let response = get_with_token(&status_url(&sim, id)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(error_code(response).await, "CH.00402000");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_get_clean_errors() {
    let sim = start(demo_without_latency()).await;
    for (path, status) in [
        ("/v4/repositories/abc/repository/statistics-status", 400),
        ("/v4/repositories/-1/repository/statistics-status", 400),
        ("/v4/repositories/0/repository/statistics-status", 400),
        (
            "/v4/repositories/99999999999/repository/statistics-status",
            400,
        ),
        ("/v4/repositories/%FF/repository/statistics-status", 400),
        ("/v4/user/repositories?limit=0", 400),
        ("/v4/user/repositories?limit=101", 200),
        ("/v4/user/repositories?offset=-3", 400),
        ("/v4/user/repositories?archived=maybe", 400),
        ("/v4/user/repositories?order_by=name", 400),
        ("/v4/user/repositories?sort=up", 400),
        ("/v4/repositories/abc/last-push-event", 400),
        ("/v4/repositories/1/last-push-event", 404),
        ("/v5/nothing", 404),
    ] {
        let response = get_with_token(&format!("{}{path}", sim.endpoint())).await;
        assert_eq!(response.status().as_u16(), status, "{path}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn the_failing_demo_repositories_are_the_documented_ones() {
    let sim = start(demo_without_latency()).await;
    assert_eq!(
        sim.failing_repositories(),
        [
            (2111915005, "unauthorized"),
            (2111915012, "throttled"),
            (2111915015, "client_error"),
            (2111915019, "invalid_response"),
            (2111915022, "throttled"),
            (2111915026, "forbidden"),
            (2111915031, "server_error"),
            (2111915038, "server_error"),
            (2111915042, "invalid_response"),
            (2111915044, "timeout"),
            (2111915047, "not_found"),
        ]
    );
    assert_eq!(
        sim.flaky_repositories(),
        [(2111915009, "server_error"), (2111915040, "throttled")]
    );
    let paths: Vec<String> = sim
        .repositories()
        .into_iter()
        .map(|r| r.full_path)
        .collect();
    assert_eq!(paths[26], "security/vault-config");
    assert_eq!(paths[44], "finance/invoicing");
    // A failing repository is always watched: none is archived or in a deleted project.
    for (id, _) in sim.failing_repositories() {
        let repository = &sim.repositories()[(id - FIRST_ID) as usize];
        assert!(!repository.archived && !repository.project_is_delete);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn every_failing_repository_gives_its_documented_answer() {
    let sim = start(demo_without_latency()).await;
    let failing = sim.failing_repositories();
    assert_eq!(failing.len(), 11);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    for (id, class) in failing {
        let result = client
            .get(status_url(&sim, id))
            .header("X-Auth-Token", "demo-token")
            .send()
            .await;
        if class == "timeout" {
            assert!(result.is_err_and(|e| e.is_timeout()), "repository {id}");
            continue;
        }
        let response = result.unwrap();
        let status = response.status().as_u16();
        assert!(response.headers().contains_key("x-request-id"));
        let content_type = response.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.text().await.unwrap();
        let parsed: Option<Value> = serde_json::from_str(&body).ok();
        let code = parsed.as_ref().and_then(sdk_error_code);
        let code = code.as_deref();
        match class {
            "unauthorized" => assert_eq!((status, code), (401, Some("DEV.00000003"))),
            "forbidden" => assert_eq!((status, code), (403, Some("CH.004403"))),
            "not_found" => assert_eq!((status, code), (404, Some("CH.00402000"))),
            "throttled" => {
                assert!(status == 429 || status == 403, "{status}");
                assert_eq!(code, Some("APIG.0308"));
            }
            "client_error" => assert_eq!(status, 400),
            "server_error" => {
                assert!(status == 500 || status == 502, "{status}");
                assert!(
                    content_type.starts_with("text/html") && parsed.is_none(),
                    "{body}"
                );
            }
            "invalid_response" => {
                assert_eq!(status, 200);
                assert!(!parsed.is_some_and(|v| v.is_object()), "{body}");
            }
            other => panic!("unexpected class {other}"),
        }
    }
    let throttled_statuses: BTreeSet<u16> = {
        let mut statuses = BTreeSet::new();
        for (id, class) in sim.failing_repositories() {
            if class == "throttled" {
                statuses.insert(
                    get_with_token(&status_url(&sim, id))
                        .await
                        .status()
                        .as_u16(),
                );
            }
        }
        statuses
    };
    assert_eq!(throttled_statuses, BTreeSet::from([403, 429]));
    sim.shutdown().await;
}

#[tokio::test]
async fn without_injected_failures_every_repository_answers_200() {
    let sim = start(SimConfig::bench(60, Duration::ZERO)).await;
    assert!(sim.failing_repositories().is_empty());
    for repo in sim.repositories() {
        let response = get_with_token(&status_url(&sim, repo.id)).await;
        assert_eq!(response.status(), StatusCode::OK, "{}", repo.full_path);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn requests_without_credentials_or_with_a_wrong_token_get_401() {
    let sim = start(demo_without_latency()).await;
    let url = status_url(&sim, FIRST_ID);
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(response).await, "APIG.0301");
    let response = reqwest::Client::new()
        .get(&url)
        .header("X-Auth-Token", "not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(sim.stats.snapshot().auth_failures, 2);
    sim.shutdown().await;
}

fn token_request(password: &str) -> Value {
    json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "demo", "password": password, "domain": {"name": "demo-domain"}}}},
        "scope": {"project": {"name": "cn-north-4"}}}})
}

#[tokio::test]
async fn an_iam_token_is_issued_works_and_then_expires() {
    let sim = start(SimConfig {
        token_lifetime: Duration::from_secs(1),
        ..demo_without_latency()
    })
    .await;
    let response = reqwest::Client::new()
        .post(format!(
            "{}/v3/auth/tokens?nocatalog=true",
            sim.iam_endpoint()
        ))
        .header("Content-Type", "application/json;charset=utf8")
        .json(&token_request("demo-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let token = response.headers()["x-subject-token"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    let expires_at = body["token"]["expires_at"].as_str().unwrap();
    let issued_at = body["token"]["issued_at"].as_str().unwrap();
    for stamp in [expires_at, issued_at] {
        // 2020-01-04T09:08:49.965000Z
        assert_eq!(stamp.len(), 27, "{stamp}");
        assert!(stamp.ends_with('Z'));
    }
    assert!(body["token"].get("catalog").is_none());
    assert_eq!(body["token"]["project"]["name"], "cn-north-4");

    let use_token = || async {
        reqwest::Client::new()
            .get(status_url(&sim, FIRST_ID))
            .header("X-Auth-Token", &token)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(use_token().await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = use_token().await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    let body: Value = expired.json().await.unwrap();
    assert_eq!(body["error_code"], "APIG.0301");
    assert!(body["error_msg"]
        .as_str()
        .unwrap()
        .contains("decrypt token fail"));
    assert_eq!(sim.stats.snapshot().iam_token_requests, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn iam_refuses_a_wrong_password_and_a_malformed_body() {
    let sim = start(demo_without_latency()).await;
    let url = format!("{}/v3/auth/tokens", sim.iam_endpoint());
    let client = reqwest::Client::new();
    let wrong = client
        .post(&url)
        .json(&token_request("guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(!wrong.headers().contains_key("x-subject-token"));
    assert_eq!(error_code(wrong).await, "IAM.0004");
    for body in [
        "not json".to_owned(),
        json!({"auth": {"identity": {"methods": ["token"]}}}).to_string(),
        json!({"auth": {}}).to_string(),
    ] {
        let response = client.post(&url).body(body.clone()).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    sim.shutdown().await;
}

fn aksk_request(sim: &SimHandle, url: &str, secret: &str) -> reqwest::RequestBuilder {
    let parsed = url::Url::parse(url).unwrap();
    let host = format!("{}", sim.addr);
    let date = signer::sdk_date(time::OffsetDateTime::now_utc());
    let signed = signer::sign(
        "GET",
        &parsed,
        &[("host", &host), ("x-sdk-date", &date)],
        b"",
        "DEMOACCESSKEY",
        secret.as_bytes(),
    );
    reqwest::Client::new()
        .get(url)
        .header("X-Sdk-Date", date)
        .header("Authorization", signed.authorization)
}

#[tokio::test]
async fn an_aksk_signed_request_is_accepted_and_a_tampered_one_refused() {
    let sim = start(demo_without_latency()).await;
    let url = status_url(&sim, FIRST_ID);
    let ok = aksk_request(&sim, &url, "demo-secret-key")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);

    let list = format!("{}/v4/user/repositories?offset=0&limit=5", sim.endpoint());
    let ok = aksk_request(&sim, &list, "demo-secret-key")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);

    let wrong_secret = aksk_request(&sim, &url, "stolen?").send().await.unwrap();
    assert_eq!(wrong_secret.status(), StatusCode::UNAUTHORIZED);
    let body: Value = wrong_secret.json().await.unwrap();
    assert_eq!(body["error_code"], "APIG.0301");
    assert!(body["error_msg"]
        .as_str()
        .unwrap()
        .contains("verify aksk signature fail"));

    // Signed for one repository, sent for another.
    let other = status_url(&sim, FIRST_ID + 1);
    let replayed = aksk_request(&sim, &url, "demo-secret-key").build().unwrap();
    let mut moved = reqwest::Client::new().get(&other).build().unwrap();
    *moved.headers_mut() = replayed.headers().clone();
    let refused = reqwest::Client::new().execute(moved).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    sim.shutdown().await;
}

/// The full path of a list entry as a client must build it: `namespace/path`, which is also the
/// path of `http_url_to_repo` without `.git`.
fn full_path(entry: &Value) -> String {
    let built = format!(
        "{}/{}",
        entry["namespace"].as_str().unwrap(),
        entry["path"].as_str().unwrap()
    );
    let url = entry["http_url_to_repo"].as_str().unwrap();
    let from_url = url::Url::parse(url).unwrap().path()[1..]
        .strip_suffix(".git")
        .unwrap()
        .to_owned();
    assert_eq!(built, from_url);
    built
}

async fn list(sim: &SimHandle, query: &str) -> Vec<Value> {
    let response = get_with_token(&format!("{}/v4/user/repositories{query}", sim.endpoint())).await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    assert!(!response.headers().contains_key("x-total"));
    response.json().await.unwrap()
}

#[tokio::test]
async fn stable_paging_returns_every_repository_exactly_once() {
    let sim = start(SimConfig::bench(250, Duration::ZERO)).await;
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let page = list(
            &sim,
            &format!("?offset={offset}&limit=100&order_by=created_at&sort=asc"),
        )
        .await;
        if page.is_empty() {
            break;
        }
        for repo in &page {
            assert!(repo.get("path_with_namespace").is_none(), "{repo}");
            assert!(repo["archived"].is_boolean());
            assert!(repo["status"].is_string());
            seen.push(u32::try_from(repo["id"].as_u64().unwrap()).unwrap());
        }
        offset += page.len();
    }
    let expected: Vec<u32> = sim.repositories().iter().map(|r| r.id).collect();
    assert_eq!(seen, expected);
    assert_eq!(sim.stats.snapshot().list_requests, 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_limit_above_100_is_served_as_100() {
    let sim = start(SimConfig::bench(250, Duration::ZERO)).await;
    assert_eq!(list(&sim, "?limit=1000").await.len(), 100);
    assert_eq!(list(&sim, "?limit=101&offset=200").await.len(), 50);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_list_is_newest_first_unarchived_by_default_and_filters_archived_and_search() {
    let sim = start(demo_without_latency()).await;
    let first = list(&sim, "").await;
    assert_eq!(first.len(), 20);
    assert_eq!(
        first[0]["id"],
        FIRST_ID + DEMO_REPOSITORIES - 1,
        "newest first"
    );
    let unarchived = list(&sim, "?limit=100").await;
    assert_eq!(unarchived.len(), 46);
    assert!(unarchived.iter().all(|r| r["archived"] == false));
    assert_eq!(list(&sim, "?archived=false&limit=100").await, unarchived);
    let archived = list(&sim, "?archived=true&limit=100").await;
    let archived: Vec<String> = archived.iter().map(full_path).collect();
    assert_eq!(archived, ["legacy/crm", "legacy/billing-v1-archive"]);
    let payments = list(&sim, "?search=payments%2F&limit=100&sort=asc").await;
    let payments: Vec<String> = payments.iter().map(full_path).collect();
    assert_eq!(
        payments,
        [
            "payments/api",
            "payments/ledger",
            "payments/checkout-web",
            "payments/fraud/detection"
        ]
    );
    // The display name is searched too.
    let gateway = list(&sim, "?search=API%20Gateway").await;
    assert_eq!(gateway.len(), 1);
    assert_eq!(full_path(&gateway[0]), "platform/infra/api-gateway");
    sim.shutdown().await;
}

#[tokio::test]
async fn list_entries_are_the_sdk_model_with_nested_groups_deleted_projects_and_a_fork() {
    let sim = start(demo_without_latency()).await;
    let entries = list(&sim, "?limit=100&sort=asc").await;
    let gateway = entries.iter().find(|e| e["path"] == "api-gateway").unwrap();
    assert_eq!(gateway["namespace"], "platform/infra");
    assert_eq!(gateway["name"], "API Gateway");
    assert_eq!(
        gateway["name_with_namespace"],
        "platform / infra / API Gateway"
    );
    assert_eq!(gateway["project_name"], "Platform");
    assert_eq!(gateway["project_is_delete"], false);
    let project_id = gateway["project_id"].as_str().unwrap();
    assert!(project_id.len() == 32 && project_id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(entries.iter().any(|e| full_path(e).split('/').count() > 2));
    let deleted: Vec<String> = entries
        .iter()
        .filter(|e| e["project_is_delete"] == true)
        .map(full_path)
        .collect();
    assert_eq!(deleted, ["qa/e2e-suite", "qa/load-tests"]);
    let fork = entries
        .iter()
        .find(|e| e.get("forked_from_repository").is_some())
        .unwrap();
    assert_eq!(full_path(fork), "marketing/landing-pages");
    assert_eq!(
        fork["forked_from_repository"]["path_with_namespace"],
        "web/storefront"
    );
    // Exactly the SDK model's keys, every one of them a known RepositorySimplestDto field.
    const MODEL: [&str; 29] = [
        "id",
        "name",
        "namespace",
        "path",
        "develop_mode",
        "visibility",
        "security",
        "star_count",
        "forks_count",
        "open_issues_count",
        "open_merge_requests_count",
        "starred",
        "name_with_namespace",
        "last_activity_at",
        "forked_from_repository",
        "permissions",
        "archived",
        "member_count",
        "uuid",
        "description",
        "last_repository_updated_at",
        "ssh_url_to_repo",
        "http_url_to_repo",
        "status",
        "active_statistic",
        "project_name",
        "project_id",
        "project_is_delete",
        "creator_id",
    ];
    for entry in &entries {
        for key in entry.as_object().unwrap().keys() {
            assert!(MODEL.contains(&key.as_str()), "{key}");
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn ordering_by_update_time_follows_last_activity() {
    let sim = start(demo_without_latency()).await;
    let entries = list(&sim, "?limit=100&order_by=updated_at&sort=desc").await;
    let activity: Vec<&str> = entries
        .iter()
        .map(|e| e["last_activity_at"].as_str().unwrap())
        .collect();
    assert!(
        activity.windows(2).all(|pair| pair[0] >= pair[1]),
        "{activity:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn counters_count_connections_and_the_most_requests_in_flight() {
    let sim = start(SimConfig::bench(10, Duration::from_millis(300))).await;
    let client = reqwest::Client::new();
    let requests = (0..10u32).map(|i| {
        client
            .get(status_url(&sim, FIRST_ID + i))
            .header("X-Auth-Token", "demo-token")
            .send()
    });
    for response in futures::future::join_all(requests).await {
        assert_eq!(response.unwrap().status(), StatusCode::OK);
    }
    let stats: SimStatsSnapshot = sim.stats.snapshot();
    assert_eq!(stats.requests, 10);
    assert_eq!(stats.status_requests, 10);
    assert_eq!(stats.connections_accepted, 10);
    assert_eq!(stats.max_in_flight, 10);
    assert_eq!(stats.in_flight, 0);

    // Keep-alive: the next requests reuse a connection, and /-/stats counts nothing.
    client
        .get(status_url(&sim, FIRST_ID))
        .header("X-Auth-Token", "demo-token")
        .send()
        .await
        .unwrap();
    let served: Value = client
        .get(format!("{}/-/stats", sim.endpoint()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served["requests"], 11);
    assert_eq!(served["connections_accepted"], 10);
    assert_eq!(served["max_in_flight"], 10);
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_does_not_wait_for_the_repository_that_never_answers() {
    let sim = start(demo_without_latency()).await;
    let (hanging, _) = sim
        .failing_repositories()
        .into_iter()
        .find(|(_, class)| *class == "timeout")
        .unwrap();
    let url = status_url(&sim, hanging);
    let pending = tokio::spawn(async move { get_with_token(&url).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    sim.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(3));
    pending.abort();
}

fn last_push_url(sim: &SimHandle, id: u32) -> String {
    format!("{}/v4/repositories/{id}/last-push-event", sim.endpoint())
}

fn seconds(stamp: &str) -> i64 {
    time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp()
}

#[tokio::test]
async fn last_pushes_lead_some_statistics_trail_others_and_some_never_came() {
    let sim = start(demo_without_latency()).await;
    let (mut ahead, mut behind, mut never, mut failed) = (0, 0, 0, Vec::new());
    for id in healthy_ids(&sim) {
        let status: Value = get_with_token(&status_url(&sim, id))
            .await
            .json()
            .await
            .unwrap();
        let response = get_with_token(&last_push_url(&sim, id)).await;
        let code = response.status().as_u16();
        let push: Value = response.json().await.unwrap();
        if code != 200 {
            failed.push((id, code));
            continue;
        }
        assert_eq!(push["repository"]["id"], id);
        let expected = &sim.repositories()[(id - FIRST_ID) as usize].full_path;
        assert_eq!(&push["repository"]["path_with_namespace"], expected);
        let Some(pushed) = push.get("created_at").and_then(Value::as_str) else {
            assert!(push.get("ref").is_none());
            never += 1;
            continue;
        };
        assert!(push["ref"].is_string());
        let pushed = seconds(pushed);
        assert!(pushed <= time::OffsetDateTime::now_utc().unix_timestamp());
        if let Some(updated) = status["event"]["updated_at"].as_str() {
            if pushed > seconds(updated) {
                ahead += 1;
            } else {
                behind += 1;
            }
        }
    }
    assert!(ahead >= 2 && behind >= 2, "ahead {ahead}, behind {behind}");
    assert_eq!(never, 3);
    assert_eq!(
        failed,
        [(FIRST_ID + 20, 403), (FIRST_ID + 33, 500)],
        "last-push failures on healthy repositories"
    );
    // The two repositories whose statistics are days old were pushed to within the hour.
    for index in [17, 43] {
        let id = FIRST_ID + index;
        let status: Value = get_with_token(&status_url(&sim, id))
            .await
            .json()
            .await
            .unwrap();
        let push: Value = get_with_token(&last_push_url(&sim, id))
            .await
            .json()
            .await
            .unwrap();
        let lag = seconds(push["created_at"].as_str().unwrap())
            - seconds(status["event"]["updated_at"].as_str().unwrap());
        assert!(lag > 86_400, "{index}: lag {lag}");
    }
    assert_eq!(
        sim.stats.snapshot().last_push_requests,
        healthy_ids(&sim).len() as u64 + 2
    );
    sim.shutdown().await;
}

/// A GET signed as the SDK signs it: over `host`, `x-sdk-date` and `extra` headers.
fn signed_get(
    sim: &SimHandle,
    url: &str,
    access: &str,
    secret: &str,
    extra: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    let parsed = url::Url::parse(url).unwrap();
    let host = format!("{}", sim.addr);
    let date = signer::sdk_date(time::OffsetDateTime::now_utc());
    let mut headers = vec![("host", host.as_str()), ("x-sdk-date", date.as_str())];
    headers.extend_from_slice(extra);
    let signed = signer::sign("GET", &parsed, &headers, b"", access, secret.as_bytes());
    let mut request = reqwest::Client::new()
        .get(url)
        .header("X-Sdk-Date", &date)
        .header("Authorization", signed.authorization);
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request
}

#[tokio::test]
async fn iam_lists_the_project_of_a_region_to_a_signed_request() {
    let sim = start(demo_without_latency()).await;
    let url = format!("{}/v3/projects?name=cn-north-4", sim.iam_endpoint());
    let response = signed_get(&sim, &url, "DEMOACCESSKEY", "demo-secret-key", &[])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let projects = body["projects"].as_array().unwrap();
    assert_eq!(projects.len(), 1);
    assert_eq!(projects[0]["name"], "cn-north-4");
    assert_eq!(
        projects[0]["id"].as_str(),
        sim.project_id("cn-north-4").as_deref()
    );
    assert!(body["links"]["self"]
        .as_str()
        .unwrap()
        .ends_with("/v3/projects?name=cn-north-4"));

    let unknown = format!("{}/v3/projects?name=mars-1", sim.iam_endpoint());
    let body: Value = signed_get(&sim, &unknown, "DEMOACCESSKEY", "demo-secret-key", &[])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["projects"], json!([]));
    assert_eq!(sim.project_id("mars-1"), None);

    let unsigned = reqwest::get(&url).await.unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    let with_token = get_with_token(&url).await;
    assert_eq!(with_token.status(), StatusCode::OK);
    assert_eq!(sim.stats.snapshot().iam_project_requests, 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_project_id_the_account_does_not_have_is_refused() {
    let sim = start(demo_without_latency()).await;
    let url = status_url(&sim, FIRST_ID);
    let known = sim.project_id("cn-north-4").unwrap();
    for (project, expected) in [
        (known.as_str(), StatusCode::OK),
        ("0123456789abcdef0123456789abcdef", StatusCode::UNAUTHORIZED),
    ] {
        let response = signed_get(
            &sim,
            &url,
            "DEMOACCESSKEY",
            "demo-secret-key",
            &[("x-project-id", project)],
        )
        .send()
        .await
        .unwrap();
        assert_eq!(response.status(), expected, "{project}");
        if expected != StatusCode::OK {
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error_code"], "APIG.0301");
            assert!(body["error_msg"].as_str().unwrap().contains("x-project-id"));
        }
    }
    sim.shutdown().await;
}

/// The metadata flow as the SDK's `MetadataAccessor` runs it; returns the `credential` object.
async fn temporary_credential(sim: &SimHandle) -> Value {
    let client = reqwest::Client::new();
    let token = client
        .put(format!(
            "{}/meta-data/latest/api/token",
            sim.metadata_endpoint()
        ))
        .header("X-Metadata-Token-Ttl-Seconds", "21600")
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::OK);
    let token = token.text().await.unwrap();
    let answer = client
        .get(format!(
            "{}/openstack/latest/securitykey",
            sim.metadata_endpoint()
        ))
        .header("X-Metadata-Token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.unwrap();
    body["credential"].clone()
}

async fn status_with_temporary(
    sim: &SimHandle,
    credential: &Value,
    token: &str,
) -> reqwest::Response {
    signed_get(
        sim,
        &status_url(sim, FIRST_ID),
        credential["access"].as_str().unwrap(),
        credential["secret"].as_str().unwrap(),
        &[("x-security-token", token)],
    )
    .send()
    .await
    .unwrap()
}

#[tokio::test]
async fn the_metadata_service_hands_out_temporary_credentials_the_gateway_accepts() {
    let sim = start(demo_without_latency()).await;
    let credential = temporary_credential(&sim).await;
    let expires_at = credential["expires_at"].as_str().unwrap();
    // The SDK parses it with "%Y-%m-%dT%H:%M:%S.%fZ".
    assert_eq!(expires_at.len(), 27, "{expires_at}");
    let expires = time::PrimitiveDateTime::parse(
        expires_at,
        time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        ),
    )
    .unwrap()
    .assume_utc();
    let left = expires - time::OffsetDateTime::now_utc();
    assert!(
        left > time::Duration::minutes(14) && left <= time::Duration::minutes(30),
        "{left}"
    );
    let token = credential["securitytoken"].as_str().unwrap();
    assert_eq!(
        status_with_temporary(&sim, &credential, token)
            .await
            .status(),
        StatusCode::OK
    );
    // The same temporary key with a token that is not its own, or with none.
    let refused = status_with_temporary(&sim, &credential, "SIMSTSforged").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let bare = signed_get(
        &sim,
        &status_url(&sim, FIRST_ID),
        credential["access"].as_str().unwrap(),
        credential["secret"].as_str().unwrap(),
        &[],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    // Temporary credentials also sign the IAM project lookup.
    let projects = signed_get(
        &sim,
        &format!("{}/v3/projects?name=cn-north-4", sim.iam_endpoint()),
        credential["access"].as_str().unwrap(),
        credential["secret"].as_str().unwrap(),
        &[("x-security-token", token)],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(projects.status(), StatusCode::OK);
    assert_eq!(sim.stats.snapshot().metadata_requests, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_expired_security_token_is_refused() {
    let sim = start(SimConfig {
        temporary_credential_lifetime: Duration::from_secs(2),
        ..demo_without_latency()
    })
    .await;
    let credential = temporary_credential(&sim).await;
    let token = credential["securitytoken"].as_str().unwrap().to_owned();
    assert_eq!(
        status_with_temporary(&sim, &credential, &token)
            .await
            .status(),
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = status_with_temporary(&sim, &credential, &token).await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    let body: Value = expired.json().await.unwrap();
    assert!(
        body["error_msg"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    // A fresh one works again.
    let renewed = temporary_credential(&sim).await;
    let token = renewed["securitytoken"].as_str().unwrap().to_owned();
    assert_eq!(
        status_with_temporary(&sim, &renewed, &token).await.status(),
        StatusCode::OK
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn session_tokens_are_required_unless_configured_otherwise() {
    let sim = start(demo_without_latency()).await;
    let client = reqwest::Client::new();
    let key_url = format!("{}/openstack/latest/securitykey", sim.metadata_endpoint());
    let token_url = format!("{}/meta-data/latest/api/token", sim.metadata_endpoint());
    let without = client.get(&key_url).send().await.unwrap();
    assert_eq!(without.status(), StatusCode::UNAUTHORIZED);
    assert!(!without
        .text()
        .await
        .unwrap()
        .contains("Cloud Service Agency"));
    let bogus = client
        .get(&key_url)
        .header("X-Metadata-Token", "SIMMDnope")
        .send()
        .await
        .unwrap();
    assert_eq!(bogus.status(), StatusCode::UNAUTHORIZED);
    for ttl in [None, Some("0"), Some("21601"), Some("soon")] {
        let mut request = client.put(&token_url);
        if let Some(ttl) = ttl {
            request = request.header("X-Metadata-Token-Ttl-Seconds", ttl);
        }
        assert_eq!(
            request.send().await.unwrap().status(),
            StatusCode::BAD_REQUEST,
            "{ttl:?}"
        );
    }
    sim.shutdown().await;

    let sim = start(SimConfig {
        metadata_session_tokens: SessionTokens::Unsupported,
        ..demo_without_latency()
    })
    .await;
    let token = client
        .put(format!(
            "{}/meta-data/latest/api/token",
            sim.metadata_endpoint()
        ))
        .header("X-Metadata-Token-Ttl-Seconds", "21600")
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::NOT_FOUND);
    let key = client
        .get(format!(
            "{}/openstack/latest/securitykey",
            sim.metadata_endpoint()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(key.status(), StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test]
async fn metadata_faults_switch_on_and_off_at_run_time() {
    let sim = start(SimConfig {
        metadata_session_tokens: SessionTokens::Optional,
        ..demo_without_latency()
    })
    .await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let key_url = format!("{}/openstack/latest/securitykey", sim.metadata_endpoint());
    let switch = |mode: &'static str| {
        let url = format!("{}/-/metadata-fault?mode={mode}", sim.endpoint());
        let client = client.clone();
        async move { client.put(url).send().await.unwrap().status() }
    };
    assert_eq!(switch("error").await, StatusCode::OK);
    let current: Value = client
        .get(format!("{}/-/metadata-fault", sim.endpoint()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current["mode"], "error");
    assert_eq!(
        client.get(&key_url).send().await.unwrap().status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    switch("garbage").await;
    let garbage = client.get(&key_url).send().await.unwrap();
    assert_eq!(garbage.status(), StatusCode::OK);
    assert!(serde_json::from_str::<Value>(&garbage.text().await.unwrap()).is_err());
    switch("no_agency").await;
    let no_agency = client.get(&key_url).send().await.unwrap();
    assert_eq!(no_agency.status(), StatusCode::UNAUTHORIZED);
    assert!(no_agency
        .text()
        .await
        .unwrap()
        .contains("Please configure Cloud Service Agency first"));
    switch("slow").await;
    assert!(client
        .get(&key_url)
        .send()
        .await
        .is_err_and(|e| e.is_timeout()));
    assert_eq!(switch("melted").await, StatusCode::BAD_REQUEST);
    sim.set_metadata_fault(MetadataFault::None);
    assert_eq!(
        client.get(&key_url).send().await.unwrap().status(),
        StatusCode::OK
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn recording_is_off_unless_asked_for() {
    let sim = start(demo_without_latency()).await;
    get_with_token(&status_url(&sim, FIRST_ID)).await;
    let off = reqwest::get(format!("{}/-/requests", sim.endpoint()))
        .await
        .unwrap();
    assert_eq!(off.status(), StatusCode::NOT_FOUND);
    sim.shutdown().await;
}

#[tokio::test]
async fn recorded_requests_hold_method_path_query_headers_and_body() {
    let sim = start(SimConfig {
        record_requests: true,
        ..demo_without_latency()
    })
    .await;
    let client = reqwest::Client::new();
    get_with_token(&format!(
        "{}/v4/user/repositories?offset=0&limit=100&search=a%2Fb",
        sim.endpoint()
    ))
    .await;
    client
        .post(format!(
            "{}/v3/auth/tokens?nocatalog=true",
            sim.iam_endpoint()
        ))
        .json(&token_request("demo-password"))
        .send()
        .await
        .unwrap();
    reqwest::get(format!("{}/-/stats", sim.endpoint()))
        .await
        .unwrap();
    let recorded: Vec<Value> = reqwest::get(format!("{}/-/requests", sim.endpoint()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        recorded.len(),
        2,
        "/-/ routes are not recorded: {recorded:?}"
    );
    assert_eq!(recorded[0]["method"], "GET");
    assert_eq!(recorded[0]["path"], "/v4/user/repositories");
    assert_eq!(recorded[0]["query"], "offset=0&limit=100&search=a%2Fb");
    assert!(recorded[0]["body"].is_null());
    let headers = recorded[0]["headers"].as_array().unwrap();
    assert!(
        headers.contains(&json!(["x-auth-token", "demo-token"])),
        "{headers:?}"
    );
    assert_eq!(recorded[1]["method"], "POST");
    let body: Value = serde_json::from_str(recorded[1]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, token_request("demo-password"));
    // The request still reached its handler whole.
    assert_eq!(sim.stats.snapshot().iam_token_requests, 1);
    let cleared = client
        .delete(format!("{}/-/requests", sim.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), StatusCode::NO_CONTENT);
    let recorded: Vec<Value> = reqwest::get(format!("{}/-/requests", sim.endpoint()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(recorded.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn scenario_repositories_answer_their_fixed_case() {
    let sim = start(SimConfig::scenarios()).await;
    let listed: Vec<Value> = reqwest::get(format!("{}/-/scenarios", sim.endpoint()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), sim.repositories().len());
    assert!(sim.failing_repositories().is_empty());
    for scenario in &listed {
        let id = u32::try_from(scenario["id"].as_u64().unwrap()).unwrap();
        let name = scenario["name"].as_str().unwrap();
        assert_eq!(
            sim.repositories()[(id - FIRST_ID) as usize].full_path,
            format!("conformance/{name}")
        );
        let first = get_with_token(&status_url(&sim, id)).await;
        let status = first.status().as_u16();
        let total = first.headers().get("x-total").cloned();
        let body = first.text().await.unwrap();
        let again = get_with_token(&status_url(&sim, id))
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(body, again, "{name} never changes");
        match scenario["kind"].as_str().unwrap() {
            "ok" => {
                assert_eq!(status, 200, "{name}");
                assert_eq!(total.unwrap(), "1");
                assert!(serde_json::from_str::<Value>(&body).unwrap().is_object());
            }
            "invalid" => {
                assert_eq!(status, 200, "{name}");
                assert!(!serde_json::from_str::<Value>(&body).is_ok_and(|v| v.is_object()));
            }
            "error" => assert!(status >= 400, "{name}"),
            other => panic!("{other}"),
        }
        let push = get_with_token(&last_push_url(&sim, id)).await;
        let push_status = push.status().as_u16();
        let push: Value = push.json().await.unwrap();
        match scenario["push"].as_str().unwrap() {
            "at" => assert!(push["created_at"].is_string(), "{name}"),
            "never" => assert!(push.get("created_at").is_none_or(Value::is_null), "{name}"),
            "fails" => assert!(push_status >= 400, "{name}"),
            other => panic!("{other}"),
        }
    }
    let lenient = listed.iter().filter(|s| s["lenient"] == true).count();
    assert!(lenient >= 6, "{lenient}");
    sim.shutdown().await;

    let demo = start(demo_without_latency()).await;
    let none: Vec<Value> = reqwest::get(format!("{}/-/scenarios", demo.endpoint()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(none.is_empty());
    demo.shutdown().await;
}
