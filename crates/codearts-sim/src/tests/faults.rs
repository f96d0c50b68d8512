//! The failures the demo injects: which repositories fail, and the answer each gives.

use super::*;

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
