//! End to end with the real tools: the shipped rules pass `promtool`; a real Prometheus scraping
//! the exporter in `--demo` mode, with the shipped rules loaded, answers every dashboard query
//! with data (the change-driven refresh row's, from an exporter with `refresh.mode: on_change`
//! against a simulator with activity); an alert the demo provokes travels through a real Alertmanager to a webhook; in
//! mixed mode (the `/metrics` job plus the README's `/probe` job, one probed repository failing)
//! the mass-failure alert stays silent while the per-repository alert fires, and the dashboard
//! counts each repository and exporter once; and the minimal `metrics.disable` preset leaves a
//! healthy demo repository 5 of its 15 series (a discovered one 6 of 16).
//!
//! Needs `prometheus`, `promtool` and `prometheus-alertmanager` (or `alertmanager`) on PATH;
//! fails, naming the package to install, when one is missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::helpers::procs::{require_binary, Proc};
use crate::helpers::*;
use serde_json::Value as Json;
use tempfile::TempDir;

/// How a dashboard query's Grafana variables are filled in. `$job` and `$instance` are set per
/// run; `$__rate_interval` needs two scrapes inside it, which 1m gives after the second scrape.
const GRAFANA_VARIABLES: &[(&str, &str)] = &[
    ("$__rate_interval", "1m"),
    ("$__interval", "2s"),
    ("$__range", "5m"),
    ("$repository", ".*"),
];

/// Dashboard queries the demo cannot give data for, with the reason: (substring of the expr,
/// why). Keep it empty unless the simulator truly cannot produce the series.
const DEMO_CANNOT_PRODUCE: &[(&str, &str)] = &[
    (
        "codearts_repo_exporter_requests_saved_total",
        "the demo refreshes at every scrape; every_change_driven_refresh_query_returns_data proves it",
    ),
    (
        "codearts_repo_exporter_refresh_requests_total",
        "the same: change-driven refresh only",
    ),
    (
        "codearts_repo_exporter_listing_",
        "the same: change-driven refresh only",
    ),
];

fn promtool() -> PathBuf {
    require_binary(
        &["promtool"],
        "apt-get install -y prometheus (Debian/Ubuntu ship promtool in it)",
    )
}

// ---------------------------------------------------------------------------------------------
// promtool

#[test]
#[ignore = "needs promtool (apt-get install prometheus); scripts/test-all.sh runs it"]
fn shipped_rules_pass_promtool_check_and_unit_tests() {
    assert_promtool_passes(
        "check rules",
        &["dashboards/rules.yml", "dashboards/alerts.yml"],
    );
    // promtool resolves the test file's rule_files relative to the test file itself.
    assert_promtool_passes("test rules", &["dashboards/tests/alerts_test.yml"]);
}

/// Runs `promtool <command> <files…>` (files of this repository); fails the test with
/// promtool's output unless it succeeds.
fn assert_promtool_passes(command: &str, files: &[&str]) {
    let output = Command::new(promtool())
        .args(command.split(' '))
        .args(files.iter().map(|file| repo_file(file)))
        .output()
        .unwrap_or_else(|err| panic!("run promtool {command}: {err}"));
    assert!(
        output.status.success(),
        "promtool {command} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// the stack: exporter --demo, Prometheus, optionally Alertmanager

/// The demo exporter, listening on a free port; returns it with its `host:port`.
async fn start_exporter(dir: &Path) -> (Proc, String) {
    let exporter = spawn_exporter(EXPORTER, &["--demo"], dir).await;
    (exporter.proc, exporter.addr)
}

// ---------------------------------------------------------------------------------------------
// the dashboard against live data

/// `expr` with the dashboard variables filled in for this run.
fn substitute(expr: &str, instance: &str) -> String {
    let mut out = expr.to_owned();
    let mut vars: Vec<(String, String)> = GRAFANA_VARIABLES
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    vars.push(("$job".into(), JOB.into()));
    vars.push(("$instance".into(), instance.replace('.', "\\\\.")));
    for (name, value) in vars {
        out = out
            .replace(&format!("${{{}}}", &name[1..]), &value)
            .replace(&name, &value);
    }
    assert!(
        !out.contains('$'),
        "a variable is left unsubstituted in {out}"
    );
    out
}

/// `label_values(selector, label)` of the dashboard's query variables, substituted.
fn variable_queries(d: &Json, instance: &str) -> Vec<(String, String, String)> {
    d["templating"]["list"]
        .as_array()
        .expect("templating.list")
        .iter()
        .filter(|v| v["type"] == "query")
        .map(|v| {
            let q = v["query"]["query"].as_str().expect("query.query");
            let inner = q
                .strip_prefix("label_values(")
                .and_then(|q| q.strip_suffix(')'))
                .expect("label_values(..)");
            let (selector, label) = inner
                .rsplit_once(',')
                .expect("label_values(selector, label)");
            let name = v["name"].as_str().unwrap_or("").to_owned();
            (
                name,
                substitute(selector.trim(), instance),
                label.trim().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus (apt-get install prometheus); scripts/test-all.sh runs it"]
async fn every_dashboard_query_returns_data_from_the_demo() {
    let dir = TempDir::new().expect("temp dir");
    let (mut exporter, instance) = start_exporter(dir.path()).await;
    let rule_files = [
        repo_file("dashboards/rules.yml"),
        repo_file("dashboards/alerts.yml"),
    ];
    let (mut prometheus, url) =
        start_prometheus(dir.path(), &instance, &rule_files, None, &[]).await;
    let client = http();

    let d = dashboard();
    let queries: Vec<(String, String)> = exprs(&d)
        .into_iter()
        .filter(|(_, e)| !DEMO_CANNOT_PRODUCE.iter().any(|(part, _)| e.contains(part)))
        .map(|(t, e)| (t, substitute(&e, &instance)))
        .collect();
    assert!(
        queries.len() >= 20,
        "found only {} dashboard queries",
        queries.len()
    );
    let recorded: Vec<String> = recorded_rule_names();

    // Poll until everything has data: as short as the demo allows, bounded.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(100);
    let mut missing: Vec<String>;
    let mut waiting_for_last_push: Vec<&str>;
    loop {
        exporter.assert_running();
        prometheus.assert_running();
        missing = Vec::new();
        waiting_for_last_push = Vec::new();
        let last_push_exposed = lag_series_exist(&url).await;
        for (title, expr) in &queries {
            match prometheus_query(&url, expr).await {
                Ok(r) if !r.is_empty() => {}
                Ok(_) if !last_push_exposed && NEED_LAST_PUSH_DATA.contains(&title.as_str()) => {
                    waiting_for_last_push.push(title)
                }
                Ok(_) => missing.push(format!("{title:?}: no data: {expr}")),
                Err(e) => missing.push(format!("{title:?}: query failed ({e}): {expr}")),
            }
        }
        for name in &recorded {
            match prometheus_query(&url, name).await {
                Ok(r) if !r.is_empty() => {}
                Ok(_) => missing.push(format!("recording rule {name}: no data")),
                Err(e) => missing.push(format!("recording rule {name}: {e}")),
            }
        }
        if missing.is_empty() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    assert!(
        missing.is_empty(),
        "after {:?} of scraping the demo, {} queries still fail:\n{}\nexporter log:\n{}",
        started.elapsed(),
        missing.len(),
        missing.join("\n"),
        exporter.log_tail(20)
    );
    eprintln!(
        "all {} dashboard queries had data after {:?}, but for {:?}: the exporter exposes no \
         codearts_repo_statistics_lag_seconds yet",
        queries.len(),
        started.elapsed(),
        waiting_for_last_push
    );

    // Template variables list values.
    for (name, selector, label) in variable_queries(&d, &instance) {
        let answer: Json = client
            .get(format!("{url}/api/v1/label/{label}/values"))
            .query(&[("match[]", selector.as_str())])
            .send()
            .await
            .expect("label values request")
            .json()
            .await
            .expect("label values JSON");
        let values = answer["data"].as_array().map(Vec::len).unwrap_or(0);
        assert!(
            values > 0,
            "variable {name}: label_values({selector}, {label}) is empty: {answer}"
        );
    }

    // Every shipped rule evaluates without error against real series (e.g. no many-to-many match).
    let rules: Json = json_of(client.get(format!("{url}/api/v1/rules"))).await;
    let groups = rules["data"]["groups"].as_array().expect("rule groups");
    assert_eq!(
        groups.len(),
        4,
        "Prometheus loaded all shipped rule groups: {rules}"
    );
    for g in groups {
        for r in g["rules"].as_array().into_iter().flatten() {
            assert_ne!(
                r["health"], "err",
                "rule {} fails: {}",
                r["name"], r["lastError"]
            );
        }
    }
}

/// Whether the Prometheus at `url` holds any `codearts_repo_statistics_lag_seconds` series.
async fn lag_series_exist(url: &str) -> bool {
    prometheus_query(url, "count(codearts_repo_statistics_lag_seconds)")
        .await
        .map(|r| !r.is_empty())
        .unwrap_or(false)
}

fn recorded_rule_names() -> Vec<String> {
    let rules: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(include_str!("../../dashboards/rules.yml")).expect("rules.yml");
    rules["groups"]
        .as_sequence()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_sequence().into_iter().flatten())
        .filter_map(|r| r["record"].as_str().map(str::to_owned))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// an alert through Alertmanager

/// A copy of the shipped alerts.yml with every `for` shortened to `for_`, so an alert fires within
/// seconds; the shipped file stays untouched.
fn alerts_with_short_for(dir: &Path, for_: &str) -> PathBuf {
    let mut alerts: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(include_str!("../../dashboards/alerts.yml")).expect("alerts.yml");
    for group in alerts["groups"].as_sequence_mut().expect("groups") {
        for rule in group["rules"].as_sequence_mut().expect("rules") {
            if let Some(map) = rule.as_mapping_mut() {
                if map.contains_key("for") {
                    map.insert("for".into(), for_.into());
                }
            }
        }
    }
    let path = dir.join("alerts-short-for.yml");
    std::fs::write(
        &path,
        serde_yaml_ng::to_string(&alerts).expect("serialize alerts"),
    )
    .expect("write alerts");
    path
}

/// A real Alertmanager routing every alert to `webhook` within a second, without "resolved".
async fn start_alertmanager(dir: &Path, webhook: &str) -> (Proc, String) {
    let config = format!(
        "route:\n  receiver: webhook\n  group_by: [alertname, repository_id]\n  group_wait: 1s\n  \
         group_interval: 1s\n  repeat_interval: 1h\n\
         receivers:\n  - name: webhook\n    webhook_configs:\n      - url: {webhook}\n        send_resolved: false\n"
    );
    spawn_alertmanager(dir, &config).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus, promtool and alertmanager (apt-get install prometheus prometheus-alertmanager); scripts/test-all.sh runs it"]
async fn demo_auth_failure_and_statistics_behind_code_reach_the_alertmanager_webhook() {
    let dir = TempDir::new().expect("temp dir");
    let (webhook, mut deliveries) = start_webhook().await;
    let (mut alertmanager, am_addr) = start_alertmanager(dir.path(), &webhook).await;
    let (mut exporter, instance) = start_exporter(dir.path()).await;
    let rule_files = [
        repo_file("dashboards/rules.yml"),
        alerts_with_short_for(dir.path(), "2s"),
    ];
    let (mut prometheus, _url) =
        start_prometheus(dir.path(), &instance, &rule_files, Some(&am_addr), &[]).await;

    // The demo's repository `platform/service-mesh` always answers 401 (the simulator's faults
    // table, crates/codearts-sim/src/faults.rs), so CodeArtsRepoStatisticsAuthFailing fires for
    // it; `infra/terraform-modules` and `iot/telemetry-collector` ran statistics days ago and
    // were pushed to within the hour (crates/codearts-sim/src/answers.rs), so with the demo's
    // last_push CodeArtsRepoStatisticsBehindCode fires for whichever may start a run now.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    let (mut auth_failing, mut behind_code) = (None, None);
    while auth_failing.is_none() || behind_code.is_none() {
        for p in [&mut alertmanager, &mut exporter, &mut prometheus] {
            p.assert_running();
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        assert!(
            !remaining.is_zero(),
            "AuthFailing {} and BehindCode {} did not both reach the webhook within 120 s; payload alert names seen: {seen:?}\nprometheus log:\n{}",
            auth_failing.is_some(),
            behind_code.is_some(),
            prometheus.log_tail(20)
        );
        let Ok(Some(body)) =
            tokio::time::timeout(remaining.min(Duration::from_secs(5)), deliveries.recv()).await
        else {
            continue;
        };
        let payload: Json = serde_json::from_str(&body).expect("webhook payload is JSON");
        assert_eq!(
            payload["version"], "4",
            "Alertmanager webhook payload version"
        );
        for a in payload["alerts"].as_array().into_iter().flatten() {
            let name = a["labels"]["alertname"].as_str().unwrap_or("").to_owned();
            if name == "CodeArtsRepoStatisticsAuthFailing" && a["labels"]["class"] == "unauthorized"
            {
                auth_failing = Some(a.clone());
            }
            if name == "CodeArtsRepoStatisticsBehindCode" {
                behind_code = Some(a.clone());
            }
            seen.push(name);
        }
    }
    let behind = behind_code.expect("seen");
    assert!(
        ["2111915017", "2111915043"]
            .contains(&behind["labels"]["repository_id"].as_str().unwrap_or("")),
        "{behind}"
    );
    assert_eq!(behind["labels"]["severity"], "warning", "{behind}");
    assert_eq!(behind["status"], "firing");
    assert!(
        behind["annotations"]["runbook_url"]
            .as_str()
            .unwrap_or("")
            .ends_with("RUNBOOK.md#codeartsrepostatisticsbehindcode"),
        "{behind}"
    );
    let alert = auth_failing.expect("seen");

    let labels = &alert["labels"];
    let repository = "platform/service-mesh";
    assert_eq!(labels["repository"], repository, "{alert}");
    assert_eq!(labels["repository_id"], "2111915005", "{alert}");
    assert_eq!(
        labels["severity"], "warning",
        "one denied repository is not a page"
    );
    assert_eq!(labels["job"], JOB);
    assert_eq!(labels["instance"], instance.as_str());
    assert_eq!(alert["status"], "firing");
    assert_eq!(
        alert["annotations"]["summary"],
        format!("CodeArts Repo denies the exporter access to {repository} (unauthorized).")
            .as_str()
    );
    assert!(
        alert["annotations"]["runbook_url"]
            .as_str()
            .unwrap_or("")
            .ends_with("RUNBOOK.md#codeartsrepostatisticsauthfailing"),
        "{alert}"
    );
}

// ---------------------------------------------------------------------------------------------
// /metrics and /probe at once (mixed mode), with the README's probe relabelling

const PROBE_JOB: &str = "codearts-repo-probe";

/// The demo repository that always answers 404 (the simulator's faults table,
/// crates/codearts-sim/src/faults.rs: tools/release-bot).
const NOT_FOUND_ID: &str = "2111915047";

/// Nineteen demo repositories without an injected fault, probed next to [`NOT_FOUND_ID`]: one
/// failing repository of twenty, 5 %.
const HEALTHY_PROBED_IDS: [&str; 19] = [
    "2111915001",
    "2111915002",
    "2111915003",
    "2111915004",
    "2111915006",
    "2111915007",
    "2111915008",
    "2111915010",
    "2111915011",
    "2111915013",
    "2111915014",
    "2111915016",
    "2111915017",
    "2111915018",
    "2111915020",
    "2111915021",
    "2111915023",
    "2111915024",
    "2111915025",
];

/// The README's /probe job as written, pointed at `exporter`, probing `ids`, every 2 s.
fn readme_probe_job(exporter: &str, ids: &[&str]) -> String {
    let yaml = doc_yaml_after("<!-- probe-scrape-config");
    let job: String = yaml
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("- job_name"))
        .map(|l| format!("{l}\n"))
        .collect();
    let targets = format!(
        "[{}]",
        ids.iter()
            .map(|id| format!("'{id}'"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut out = job;
    for (from, to) in [
        ("codearts-exporter.example:9825", exporter),
        (
            "['2111915001', '2111915002', '2111915003']",
            targets.as_str(),
        ),
        ("scrape_interval: 60s", "scrape_interval: 2s"),
        ("scrape_timeout: 10s", "scrape_timeout: 2s"),
    ] {
        assert!(
            out.contains(from),
            "README's probe job no longer contains {from:?}:\n{out}"
        );
        out = out.replace(from, to);
    }
    assert!(
        out.contains(&format!("job_name: {PROBE_JOB}")),
        "README's probe job: {out}"
    );
    out
}

fn single_value(result: &[Json]) -> f64 {
    assert_eq!(result.len(), 1, "one sample expected: {result:?}");
    result[0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("not a number: {result:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus (apt-get install prometheus); scripts/test-all.sh runs it"]
async fn mixed_mode_one_failing_probe_alerts_per_repository_not_as_a_mass_failure() {
    let dir = TempDir::new().expect("temp dir");
    let (mut exporter, instance) = start_exporter(dir.path()).await;
    let mut probed: Vec<&str> = HEALTHY_PROBED_IDS.to_vec();
    probed.push(NOT_FOUND_ID);
    let alerts = alerts_with_short_for(dir.path(), "2s");
    // Another job whose target is up, as every real Prometheus has: the dashboard's "All" must not
    // count it.
    let other = start_other_target().await;
    let config = format!(
        "global:\n  scrape_interval: {SCRAPE_INTERVAL}\n  scrape_timeout: {SCRAPE_INTERVAL}\n  evaluation_interval: 1s\n\
         rule_files:\n  - {}\n  - {}\n\
         scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: ['{instance}']\n\
         {}  - job_name: node\n    static_configs:\n      - targets: ['{other}']\n",
        repo_file("dashboards/rules.yml").display(),
        alerts.display(),
        readme_probe_job(&instance, &probed),
    );
    let (mut prometheus, url) = spawn_prometheus(dir.path(), &config).await;

    // The per-repository alert of the probed repository fires (after `for` = 2 s).
    let probe_alert = format!(
        "ALERTS{{alertname=\"CodeArtsRepoStatisticsNotFound\",alertstate=\"firing\",job=\"{PROBE_JOB}\",repository_id=\"{NOT_FOUND_ID}\"}}"
    );
    let fired = query_until(&url, &probe_alert, Duration::from_secs(90), |r| {
        !r.is_empty()
    })
    .await;
    exporter.assert_running();
    prometheus.assert_running();
    assert_eq!(
        fired.len(),
        1,
        "the probed not_found repository raises CodeArtsRepoStatisticsNotFound\nprometheus log:\n{}",
        prometheus.log_tail(20)
    );
    let labels = &fired[0]["metric"];
    assert_eq!(labels["exporter"], instance.as_str(), "{labels}");
    assert_eq!(labels["instance"], NOT_FOUND_ID, "{labels}");
    assert_eq!(labels["repository"], "tools/release-bot", "{labels}");
    // The /metrics job reads the same repository and raises its own alert, with its own job.
    let metrics_alert = query_until(
        &url,
        &format!("ALERTS{{alertname=\"CodeArtsRepoStatisticsNotFound\",alertstate=\"firing\",job=\"{JOB}\",repository_id=\"{NOT_FOUND_ID}\"}}"),
        Duration::from_secs(30),
        |r| !r.is_empty(),
    )
    .await;
    assert_eq!(
        metrics_alert.len(),
        1,
        "the /metrics job's alert for the same repository"
    );

    // The probe job is one group of twenty repositories behind one exporter, not twenty groups.
    let repositories = prometheus_query(
        &url,
        &format!("job_exporter:codearts_repo_statistics_repositories:count{{job=\"{PROBE_JOB}\"}}"),
    )
    .await
    .expect("query");
    assert_eq!(single_value(&repositories), 20.0, "{repositories:?}");
    assert_eq!(repositories[0]["metric"]["exporter"], instance.as_str());
    let ratio = single_value(
        &prometheus_query(
            &url,
            &format!("job_exporter:codearts_repo_statistics_failing:ratio{{job=\"{PROBE_JOB}\"}}"),
        )
        .await
        .expect("query"),
    );
    // 1 of 20; a demo answer slower than the probe's budget may add a timeout now and then.
    assert!(
        (0.05..0.2).contains(&ratio),
        "probe group failing ratio {ratio}"
    );

    // The mass-failure alert never even went pending, for any group (with the old per-instance
    // rules it fired for the probed not_found repository as "100 % failing").
    let mass = prometheus_query(
        &url,
        "max_over_time(ALERTS{alertname=\"CodeArtsRepoStatisticsAllFailing\"}[10m])",
    )
    .await
    .expect("query");
    assert!(
        mass.is_empty(),
        "CodeArtsRepoStatisticsAllFailing: {mass:?}"
    );

    // The dashboard, with its variables set as Grafana would: Job "All" = the listed jobs.
    mixed_mode_dashboard_counts_each_repository_once(&url, &instance).await;
}

/// A scrape target of another job (`host:port`), always up.
async fn start_other_target() -> String {
    use axum::{routing::get, Router};
    let app = Router::new().route(
        "/metrics",
        get(|| async { "# TYPE node_boot_time_seconds gauge\nnode_boot_time_seconds 1\n" }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind other target");
    let addr = listener
        .local_addr()
        .expect("other target address")
        .to_string();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// The dashboard's job list in mixed mode, and what its overview shows for "All".
async fn mixed_mode_dashboard_counts_each_repository_once(url: &str, instance: &str) {
    let d = dashboard();
    let job_variable = d["templating"]["list"]
        .as_array()
        .expect("templating.list")
        .iter()
        .find(|v| v["name"] == "job")
        .expect("job variable");
    let query = job_variable["query"]["query"].as_str().expect("job query");
    let selector = query
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(", job)"))
        .expect("label_values(selector, job)");
    let answer: Json = http()
        .get(format!("{url}/api/v1/label/job/values"))
        .query(&[("match[]", selector)])
        .send()
        .await
        .expect("label values")
        .json()
        .await
        .expect("label values JSON");
    let mut jobs: Vec<String> = answer["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|j| j.as_str().map(str::to_owned))
        .collect();
    jobs.sort();
    assert_eq!(
        jobs,
        [JOB, PROBE_JOB],
        "the Job variable lists the /metrics and /probe jobs, not the node job"
    );
    // Grafana's "All" without a custom all value: the listed values as a regex alternation.
    let all_jobs = format!("({})", jobs.join("|"));
    let stat = |title: &str| -> String {
        let expr = exprs(&d)
            .into_iter()
            .find(|(t, _)| t == title)
            .unwrap_or_else(|| panic!("no panel {title:?}"))
            .1;
        expr.replace("$job", &all_jobs)
            .replace("$instance", ".+")
            .replace("$repository", ".*")
    };
    let metrics_repositories = single_value(
        &prometheus_query(
            url,
            &format!("count(codearts_repo_statistics_up{{job=\"{JOB}\"}})"),
        )
        .await
        .expect("query"),
    );
    let watched = single_value(
        &prometheus_query(url, &stat("Repositories watched"))
            .await
            .expect("query"),
    );
    assert_eq!(
        watched, metrics_repositories,
        "the 20 probed repositories are also in the demo's /metrics list: counted once"
    );
    let other_up = single_value(
        &prometheus_query(url, "up{job=\"node\"}")
            .await
            .expect("query"),
    );
    assert_eq!(
        other_up, 1.0,
        "the node job's target is up, so counting it would show"
    );
    let targets_up = single_value(
        &prometheus_query(url, &stat("Exporter targets up"))
            .await
            .expect("query"),
    );
    assert_eq!(
        targets_up, 1.0,
        "one exporter target ({instance}); not the 20 probe targets, not the node job's target"
    );
}

// ---------------------------------------------------------------------------------------------
// the change-driven refresh row against a change-driven exporter

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus (apt-get install prometheus); scripts/test-all.sh runs it"]
async fn every_change_driven_refresh_query_returns_data() {
    let dir = TempDir::new().expect("temp dir");
    // 200 repositories, a tenth of them pushed to a minute: some changed, most saved.
    let (_sim, endpoint) = spawn_sim(
        SIMULATOR,
        &[
            "--answers",
            "uniform",
            "--repositories",
            "200",
            "--latency",
            "0ms",
            "--pushes-per-minute",
            "0.1",
        ],
        dir.path(),
    )
    .await;
    let ids: Vec<u32> = (0..200).map(|i| codearts_sim::FIRST_ID + i).collect();
    let yaml = sim_config(&endpoint, &ids, "refresh:\n  mode: on_change\n");
    let mut exporter = spawn_exporter_with_config(EXPORTER, &yaml, dir.path()).await;
    let (mut prometheus, url) = start_prometheus(dir.path(), &exporter.addr, &[], None, &[]).await;

    let queries: Vec<(String, String)> = exprs(&dashboard())
        .into_iter()
        .filter(|(_, e)| DEMO_CANNOT_PRODUCE.iter().any(|(part, _)| e.contains(part)))
        .map(|(t, e)| (t, substitute(&e, &exporter.addr)))
        .collect();
    assert!(queries.len() >= 4, "the refresh row's queries: {queries:?}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let missing = loop {
        exporter.proc.assert_running();
        prometheus.assert_running();
        let mut missing = Vec::new();
        for (title, expr) in &queries {
            match prometheus_query(&url, expr).await {
                Ok(r) if !r.is_empty() => {}
                Ok(_) => missing.push(format!("{title:?}: no data: {expr}")),
                Err(e) => missing.push(format!("{title:?}: query failed ({e}): {expr}")),
            }
        }
        if missing.is_empty() || Instant::now() > deadline {
            break missing;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    assert!(
        missing.is_empty(),
        "{} refresh queries still fail:\n{}",
        missing.len(),
        missing.join("\n")
    );
}
