//! The last-push route: pushes lead some statistics, trail others, and some never came.

use super::*;

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
