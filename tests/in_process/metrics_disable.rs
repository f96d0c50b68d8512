//! `metrics.disable`: whole per-repository families left out, by name; `up` stays; a bad list
//! stops the start or a reload names its entry and keeps the running config.

use crate::helpers::*;
use codearts_repo_exporter::{App, StartError};

/// An upstream where every repository can have statistics, for reason 1.
async fn upstream() -> Upstream {
    let upstream = Upstream::start().await;
    upstream
        .every_status(status_answer(true, 1, "finish"))
        .await;
    upstream
}

fn with_disable(endpoint: &str, disable: &str) -> String {
    format!(
        "{}metrics:\n  disable: {disable}\n",
        config_yaml(endpoint, &[1], "")
    )
}

fn families(body: &Body) -> std::collections::BTreeSet<&str> {
    body.samples()
        .iter()
        .filter(|s| s.name.starts_with("codearts_repo_statistics_"))
        .map(|s| s.name.as_str())
        .collect()
}

/// How many series, of any family, carry `repository_id="1"`.
fn series_of_repository_1(body: &Body) -> usize {
    body.samples()
        .iter()
        .filter(|s| s.labels.get("repository_id").map(String::as_str) == Some("1"))
        .count()
}

#[tokio::test]
async fn disabled_families_leave_the_scrape_and_the_rest_stays() {
    let server = upstream().await;
    let default = scrape(&app(&config_yaml(&server.uri(), &[1], "")), None)
        .await
        .body;
    let all = families(&default);
    let app = app(&with_disable(
        &server.uri(),
        "[event_info, request_duration_seconds]",
    ));
    let disabled = scrape(&app, None).await.body;
    let some = families(&disabled);
    let missing: Vec<&str> = all.difference(&some).copied().collect();
    assert_eq!(
        missing,
        [
            "codearts_repo_statistics_event_info",
            "codearts_repo_statistics_request_duration_seconds"
        ]
    );
    let probe = get(&app, "/probe?repository_id=1").await.body;
    assert!(
        !probe.contains("codearts_repo_statistics_event_info"),
        "{probe}"
    );
}

#[tokio::test]
async fn the_minimal_preset_leaves_five_series_of_a_healthy_repository() {
    let server = upstream().await;
    // The preset as the documentation writes it, its `metrics:` block appended to the config.
    let preset = doc_yaml_after("<!-- minimal-preset");
    let app = app(&format!("{}{preset}", config_yaml(&server.uri(), &[1], "")));
    let body = scrape(&app, None).await.body;
    assert_eq!(series_of_repository_1(&body), 5);
    let default = scrape(
        &crate::helpers::app(&config_yaml(&server.uri(), &[1], "")),
        None,
    )
    .await
    .body;
    assert_eq!(series_of_repository_1(&default), 16);
}

#[tokio::test]
async fn up_unknown_names_and_duplicates_stop_the_start_naming_the_entry() {
    for (disable, key) in [
        ("[up]", "metrics.disable[0]: up cannot be disabled"),
        ("[reason, nonsense]", "metrics.disable[1]:"),
        (
            "[reason, reason]",
            "metrics.disable[1]: reason is listed twice",
        ),
    ] {
        let config = parse_config(&with_disable("http://127.0.0.1:1", disable));
        match App::new(config, None, None) {
            Err(StartError::Config(err)) => {
                assert!(err.to_string().starts_with(key), "{disable}: {err}")
            }
            Err(other) => panic!("{disable}: {other}"),
            Ok(_) => panic!("{disable} was accepted"),
        }
    }
}

#[tokio::test]
async fn a_bad_list_on_reload_keeps_the_running_config() {
    let server = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yml");
    std::fs::write(&path, with_disable(&server.uri(), "[event_info]")).unwrap();
    let app = app_from_file(&path);
    std::fs::write(&path, with_disable(&server.uri(), "[event_info, up]")).unwrap();
    assert_reload_refused(&app, "metrics.disable[1]").await;
    let body = scrape(&app, None).await.body;
    assert!(!body.contains("codearts_repo_statistics_event_info"));
    assert_eq!(body.reload_successful(), Some(0.0));
    std::fs::write(&path, config_yaml(&server.uri(), &[1], "")).unwrap();
    assert_eq!(reload(&app).await.status, 200);
    let body = scrape(&app, None).await.body;
    assert!(
        body.contains("codearts_repo_statistics_event_info"),
        "reloadable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimal_preset_leaves_a_healthy_demo_repository_at_most_six_series() {
    let disabled: Vec<String> = {
        let yaml = doc_yaml_after("<!-- minimal-preset");
        let preset: serde_yaml_ng::Value = serde_yaml_ng::from_str(&yaml).expect("preset YAML");
        preset["metrics"]["disable"]
            .as_sequence()
            .expect("metrics.disable")
            .iter()
            .filter_map(|f| f.as_str().map(|f| format!("codearts_repo_statistics_{f}")))
            .collect()
    };
    let dir = tempfile::TempDir::new().expect("temp dir");
    let mut exporter = spawn_exporter(EXPORTER, &["--demo"], dir.path()).await;
    let body = Body::from(exporter.scrape(Some("5")).await);
    exporter.proc.assert_running();
    let healthy = body.healthy();
    assert!(
        healthy.len() >= 20,
        "healthy demo repositories: {healthy:?}"
    );
    let (mut most, mut most_kept) = (0, 0);
    for id in healthy {
        let id = id.to_string();
        let series: Vec<&Sample> = body
            .samples()
            .iter()
            .filter(|s| s.labels.get("repository_id") == Some(&id))
            .collect();
        let kept = series
            .iter()
            .filter(|s| !disabled.contains(&s.name))
            .count();
        most = most.max(series.len());
        most_kept = most_kept.max(kept);
    }
    // The demo discovers repositories (repository_info) and asks their last pushes (lag, last
    // push and its up): 16 + 1 + 3 by default.
    assert_eq!(
        most, 20,
        "a healthy discovered repository's series by default"
    );
    assert_eq!(
        most_kept, 6,
        "left by the minimal preset (its documented promise: at most 6)"
    );
}
