//! End to end with a real Alertmanager and a real Prometheus: the shipped inhibit rules
//! (`dashboards/alertmanager.yml`) quiet what their source alert explains and nothing else, and
//! an exporter killed while its repository alerts fire makes Alertmanager send no "resolved" for
//! them while it is down.
//!
//! The outage test runs the shipped rules with every duration of the alerting timeline divided by
//! [`TIME_SCALE`], so a minute of theirs is a second here: `for`, `keep_firing_for` and range
//! windows in the rule files, and the scrape and evaluation intervals, the lookback and resend
//! delay of Prometheus, the timers of Alertmanager. What is under test is how those durations
//! relate (an alert must outlive its series until CodeArtsRepoExporterDown fires and inhibits
//! it), which the division keeps; every other character of the rules is the shipped text.
//!
//! Needs `prometheus`, `amtool` and `prometheus-alertmanager` (or `alertmanager`) on PATH; fails,
//! naming the package to install, when one is missing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::helpers::procs::{require_binary, run_ok};
use crate::helpers::*;
use regex::Regex;
use serde_json::{json, Value as Json};
use serde_yaml_ng::Value as Yaml;
use tempfile::TempDir;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const ALERTMANAGER_CONFIG: &str = "dashboards/alertmanager.yml";

/// How much faster than the shipped rules the outage test runs: a minute becomes a second.
const TIME_SCALE: u64 = 60;

// ---------------------------------------------------------------------------------------------
// the shipped Alertmanager config

#[test]
#[ignore = "needs amtool (apt-get install prometheus-alertmanager); scripts/test-all.sh runs it"]
fn shipped_alertmanager_config_passes_amtool() {
    let amtool = require_binary(&["amtool"], "apt-get install -y prometheus-alertmanager");
    run_ok(
        Command::new(amtool)
            .arg("check-config")
            .arg(repo_file(ALERTMANAGER_CONFIG)),
    );
}

/// An alert named `alertname` with `labels` (`key=value`, separated by spaces) as Prometheus
/// sends it to Alertmanager: firing for the next hour.
fn alert(alertname: &str, labels: &str) -> Json {
    let mut map = serde_json::Map::new();
    map.insert("alertname".into(), json!(alertname));
    for pair in labels.split_whitespace() {
        let (key, value) = pair.split_once('=').expect("key=value");
        map.insert(key.into(), json!(value));
    }
    let now = OffsetDateTime::now_utc();
    json!({
        "labels": map,
        "startsAt": now.format(&Rfc3339).expect("format time"),
        "endsAt": (now + time::Duration::hours(1)).format(&Rfc3339).expect("format time"),
    })
}

/// Posts `alerts` to a real Alertmanager running the shipped config as it is, and asserts that
/// exactly the `expected` ones are inhibited, each named by its `alertname` and its `key` label.
///
/// Alertmanager's inhibitor takes in posted alerts a moment after it accepts them, so the
/// answer is read again for up to five seconds until it matches.
async fn assert_inhibited(alerts: &[Json], key: &str, expected: &[&str]) {
    let dir = TempDir::new().expect("temp dir");
    let (mut alertmanager, addr) = spawn_alertmanager(dir.path(), &read(ALERTMANAGER_CONFIG)).await;
    let client = http();
    let posted = client
        .post(format!("http://{addr}/api/v2/alerts"))
        .json(&alerts)
        .send()
        .await
        .expect("post alerts");
    assert!(posted.status().is_success(), "{}", posted.status());
    let expected: BTreeSet<String> = expected.iter().map(|e| e.to_string()).collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let listed: Json = json_of(client.get(format!("http://{addr}/api/v2/alerts"))).await;
        alertmanager.assert_running();
        let listed = listed.as_array().expect("a list of alerts");
        assert_eq!(listed.len(), alerts.len(), "every posted alert is listed");
        let inhibited: BTreeSet<String> = listed
            .iter()
            .filter(|a| {
                a["status"]["inhibitedBy"]
                    .as_array()
                    .is_some_and(|by| !by.is_empty())
            })
            .map(|a| format!("{} {}", name(a), a["labels"][key].as_str().unwrap_or("")))
            .collect();
        if inhibited == expected || Instant::now() > deadline {
            assert_eq!(inhibited, expected);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs alertmanager (apt-get install prometheus-alertmanager); scripts/test-all.sh runs it"]
async fn exporter_down_and_all_failing_quiet_their_exporters_alerts_only() {
    // /metrics exporter a is down; /probe exporter x is down; /metrics exporter b and the /probe
    // group of exporter y fail nearly everything. Each alert's `case` label names it below.
    let alerts = [
        alert("CodeArtsRepoExporterDown", "job=codearts-repo-exporter instance=a:9825"),
        alert("CodeArtsRepoExporterDown", "job=codearts-repo-probe exporter=x:9825"),
        alert("CodeArtsRepoStatisticsAllFailing", "job=codearts-repo-exporter instance=b:9825 exporter=b:9825"),
        alert("CodeArtsRepoStatisticsAllFailing", "job=codearts-repo-probe-2 exporter=y:9825"),
        alert("CodeArtsRepoStatisticsAuthFailing", "case=metrics-a job=codearts-repo-exporter instance=a:9825 repository_id=1 class=forbidden"),
        alert("CodeArtsRepoExporterConfigReloadFailed", "case=metrics-a job=codearts-repo-exporter instance=a:9825"),
        alert("CodeArtsRepoStatisticsNotFound", "case=metrics-c job=codearts-repo-exporter instance=c:9825 repository_id=2 class=not_found"),
        alert("CodeArtsRepoStatisticsNotFound", "case=probe-x job=codearts-repo-probe instance=3 exporter=x:9825 repository_id=3 class=not_found"),
        alert("CodeArtsRepoStatisticsNotFound", "case=probe-z job=codearts-repo-probe instance=4 exporter=z:9825 repository_id=4 class=not_found"),
        alert("CodeArtsRepoStatisticsFailing", "case=metrics-b job=codearts-repo-exporter instance=b:9825 repository_id=5 class=timeout"),
        alert("CodeArtsRepoExporterScrapeNearTimeout", "case=metrics-b job=codearts-repo-exporter instance=b:9825 exporter=b:9825"),
        alert("CodeArtsRepoStatisticsFailing", "case=probe-y job=codearts-repo-probe-2 instance=6 exporter=y:9825 repository_id=6 class=server_error"),
        alert("CodeArtsRepoStatisticsFailing", "case=probe-w job=codearts-repo-probe-2 instance=7 exporter=w:9825 repository_id=7 class=server_error"),
        alert("CodeArtsRepoStatisticsStale", "case=repository-8 repository_id=8"),
    ];
    // Not inhibited: the sources themselves, exporter c's and z's and w's alerts (their exporters
    // are fine), and the near-timeout alert of b, which a mass failure does not explain.
    let expected = [
        "CodeArtsRepoStatisticsAuthFailing metrics-a",
        "CodeArtsRepoExporterConfigReloadFailed metrics-a",
        "CodeArtsRepoStatisticsNotFound probe-x",
        "CodeArtsRepoStatisticsFailing metrics-b",
        "CodeArtsRepoStatisticsFailing probe-y",
        "CodeArtsRepoStatisticsStale repository-8",
    ];
    assert_inhibited(&alerts, "case", &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs alertmanager (apt-get install prometheus-alertmanager); scripts/test-all.sh runs it"]
async fn a_failing_repository_quiets_its_own_repository_alerts_only() {
    let alerts = [
        alert(
            "CodeArtsRepoStatisticsAuthFailing",
            "job=codearts-repo-exporter instance=a:9825 repository_id=9 class=forbidden",
        ),
        alert("CodeArtsRepoStatisticsStale", "repository_id=9"),
        alert("CodeArtsRepoStatisticsBlocked", "repository_id=9"),
        alert("CodeArtsRepoStatisticsBehindCode", "repository_id=10"),
    ];
    let expected = [
        "CodeArtsRepoStatisticsStale 9",
        "CodeArtsRepoStatisticsBlocked 9",
    ];
    assert_inhibited(&alerts, "repository_id", &expected).await;
}

// ---------------------------------------------------------------------------------------------
// the exporter dies while its alerts fire

/// `duration` (Prometheus' syntax: `90s`, `15m`, `24h`, `7d`) divided by [`TIME_SCALE`], in
/// milliseconds.
fn scaled(duration: &str) -> String {
    let shape = Regex::new(r"^(\d+)(ms|s|m|h|d|w)$").expect("regex");
    let parts = shape
        .captures(duration)
        .unwrap_or_else(|| panic!("a duration this test cannot scale: {duration:?}"));
    let n: u64 = parts[1].parse().expect("a number");
    let millis = n * match &parts[2] {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => 7 * 86_400_000,
    };
    format!("{}ms", millis / TIME_SCALE)
}

/// A copy of the shipped rule file `file` in `dir` with every `for`, `keep_firing_for` and range
/// window [`scaled`].
fn scaled_rule_file(dir: &Path, file: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo_file(file)).expect("rule file");
    let mut rules: Yaml = serde_yaml_ng::from_str(&text).expect("rule file YAML");
    let range = Regex::new(r"\[(\d+(?:ms|s|m|h|d|w))\]").expect("regex");
    for group in rules["groups"].as_sequence_mut().expect("groups") {
        for rule in group["rules"].as_sequence_mut().expect("rules") {
            let rule = rule.as_mapping_mut().expect("a rule is a mapping");
            for key in ["for", "keep_firing_for"] {
                if let Some(value) = rule.get(key).and_then(Yaml::as_str) {
                    let value = scaled(value);
                    rule.insert(key.into(), value.into());
                }
            }
            let expr = rule.get("expr").and_then(Yaml::as_str).unwrap_or("");
            let expr = range
                .replace_all(expr, |c: &regex::Captures| format!("[{}]", scaled(&c[1])))
                .into_owned();
            rule.insert("expr".into(), expr.into());
        }
    }
    let name = Path::new(file).file_name().expect("file name");
    let path = dir.join(name);
    std::fs::write(&path, serde_yaml_ng::to_string(&rules).expect("YAML")).expect("write rules");
    path
}

/// The shipped inhibit rules, with a route that sends every alert, "resolved" included, to
/// `webhook` as soon as it can (the group timers scaled down too).
fn alertmanager_config_for(webhook: &str) -> String {
    let shipped: Yaml =
        serde_yaml_ng::from_str(&read(ALERTMANAGER_CONFIG)).expect("alertmanager.yml YAML");
    let inhibit_rules = serde_yaml_ng::to_string(&shipped["inhibit_rules"]).expect("YAML");
    let indented: String = inhibit_rules.lines().map(|l| format!("  {l}\n")).collect();
    format!(
        "route:\n  receiver: webhook\n  group_by: [alertname, job, exporter, instance, repository_id]\n  \
         group_wait: 500ms\n  group_interval: 1s\n  repeat_interval: 1h\n\
         receivers:\n  - name: webhook\n    webhook_configs:\n      - url: {webhook}\n        send_resolved: true\n\
         inhibit_rules:\n{indented}"
    )
}

/// The alerts of one webhook delivery, each with the time it arrived.
fn delivered(body: &str) -> Vec<Json> {
    let payload: Json = serde_json::from_str(body).expect("webhook payload is JSON");
    assert_eq!(
        payload["version"], "4",
        "Alertmanager webhook payload version"
    );
    payload["alerts"].as_array().cloned().unwrap_or_default()
}

fn name(alert: &Json) -> &str {
    alert["labels"]["alertname"].as_str().unwrap_or("")
}

/// Repository alerts the demo raises by design (the simulator's injected failures and its
/// statistics runs older than the last push): the outage is staged once all have fired.
const DEMO_REPOSITORY_ALERTS: [&str; 4] = [
    "CodeArtsRepoStatisticsAuthFailing",
    "CodeArtsRepoStatisticsNotFound",
    "CodeArtsRepoStatisticsFailing",
    "CodeArtsRepoStatisticsBehindCode",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus and alertmanager (apt-get install prometheus prometheus-alertmanager); scripts/test-all.sh runs it"]
async fn killed_exporter_sends_no_resolved_for_its_alerts_while_it_is_down() {
    let dir = TempDir::new().expect("temp dir");
    let (webhook, mut deliveries) = start_webhook().await;
    let (mut alertmanager, am) =
        spawn_alertmanager(dir.path(), &alertmanager_config_for(&webhook)).await;
    let exporter = spawn_exporter(EXPORTER, &["--demo"], dir.path()).await;
    let rule_files = [
        scaled_rule_file(dir.path(), "dashboards/rules.yml"),
        scaled_rule_file(dir.path(), "dashboards/alerts.yml"),
    ];
    // Scrapes every 2 s (2 minutes scaled: the demo's slowest answers need more than 1 s).
    let lookback = format!("--query.lookback-delta={}", scaled("5m"));
    let resend = format!("--rules.alert.resend-delay={}", scaled("1m"));
    let (mut prometheus, _url) = start_prometheus(
        dir.path(),
        &exporter.addr,
        &rule_files,
        Some(&am),
        &[&lookback, &resend],
    )
    .await;
    let mut exporter = exporter.proc;

    // Until every repository alert the demo raises has reached the webhook as firing.
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut firing = BTreeSet::new();
    while !DEMO_REPOSITORY_ALERTS.iter().all(|a| firing.contains(*a)) {
        exporter.assert_running();
        prometheus.assert_running();
        alertmanager.assert_running();
        assert!(
            Instant::now() < deadline,
            "within 150 s only {firing:?} of {DEMO_REPOSITORY_ALERTS:?} fired\nprometheus log:\n{}",
            prometheus.log_tail(20)
        );
        if let Ok(Some(body)) =
            tokio::time::timeout(Duration::from_secs(1), deliveries.recv()).await
        {
            for alert in delivered(&body) {
                if alert["status"] == "firing" {
                    firing.insert(name(&alert).to_owned());
                }
            }
        }
    }

    // The exporter dies. For 50 scaled minutes — longer than any alert outlives its series (the
    // failure alerts' 15-minute window plus 10 minutes, the repository alerts' 30) — nothing may
    // report an alert that was firing at the kill as resolved.
    let killed_at = OffsetDateTime::now_utc();
    drop(exporter);
    let watch_until = Instant::now() + Duration::from_millis(50 * 60_000 / TIME_SCALE);
    let (mut exporter_down, mut resolved) = (false, Vec::new());
    while Instant::now() < watch_until {
        prometheus.assert_running();
        alertmanager.assert_running();
        let Ok(Some(body)) = tokio::time::timeout(Duration::from_secs(1), deliveries.recv()).await
        else {
            continue;
        };
        for alert in delivered(&body) {
            if name(&alert) == "CodeArtsRepoExporterDown" && alert["status"] == "firing" {
                exporter_down = true;
            }
            let ended = alert["endsAt"]
                .as_str()
                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
            // A resolution from before the kill may still be on its way; one after it is a lie.
            if alert["status"] == "resolved" && ended.is_none_or(|t| t >= killed_at) {
                resolved.push(format!("{} {}", name(&alert), alert["labels"]));
            }
        }
    }
    assert!(
        exporter_down,
        "CodeArtsRepoExporterDown reached the webhook while the exporter was down\nprometheus log:\n{}",
        prometheus.log_tail(20)
    );
    assert!(
        resolved.is_empty(),
        "Alertmanager sent \"resolved\" while the exporter was down:\n{}",
        resolved.join("\n")
    );
}
