//! The ECS metadata service: temporary credentials the gateway accepts, expiry, session
//! tokens, and faults switched at run time.

use super::*;

/// The metadata flow as the SDK's `MetadataAccessor` runs it; returns the `credential` object.
async fn temporary_credential(sim: &SimHandle) -> Value {
    let client = reqwest::Client::new();
    let token = client
        .put(session_token_url(sim))
        .header("X-Metadata-Token-Ttl-Seconds", "21600")
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::OK);
    let token = token.text().await.unwrap();
    let answer = client
        .get(security_key_url(sim))
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
    let key_url = security_key_url(&sim);
    let token_url = session_token_url(&sim);
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
        .put(session_token_url(&sim))
        .header("X-Metadata-Token-Ttl-Seconds", "21600")
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::NOT_FOUND);
    let key = client.get(security_key_url(&sim)).send().await.unwrap();
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
    let key_url = security_key_url(&sim);
    let switch = |mode: &'static str| {
        let url = format!("{}/-/metadata-fault?mode={mode}", sim.endpoint());
        let client = client.clone();
        async move { client.put(url).send().await.unwrap().status() }
    };
    assert_eq!(switch("error").await, StatusCode::OK);
    let current: Value = json_of(client.get(format!("{}/-/metadata-fault", sim.endpoint()))).await;
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
