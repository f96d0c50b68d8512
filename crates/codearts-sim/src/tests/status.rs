//! The statistics-status route: the documented shape of a healthy answer, an unknown or
//! malformed request, every repository healthy without injected failures, and the fixed cases
//! of the scenario catalogue.

use super::*;

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
async fn scenario_repositories_answer_their_fixed_case() {
    let sim = start(SimConfig::scenarios()).await;
    let listed: Vec<Value> =
        json_of(reqwest::Client::new().get(format!("{}/-/scenarios", sim.endpoint()))).await;
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
    let none: Vec<Value> =
        json_of(reqwest::Client::new().get(format!("{}/-/scenarios", demo.endpoint()))).await;
    assert!(none.is_empty());
    demo.shutdown().await;
}
