//! IAM: a token is issued, works and expires; a wrong password and a malformed body are
//! refused; a signed request lists the project of a region, and a project id the account does
//! not have is refused.

use super::*;

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
    let body: Value = json_of(signed_get(
        &sim,
        &unknown,
        "DEMOACCESSKEY",
        "demo-secret-key",
        &[],
    ))
    .await;
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
