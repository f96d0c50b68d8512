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
        let body: Value = response.json().await.unwrap();
        assert!(body["can_statistics"].is_boolean(), "{body}");
        let reason = match &body["reason"] {
            Value::String(s) => s.parse::<u8>().unwrap(),
            other => u8::try_from(other.as_u64().unwrap()).unwrap(),
        };
        assert!(reason <= 3);
        if let Some(event) = body.get("event").filter(|e| !e.is_null()) {
            saw_event = true;
            assert_eq!(event["project_id"], id);
            for field in ["id", "user_id"] {
                assert!(
                    event[field].as_u64().is_some_and(|v| v > 0),
                    "{field} in {body}"
                );
            }
            for field in ["branch", "status", "stat_date", "created_at", "updated_at"] {
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
        ("/v4/user/repositories?limit=101", 400),
        ("/v4/user/repositories?offset=-3", 400),
        ("/v4/user/repositories?archived=maybe", 400),
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
    let names: Vec<String> = sim.repositories().into_iter().map(|r| r.name).collect();
    assert_eq!(names[26], "security/vault-config");
    assert_eq!(names[44], "finance/invoicing");
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
        let code = parsed
            .as_ref()
            .and_then(|v| v.get("error_code"))
            .and_then(Value::as_str);
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
        assert_eq!(response.status(), StatusCode::OK, "{}", repo.name);
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

#[tokio::test]
async fn paging_returns_every_repository_exactly_once() {
    let sim = start(SimConfig::bench(250, Duration::ZERO)).await;
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let response = get_with_token(&format!(
            "{}/v4/user/repositories?offset={offset}&limit=100",
            sim.endpoint()
        ))
        .await;
        assert_eq!(response.headers()["x-total"], "250");
        let page: Vec<Value> = response.json().await.unwrap();
        for repo in &page {
            assert_eq!(
                repo["path_with_namespace"],
                format!(
                    "{}/{}",
                    repo["namespace"].as_str().unwrap(),
                    repo["path"].as_str().unwrap()
                )
            );
            assert!(repo["archived"].is_boolean());
            seen.push(u32::try_from(repo["id"].as_u64().unwrap()).unwrap());
        }
        if page.len() < 100 {
            break;
        }
        offset += 100;
    }
    let expected: Vec<u32> = sim.repositories().iter().map(|r| r.id).collect();
    assert_eq!(seen, expected);
    assert_eq!(sim.stats.snapshot().list_requests, 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_list_defaults_to_twenty_and_filters_archived_and_search() {
    let sim = start(demo_without_latency()).await;
    let list = |query: &str| {
        let url = format!("{}/v4/user/repositories{query}", sim.endpoint());
        async move {
            get_with_token(&url)
                .await
                .json::<Vec<Value>>()
                .await
                .unwrap()
        }
    };
    assert_eq!(list("").await.len(), 20);
    let archived = list("?archived=true&limit=100").await;
    assert_eq!(archived.len(), 2);
    assert_eq!(list("?archived=false&limit=100").await.len(), 46);
    let payments = list("?search=payments%2F&limit=100").await;
    assert_eq!(payments.len(), 4);
    assert_eq!(payments[0]["path_with_namespace"], "payments/api");
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
