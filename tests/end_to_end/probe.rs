//! The README's scrape configs, run as written against a real Prometheus (Debian `prometheus`):
//! the plain `/metrics` job and the `/probe` job whose relabelling turns repository ids into
//! targets. Only the exporter's address and the intervals (60 s → 1 s) are changed.

use std::time::Duration;

use crate::helpers::*;

fn scrape_configs_item(yaml: &str) -> String {
    // The README shows `scrape_configs:` with one job; keep the job's lines.
    yaml.lines()
        .skip_while(|l| !l.trim_start().starts_with("- job_name"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn fast(yaml: &str, exporter: &str) -> String {
    yaml.replace("codearts-exporter.example:9825", exporter)
        .replace("scrape_interval: 60s", "scrape_interval: 1s")
        .replace("scrape_timeout: 30s", "scrape_timeout: 1s")
        .replace("scrape_timeout: 10s", "scrape_timeout: 1s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus (apt-get install prometheus); scripts/test-all.sh runs it"]
async fn readme_scrape_configs_work_against_a_real_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let running = spawn_exporter(EXPORTER, &["--demo"], dir.path()).await;
    let exporter = running.addr.as_str();

    let metrics_job = doc_yaml_after("## Prometheus scrape configs");
    let probe_job = doc_yaml_after("<!-- probe-scrape-config");
    let config = format!(
        "global:\n  evaluation_interval: 1s\nscrape_configs:\n{}{}",
        fast(&scrape_configs_item(&metrics_job), exporter),
        fast(&scrape_configs_item(&probe_job), exporter)
    );
    let (_prometheus, url) = spawn_prometheus(dir.path(), &config).await;

    // Eventually, not at the first probe: the demo answers about one request in fifty after
    // 0.4–1.5 s, past a probe's 0.5 s budget (1 s scrape_timeout), so any one probe may show a
    // timeout; taking the first sample failed CI about one run in twenty.
    let probed = query_until(
        &url,
        "codearts_repo_statistics_up{job=\"codearts-repo-probe\"}",
        Duration::from_secs(40),
        |result| result.len() >= 3 && result.iter().all(|s| s["value"][1] == "1"),
    )
    .await;
    let mut seen: Vec<(String, String, String)> = probed
        .iter()
        .map(|s| {
            let m = &s["metric"];
            (
                m["instance"].as_str().unwrap_or("").to_owned(),
                m["repository_id"].as_str().unwrap_or("").to_owned(),
                s["value"][1].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        ["2111915001", "2111915002", "2111915003"]
            .iter()
            .map(|id| (id.to_string(), id.to_string(), "1".to_string()))
            .collect::<Vec<_>>(),
        "one series per probed id, instance = repository_id, up"
    );
    let self_metrics = prometheus_query(
        &url,
        "codearts_repo_exporter_build_info{job=\"codearts-repo-probe\"}",
    )
    .await
    .unwrap();
    assert!(self_metrics.is_empty(), "/probe carries no self metrics");

    let fanned = query_until(
        &url,
        "codearts_repo_statistics_up{job=\"codearts-repo-exporter\"}",
        Duration::from_secs(40),
        |result| result.len() >= 40,
    )
    .await;
    assert!(
        fanned.len() >= 40,
        "the /metrics job sees the demo's repositories: {}",
        fanned.len()
    );
    let up = prometheus_query(&url, "up{job=\"codearts-repo-exporter\"}")
        .await
        .unwrap();
    assert_eq!(up[0]["value"][1], "1");
}
