//! The simulator as a server: its counters, its shutdown, and the requests it records.

use super::*;

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
    let served: Value = json_of(client.get(format!("{}/-/stats", sim.endpoint()))).await;
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
    let recorded = recorded_requests(&sim).await;
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
    let recorded = recorded_requests(&sim).await;
    assert!(recorded.is_empty());
    sim.shutdown().await;
}
