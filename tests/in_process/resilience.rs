//! Protecting the upstream and surviving it: rate limit, retries, cache, single-flight
//! scrapes, rotation through a long list, and reloads that lose nothing.

use std::time::Duration;

use crate::helpers::*;
use wiremock::ResponseTemplate;

#[tokio::test]
async fn rate_limit_spaces_requests_after_the_burst() {
    let upstream = counting_upstream(Duration::ZERO).await;
    let ids: Vec<u32> = (1..=10).collect();
    let app = app(&config_yaml(
        &upstream.endpoint,
        &ids,
        "  rate_limit: 2\n  concurrency: 10\n",
    ));
    let answer = scrape(&app, None).await;
    let arrivals: Vec<_> = upstream
        .arrivals
        .lock()
        .unwrap()
        .iter()
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(arrivals.len(), 10);
    // After the first request, each one waits its 0.5 s slot: no window of 1 s holds more than 2.
    // The times are of arrival: a request that reaches the upstream late (a loaded machine, such
    // as CI building the images beside the tests) shortens the gap after it, by up to 100 ms
    // allowed here; a limiter that let requests through together would leave gaps near 0.
    for pair in arrivals.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(400), "requests {gap:?} apart");
    }
    assert!(
        answer.elapsed >= Duration::from_millis(4400),
        "{:?}",
        answer.elapsed
    );
}

#[tokio::test]
async fn throttled_answer_with_retry_after_is_retried_after_the_pause() {
    let upstream = Upstream::start().await;
    upstream
        .every_get(error(429, "APIG.0308", "over ratelimit").insert_header("Retry-After", "1"))
        .first(1)
        .expect(1)
        .await;
    upstream.every_get(ok_status()).expect(1).await;
    let app = app(&config_yaml(&upstream.uri(), &[1], "  retries: 1\n"));
    let answer = scrape(&app, None).await;
    assert_eq!(answer.body.up(1), Some(1.0));
    assert!(
        answer.elapsed >= Duration::from_secs(1),
        "{:?}",
        answer.elapsed
    );
    assert_eq!(
        answer.body.value(
            "codearts_repo_exporter_api_request_retries_total",
            &[("endpoint", "statistics_status")]
        ),
        Some(1.0)
    );
    assert_eq!(
        answer.body.errors("statistics_status", "throttled"),
        Some(1.0)
    );
}

#[tokio::test]
async fn throttled_answer_without_retries_is_class_throttled_after_one_request() {
    let upstream = Upstream::start().await;
    upstream.every_get(throttled("1")).expect(1).await;
    let app = app(&config_yaml(&upstream.uri(), &[1], "  retries: 0\n"));
    let body = scrape(&app, None).await.body;
    assert_eq!(body.class(1), Some("throttled"));
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let upstream = Upstream::start().await;
    upstream
        .every_get(ResponseTemplate::new(503))
        .first(2)
        .expect(2)
        .await;
    upstream.every_get(ok_status()).expect(1).await;
    let app = app(&config_yaml(&upstream.uri(), &[1], "  retries: 2\n"));
    let body = scrape(&app, None).await.body;
    assert_eq!(body.up(1), Some(1.0));
}

#[tokio::test]
async fn not_found_is_never_retried() {
    let upstream = Upstream::start().await;
    upstream
        .every_get(ResponseTemplate::new(404))
        .expect(1)
        .await;
    let app = app(&config_yaml(&upstream.uri(), &[1], "  retries: 3\n"));
    let body = scrape(&app, None).await.body;
    assert_eq!(body.class(1), Some("not_found"));
}

#[tokio::test]
async fn retries_never_run_past_the_deadline() {
    let upstream = Upstream::start().await;
    upstream.every_get(throttled("5")).expect(1).await;
    let app = app(&config_yaml(&upstream.uri(), &[1], "  retries: 3\n"));
    let answer = scrape(&app, Some("2")).await;
    assert!(
        answer.elapsed < Duration::from_millis(1700),
        "{:?}",
        answer.elapsed
    );
    assert_eq!(answer.body.class(1), Some("throttled"));
}

#[tokio::test]
async fn cache_serves_results_younger_than_min_interval() {
    let upstream = Upstream::start().await;
    for id in [1, 2] {
        upstream.status(id, ok_status()).expect(1).await;
    }
    let app = app(&config_yaml(
        &upstream.uri(),
        &[1, 2],
        "  min_interval: 1m\n",
    ));
    let first = scrape(&app, None).await.body;
    let second = scrape(&app, None).await.body;
    for body in [&first, &second] {
        assert_eq!(body.up(2), Some(1.0));
    }
    let last_success = "codearts_repo_statistics_last_success_timestamp_seconds";
    assert_eq!(
        second.series(last_success, 1),
        first.series(last_success, 1),
        "the age of cached data is visible"
    );
    assert_eq!(
        second.value("codearts_repo_exporter_cache_hits_total", &[]),
        Some(2.0)
    );
    assert!(second.contains("Results may be cached"), "HELP says so");
}

#[tokio::test]
async fn a_scrape_from_the_cache_repeats_every_series_but_the_event_ages_which_grow() {
    // 300 repositories: more than one block of reused text.
    let upstream = Upstream::start().await;
    upstream.every_get(ok_status()).expect(300).await;
    let ids: Vec<u32> = (1..=300).collect();
    let app = app(&config_yaml(&upstream.uri(), &ids, "  min_interval: 1h\n"));
    let per_repository = |body: &str| -> Vec<Sample> {
        samples(body)
            .into_iter()
            .filter(|s| s.name.starts_with("codearts_repo_statistics_"))
            .collect()
    };
    let first = per_repository(&scrape(&app, None).await.body);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = per_repository(&scrape(&app, None).await.body);

    assert_eq!(first.len(), second.len());
    assert!(first.len() >= 300 * 12, "{} samples", first.len());
    for (before, after) in first.iter().zip(&second) {
        assert_eq!((&before.name, &before.labels), (&after.name, &after.labels));
        if GROWING_FAMILIES.contains(&before.name.as_str()) {
            let grown = after.value - before.value;
            assert!((1.0..3.0).contains(&grown), "{before:?} → {after:?}");
        } else {
            assert_eq!(before.value, after.value, "{before:?}");
        }
    }
}

#[tokio::test]
async fn cache_expires_after_min_interval() {
    let upstream = Upstream::start().await;
    upstream.every_get(ok_status()).expect(2).await;
    let app = app(&config_yaml(&upstream.uri(), &[1], "  min_interval: 1s\n"));
    scrape(&app, None).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    scrape(&app, None).await;
}

#[tokio::test]
async fn failed_refresh_shows_the_failure_not_stale_values() {
    let upstream = Upstream::start().await;
    upstream.every_get(ok_status()).first(1).await;
    upstream.every_get(ResponseTemplate::new(500)).await;
    let app = app(&config_yaml(&upstream.uri(), &[1], "  min_interval: 1s\n"));
    let first = scrape(&app, None).await.body;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = scrape(&app, None).await.body;
    assert_eq!(second.up(1), Some(0.0));
    assert_eq!(second.class(1), Some("server_error"));
    assert_eq!(
        second.series("codearts_repo_statistics_can_statistics", 1),
        None
    );
    let last_success = "codearts_repo_statistics_last_success_timestamp_seconds";
    assert_eq!(
        second.series(last_success, 1),
        first.series(last_success, 1)
    );
}

#[tokio::test]
async fn concurrent_scrapes_share_one_fan_out() {
    let upstream = Upstream::start().await;
    let ids: Vec<u32> = (1..=10).collect();
    for id in &ids {
        upstream
            .status(*id, ok_status().set_delay(Duration::from_millis(300)))
            .expect(1)
            .await;
    }
    let app = app(&config_yaml(&upstream.uri(), &ids, ""));
    let scrapes = (0..20).map(|_| scrape(&app, None));
    let answers = futures::future::join_all(scrapes).await;
    for answer in answers {
        assert_eq!(answer.body.healthy().len(), 10);
    }
}

#[tokio::test]
async fn rotation_reaches_every_repository_across_cut_off_fan_outs() {
    // 50 repositories at 5 requests/s cannot be asked in one 1.5 s scrape, nor in one 4 s
    // fan-out. Each fan-out starts with the repositories asked longest ago (or never), so three
    // in a row cover the list instead of asking the head of it three times.
    let upstream = counting_upstream(Duration::ZERO).await;
    let ids: Vec<u32> = (1..=50).collect();
    let app = app(&config_yaml(
        &upstream.endpoint,
        &ids,
        "  rate_limit: 5\n  max_duration: 4s\n",
    ));
    for round in 0..3 {
        let answer = scrape(&app, Some("2")).await;
        assert!(
            answer.elapsed < Duration::from_millis(1600),
            "scrape {round} answered after {:?}",
            answer.elapsed
        );
        // Let the fan-out run to its max_duration, as between two Prometheus scrapes.
        tokio::time::sleep(Duration::from_millis(2700)).await;
    }
    let per_id = upstream.per_id();
    let missing: Vec<_> = ids.iter().filter(|id| !per_id.contains_key(id)).collect();
    assert!(missing.is_empty(), "never asked: {missing:?}");
}

#[tokio::test]
async fn unreached_repositories_are_served_from_the_cache() {
    let upstream = counting_upstream(Duration::ZERO).await;
    let ids: Vec<u32> = (1..=30).collect();
    let app = app(&config_yaml(
        &upstream.endpoint,
        &ids,
        "  rate_limit: 20\n  min_interval: 1h\n",
    ));
    // The first scrape is cut off after 0.5 s, but its fan-out runs on and fills the cache.
    let first = scrape(&app, Some("1")).await.body;
    let timed_out = first
        .samples()
        .iter()
        .filter(|s| s.name == "codearts_repo_statistics_error" && s.labels["class"] == "timeout")
        .count();
    assert!(timed_out > 0, "the first scrape could not reach everything");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let second = scrape(&app, Some("1")).await.body;
    assert_eq!(second.healthy().len(), 30);
    assert_eq!(upstream.request_count(), 30);
}

#[tokio::test]
async fn reload_adds_a_repository_and_keeps_the_cache() {
    let upstream = Upstream::start().await;
    for id in [1, 2] {
        upstream.status(id, ok_status()).expect(1).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yml");
    let config = |ids: &[u32]| config_yaml(&upstream.uri(), ids, "  min_interval: 1h\n");
    std::fs::write(&file, config(&[1])).unwrap();
    let app = app_from_file(&file);
    scrape(&app, None).await;
    std::fs::write(&file, config(&[1, 2])).unwrap();
    let reloaded = reload(&app).await;
    assert_eq!(reloaded.status, 200, "{}", reloaded.body);
    let body = scrape(&app, None).await.body;
    assert_eq!(body.up(2), Some(1.0));
    assert_eq!(body.reload_successful(), Some(1.0));
}

#[tokio::test]
async fn broken_reload_keeps_the_running_config() {
    let upstream = Upstream::start().await;
    upstream.every_get(ok_status()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yml");
    std::fs::write(&file, config_yaml(&upstream.uri(), &[1, 2], "")).unwrap();
    let app = app_from_file(&file);
    scrape(&app, None).await;

    std::fs::write(&file, "codearts: [this is: not valid\n").unwrap();
    assert_reload_refused(&app, "invalid YAML").await;

    std::fs::write(&file, config_yaml(&upstream.uri(), &[1, 0], "")).unwrap();
    assert_reload_refused(&app, "repositories[1].id").await;

    let body = scrape(&app, None).await.body;
    for id in [1, 2] {
        assert_eq!(body.up(id), Some(1.0));
    }
    assert_eq!(body.reload_successful(), Some(0.0));
    assert!(
        body.value(
            "codearts_repo_exporter_config_last_reload_success_timestamp_seconds",
            &[]
        )
        .unwrap()
            > 0.0
    );
}
