//! Who may ask: requests without credentials or with a wrong token are refused, an AK/SK
//! signed request is accepted and a tampered one refused.

use super::*;

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
