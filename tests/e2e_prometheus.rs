//! End to end with the real tools: the shipped rules pass `promtool`; a real Prometheus scraping
//! the exporter in `--demo` mode, with the shipped rules loaded, answers every dashboard query
//! with data; and an alert the demo provokes travels through a real Alertmanager to a webhook.
//!
//! Needs `prometheus`, `promtool` and `prometheus-alertmanager` (or `alertmanager`) on PATH;
//! fails, naming the package to install, when one is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::procs::{free_port, require_binary, Proc};
use serde_json::Value as Json;
use tempfile::TempDir;

const JOB: &str = "codearts-repo-exporter";
const SCRAPE_INTERVAL: &str = "2s";

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
const DEMO_CANNOT_PRODUCE: &[(&str, &str)] = &[];

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

fn promtool() -> PathBuf {
    require_binary(
        &["promtool"],
        "apt-get install -y prometheus (Debian/Ubuntu ship promtool in it)",
    )
}

// ---------------------------------------------------------------------------------------------
// promtool

#[test]
fn shipped_rules_pass_promtool_check_and_unit_tests() {
    let promtool = promtool();
    let check = Command::new(&promtool)
        .args(["check", "rules"])
        .arg(repo_file("dashboards/rules.yml"))
        .arg(repo_file("dashboards/alerts.yml"))
        .output()
        .expect("run promtool check rules");
    assert!(
        check.status.success(),
        "promtool check rules failed:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    // promtool resolves the test file's rule_files relative to the test file itself.
    let test = Command::new(&promtool)
        .args(["test", "rules"])
        .arg(repo_file("dashboards/tests/alerts_test.yml"))
        .output()
        .expect("run promtool test rules");
    assert!(
        test.status.success(),
        "promtool test rules failed:\n{}{}",
        String::from_utf8_lossy(&test.stdout),
        String::from_utf8_lossy(&test.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// the stack: exporter --demo, Prometheus, optionally Alertmanager

/// The demo exporter, listening on a free port; returns it with its `host:port`.
async fn start_exporter(dir: &Path) -> (Proc, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_codearts-repo-exporter"));
    cmd.args([
        "--demo",
        "--web.listen-address",
        &addr,
        "--log.level",
        "warn",
    ]);
    let mut exporter = Proc::spawn("exporter", &mut cmd, dir);
    exporter
        .wait_http_ok(&format!("http://{addr}/healthz"), Duration::from_secs(30))
        .await;
    (exporter, addr)
}

/// A Prometheus scraping `exporter` every [`SCRAPE_INTERVAL`] with `rule_files` loaded and, when
/// given, sending alerts to `alertmanager`. Returns it with its base URL.
async fn start_prometheus(
    dir: &Path,
    exporter: &str,
    rule_files: &[PathBuf],
    alertmanager: Option<&str>,
) -> (Proc, String) {
    let rules: Vec<String> = rule_files
        .iter()
        .map(|f| format!("  - {}\n", f.display()))
        .collect();
    let alerting = alertmanager
        .map(|am| {
            format!(
                "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{am}']\n"
            )
        })
        .unwrap_or_default();
    let config = format!(
        "global:\n  scrape_interval: {SCRAPE_INTERVAL}\n  scrape_timeout: {SCRAPE_INTERVAL}\n  evaluation_interval: 1s\n\
         rule_files:\n{}{alerting}\
         scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: ['{exporter}']\n",
        rules.concat()
    );
    common::spawn_prometheus(dir, &config).await
}

// ---------------------------------------------------------------------------------------------
// the dashboard against live data

fn dashboard() -> Json {
    serde_json::from_str(include_str!("../dashboards/codearts-repo-statistics.json"))
        .expect("dashboard JSON")
}

/// (panel title, expr) of every dashboard query.
fn dashboard_queries(d: &Json) -> Vec<(String, String)> {
    let mut panels: Vec<&Json> = Vec::new();
    for p in d["panels"].as_array().expect("panels") {
        panels.push(p);
        panels.extend(p["panels"].as_array().into_iter().flatten());
    }
    panels
        .into_iter()
        .flat_map(|p| {
            let title = p["title"].as_str().unwrap_or("").to_owned();
            p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(move |t| t["expr"].as_str().map(|e| (title.clone(), e.to_owned())))
        })
        .collect()
}

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
async fn every_dashboard_query_returns_data_from_the_demo() {
    let dir = TempDir::new().expect("temp dir");
    let (mut exporter, instance) = start_exporter(dir.path()).await;
    let rule_files = [
        repo_file("dashboards/rules.yml"),
        repo_file("dashboards/alerts.yml"),
    ];
    let (mut prometheus, url) = start_prometheus(dir.path(), &instance, &rule_files, None).await;
    let client = http();

    let d = dashboard();
    let queries: Vec<(String, String)> = dashboard_queries(&d)
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
    loop {
        exporter.assert_running();
        prometheus.assert_running();
        missing = Vec::new();
        for (title, expr) in &queries {
            match common::prometheus_query(&url, expr).await {
                Ok(r) if !r.is_empty() => {}
                Ok(_) => missing.push(format!("{title:?}: no data: {expr}")),
                Err(e) => missing.push(format!("{title:?}: query failed ({e}): {expr}")),
            }
        }
        for name in &recorded {
            match common::prometheus_query(&url, name).await {
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
        "all {} dashboard queries had data after {:?}",
        queries.len(),
        started.elapsed()
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
    let rules: Json = client
        .get(format!("{url}/api/v1/rules"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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

fn recorded_rule_names() -> Vec<String> {
    let rules: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(include_str!("../dashboards/rules.yml")).expect("rules.yml");
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
        serde_yaml_ng::from_str(include_str!("../dashboards/alerts.yml")).expect("alerts.yml");
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

/// A webhook receiver on a free port; every request body arrives on the returned channel.
async fn start_webhook() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use axum::{extract::State, routing::post, Router};
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    async fn receive(State(tx): State<tokio::sync::mpsc::UnboundedSender<String>>, body: String) {
        let _ = tx.send(body);
    }
    let app = Router::new().route("/alerts", post(receive)).with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind webhook");
    let url = format!(
        "http://{}/alerts",
        listener.local_addr().expect("webhook address")
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, rx)
}

async fn start_alertmanager(dir: &Path, webhook: &str) -> (Proc, String) {
    let binary = require_binary(
        &["prometheus-alertmanager", "alertmanager"],
        "apt-get install -y prometheus-alertmanager (or alertmanager from prometheus.io)",
    );
    let config = format!(
        "route:\n  receiver: webhook\n  group_by: [alertname, repository_id]\n  group_wait: 1s\n  \
         group_interval: 1s\n  repeat_interval: 1h\n\
         receivers:\n  - name: webhook\n    webhook_configs:\n      - url: {webhook}\n        send_resolved: false\n"
    );
    let config_file = dir.join("alertmanager.yml");
    std::fs::write(&config_file, config).expect("write alertmanager.yml");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(binary);
    cmd.arg(format!("--config.file={}", config_file.display()))
        .arg(format!(
            "--storage.path={}",
            dir.join("alertmanager").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--cluster.listen-address=")
        .arg("--log.level=warn");
    let mut proc = Proc::spawn("alertmanager", &mut cmd, dir);
    proc.wait_http_ok(&format!("http://{addr}/-/ready"), Duration::from_secs(30))
        .await;
    (proc, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_auth_failure_reaches_the_alertmanager_webhook() {
    let dir = TempDir::new().expect("temp dir");
    let (webhook, mut deliveries) = start_webhook().await;
    let (mut alertmanager, am_addr) = start_alertmanager(dir.path(), &webhook).await;
    let (mut exporter, instance) = start_exporter(dir.path()).await;
    let rule_files = [
        repo_file("dashboards/rules.yml"),
        alerts_with_short_for(dir.path(), "2s"),
    ];
    let (mut prometheus, _url) =
        start_prometheus(dir.path(), &instance, &rule_files, Some(&am_addr)).await;

    // The demo's repository `platform/service-mesh` always answers 401 (src/sim/faults.rs), so
    // CodeArtsRepoStatisticsAuthFailing fires for it.
    let wanted = "CodeArtsRepoStatisticsAuthFailing";
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut seen = Vec::new();
    let alert = loop {
        for p in [&mut alertmanager, &mut exporter, &mut prometheus] {
            p.assert_running();
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        assert!(
            !remaining.is_zero(),
            "no {wanted} alert reached the webhook within 90 s; payload alert names seen: {seen:?}\nprometheus log:\n{}",
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
        let found = payload["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| {
                seen.push(a["labels"]["alertname"].as_str().unwrap_or("").to_owned());
                a["labels"]["alertname"] == wanted && a["labels"]["class"] == "unauthorized"
            });
        if let Some(a) = found {
            break a.clone();
        }
    };

    let labels = &alert["labels"];
    let repository = "platform/service-mesh";
    assert_eq!(labels["repository"], repository, "{alert}");
    assert_eq!(labels["repository_id"], "2111915005", "{alert}");
    assert_eq!(labels["severity"], "critical");
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
