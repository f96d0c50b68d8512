//! `--demo` as a user runs it: one scrape shows every metric of the contract, every error
//! class the simulator injects, and passes `promtool check metrics` without a warning.

mod common;

use common::*;

/// CONTRACT §4, per repository and the exporter's own.
const CONTRACT_METRICS: [&str; 23] = [
    "codearts_repo_statistics_up",
    "codearts_repo_statistics_can_statistics",
    "codearts_repo_statistics_reason",
    "codearts_repo_statistics_event_status",
    "codearts_repo_statistics_event_info",
    "codearts_repo_statistics_event_id",
    "codearts_repo_statistics_event_created_timestamp_seconds",
    "codearts_repo_statistics_event_updated_timestamp_seconds",
    "codearts_repo_statistics_event_age_seconds",
    "codearts_repo_statistics_error",
    "codearts_repo_statistics_http_status",
    "codearts_repo_statistics_request_duration_seconds",
    "codearts_repo_statistics_last_success_timestamp_seconds",
    "codearts_repo_exporter_build_info",
    "codearts_repo_exporter_scrape_duration_seconds",
    "codearts_repo_exporter_repositories",
    "codearts_repo_exporter_api_requests_total",
    "codearts_repo_exporter_api_request_errors_total",
    "codearts_repo_exporter_api_request_duration_seconds_bucket",
    "codearts_repo_exporter_auth_token_expiry_timestamp_seconds",
    "codearts_repo_exporter_config_last_reload_successful",
    "codearts_repo_exporter_config_last_reload_success_timestamp_seconds",
    "process_resident_memory_bytes",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_demo_scrape_shows_every_metric_and_passes_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let port = procs::free_port();
    let _exporter = spawn_exporter(&["--demo"], port, dir.path()).await;
    let body = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .header("X-Prometheus-Scrape-Timeout-Seconds", "5")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    let names: std::collections::HashSet<String> =
        samples(&body).into_iter().map(|s| s.name).collect();
    for metric in CONTRACT_METRICS {
        assert!(
            names.contains(metric),
            "{metric} missing from the demo scrape"
        );
    }
    let classes: std::collections::HashSet<String> = samples(&body)
        .into_iter()
        .filter(|s| s.name == "codearts_repo_statistics_error")
        .map(|s| s.labels["class"].clone())
        .collect();
    for class in [
        "unauthorized",
        "forbidden",
        "not_found",
        "throttled",
        "client_error",
        "server_error",
        "timeout",
        "invalid_response",
    ] {
        assert!(
            classes.contains(class),
            "the demo shows class {class}: {classes:?}"
        );
    }
    for (source, at_least) in [("static", 6.0), ("discovered", 30.0)] {
        let count = value(
            &body,
            "codearts_repo_exporter_repositories",
            &[("source", source)],
        )
        .unwrap();
        assert!(count >= at_least, "{source}: {count}");
    }

    let findings = promtool_check_metrics(body.as_bytes());
    assert!(findings.is_empty(), "promtool check metrics:\n{findings}");
}

#[tokio::test]
async fn config_check_prints_a_summary_and_bad_configs_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(
        &good,
        config_yaml(
            "https://codehub-ext.cn-north-4.myhuaweicloud.com",
            &[1, 2],
            "",
        ),
    )
    .unwrap();
    let run = |path: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_codearts-repo-exporter"))
            .args(["--config.check", "--config.file"])
            .arg(path)
            .output()
            .unwrap()
    };
    let ok = run(&good);
    assert!(ok.status.success());
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        out.starts_with("config OK: ") && out.contains("repositories=2"),
        "{out}"
    );

    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        config_yaml("https://x.example", &[1], "  concurrency: 0\n"),
    )
    .unwrap();
    let refused = run(&bad);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("scrape.concurrency:"), "{err}");

    let missing = run(&dir.path().join("nope.yml"));
    assert_eq!(missing.status.code(), Some(2));
}
