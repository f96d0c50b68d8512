//! `--demo` as a user runs it: one scrape shows every documented metric, every error
//! class the simulator injects, and passes `promtool check metrics` without a warning.

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs promtool (apt-get install prometheus); scripts/test-all.sh runs it"]
async fn one_demo_scrape_shows_every_metric_and_passes_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = spawn_exporter(EXPORTER, &["--demo"], dir.path()).await;
    let body = exporter.scrape(Some("5")).await;
    let samples = samples(&body);

    let names: std::collections::HashSet<&str> = samples.iter().map(|s| s.name.as_str()).collect();
    for metric in EXPORTER_METRICS {
        // A histogram's samples are its _bucket, _sum and _count.
        let present =
            names.contains(*metric) || names.contains(format!("{metric}_bucket").as_str());
        assert!(present, "{metric} missing from the demo scrape");
    }
    assert!(names.contains("process_resident_memory_bytes"));
    let classes: std::collections::HashSet<&str> = samples
        .iter()
        .filter(|s| s.name == "codearts_repo_statistics_error")
        .map(|s| s.labels["class"].as_str())
        .collect();
    // The demo's simulator answers every request it gets, so no connection fails.
    for class in ERROR_CLASSES.iter().filter(|c| **c != "connection") {
        assert!(
            classes.contains(class),
            "the demo shows class {class}: {classes:?}"
        );
    }
    for (source, at_least) in [("static", 6.0), ("discovered", 30.0)] {
        let count = value_in(
            &samples,
            "codearts_repo_exporter_repositories",
            &[("source", source)],
        )
        .unwrap();
        assert!(count >= at_least, "{source}: {count}");
    }

    let findings = promtool_check_metrics(body.as_bytes());
    assert!(findings.is_empty(), "promtool check metrics:\n{findings}");
}
