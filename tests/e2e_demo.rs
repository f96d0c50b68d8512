//! `--demo` as a user runs it: one scrape shows every metric of the README, every error
//! class the simulator injects, and passes `promtool check metrics` without a warning.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs promtool (apt-get install prometheus); scripts/test-all.sh runs it"]
async fn one_demo_scrape_shows_every_metric_and_passes_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = spawn_exporter(&["--demo"], dir.path()).await;
    let body = exporter.scrape(Some("5")).await;

    let names: std::collections::HashSet<&str> =
        body.samples().iter().map(|s| s.name.as_str()).collect();
    for metric in EXPORTER_METRICS {
        // A histogram's samples are its _bucket, _sum and _count.
        let present =
            names.contains(*metric) || names.contains(format!("{metric}_bucket").as_str());
        assert!(present, "{metric} missing from the demo scrape");
    }
    assert!(names.contains("process_resident_memory_bytes"));
    let classes: std::collections::HashSet<&str> = body
        .samples()
        .iter()
        .filter(|s| s.name == "codearts_repo_statistics_error")
        .map(|s| s.labels["class"].as_str())
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
        let count = body
            .value("codearts_repo_exporter_repositories", &[("source", source)])
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

/// `--demo.listen-address` pins the simulator's port; the landing page's summary counts what
/// its table lists (static and discovered), and the simulator takes the documented credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_simulator_listens_where_asked_and_the_landing_page_counts_every_repository() {
    let dir = tempfile::tempdir().unwrap();
    let sim_listen = format!("127.0.0.1:{}", procs::free_port());
    let exporter = spawn_exporter(
        &["--demo", "--demo.listen-address", &sim_listen],
        dir.path(),
    )
    .await;
    let client = reqwest::Client::new();
    let sim = format!("http://{sim_listen}");
    let stats = client.get(format!("{sim}/-/stats")).send().await.unwrap();
    assert!(
        stats.status().is_success(),
        "the simulator is on {sim_listen}"
    );
    // The credentials the README and --help give: the static token works there, another not.
    let status_with = |token: &'static str| {
        let request = client
            .get(format!(
                "{sim}/v4/repositories/2111915000/repository/statistics-status"
            ))
            .header("X-Auth-Token", token)
            .send();
        async move { request.await.unwrap().status().as_u16() }
    };
    assert_eq!(status_with("demo-token").await, 200);
    assert_eq!(status_with("not-the-demo-token").await, 401);

    let landing = exporter.get("/").await;
    let rows = landing.matches("<tr><td>").count();
    assert!(rows > 6, "discovered repositories are listed: {rows}");
    assert!(
        landing.contains(&format!(
            " repositories={rows} static=6 discovered={} ",
            rows - 6
        )),
        "the summary counts the {rows} rows: {landing}"
    );
}
