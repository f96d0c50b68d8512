//! The dashboard's "Statistics blocked" against "Quota used up": evaluated by promtool on
//! repositories in every state, the overview counts a run in progress (`can_statistics` false
//! with `reason` 0) as blocked but not as a used-up quota, and the Repositories table names the
//! cause of each blocked repository; the overview panels say so.
//!
//! Needs `promtool` on PATH; fails, naming the package to install, when it is missing.

use std::process::Command;

use crate::helpers::procs::{require_binary, run_ok};
use crate::helpers::*;
use serde_json::Value as Json;
use tempfile::TempDir;

/// The panel titled `title` of type `kind`, nested in a row or not.
fn panel<'a>(d: &'a Json, title: &str, kind: &str) -> &'a Json {
    panels(d)
        .into_iter()
        .find(|p| p["title"] == title && p["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} panel {title:?}"))
}

/// The query of `panel` with reference `ref_id`, with Grafana's variables set to "All".
fn query(panel: &Json, ref_id: &str) -> String {
    let expr = panel["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .find(|t| t["refId"] == ref_id)
        .and_then(|t| t["expr"].as_str())
        .unwrap_or_else(|| panic!("no query {ref_id}"));
    expr.replace("$job", ".+")
        .replace("$instance", ".+")
        .replace("$repository", ".*")
}

/// The repositories of the test, as the exporter shows them: (id, can_statistics, reason).
const REPOSITORIES: [(&str, u8, Option<u8>); 5] = [
    ("1", 1, Some(0)), // a run may start
    ("2", 0, Some(0)), // a run in progress
    ("3", 0, Some(2)), // the user quota used up
    ("4", 0, Some(1)), // the repository quota used up
    ("5", 1, None),    // no reason in the answer
];

#[test]
#[ignore = "needs promtool (apt-get install prometheus); scripts/test-all.sh runs it"]
fn blocked_without_a_used_up_quota_is_a_run_in_progress() {
    let d = dashboard();
    let blocked = panel(&d, "Statistics blocked", "stat");
    let quota = panel(&d, "Quota used up", "stat");
    let table = panel(&d, "Repositories", "table");

    // What the table shows in its Can statistics column, by value: the mapping's words.
    let mappings = table["fieldConfig"]["overrides"]
        .as_array()
        .expect("overrides")
        .iter()
        .find(|o| o["matcher"]["options"] == "Can statistics")
        .and_then(|o| {
            o["properties"]
                .as_array()?
                .iter()
                .find(|p| p["id"] == "mappings")
        })
        .expect("value mappings on Can statistics");
    let words = |value: &str| {
        mappings["value"][0]["options"][value]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("Can statistics maps no {value}"))
            .to_owned()
    };
    assert_eq!(words("1"), "yes");
    assert_eq!(words("0"), "no: run in progress");
    assert_eq!(words("-1"), "no: quota used up");

    // Evaluated: 3 blocked, 2 of them for a used-up quota, the third a run in progress, and the
    // table gives each repository the value its words belong to.
    let mut series = String::new();
    for (id, can, reason) in REPOSITORIES {
        let labels = format!(
            "job=\"codearts-repo-exporter\",instance=\"exporter:9825\",repository_id=\"{id}\",repository=\"team/r{id}\""
        );
        series.push_str(&format!(
            "  - series: codearts_repo_statistics_can_statistics{{{labels}}}\n    values: '{can}x5'\n"
        ));
        if let Some(reason) = reason {
            series.push_str(&format!(
                "  - series: codearts_repo_statistics_reason{{{labels}}}\n    values: '{reason}x5'\n"
            ));
        }
    }
    let expect = |expr: String, samples: &[(&str, i32)]| {
        let mut test = format!("  - expr: '{expr}'\n    eval_time: 2m\n    exp_samples:\n");
        for (labels, value) in samples {
            test.push_str(&format!("    - labels: '{labels}'\n      value: {value}\n"));
        }
        test
    };
    let row = |id: &str| format!("{{repository_id=\"{id}\",repository=\"team/r{id}\"}}");
    let tests = format!(
        "rule_files: []\nevaluation_interval: 1m\ntests:\n- interval: 1m\n  input_series:\n{series}  promql_expr_test:\n{}{}{}",
        expect(query(blocked, "A"), &[("{}", 3)]),
        expect(query(quota, "A"), &[("{}", 2)]),
        expect(
            query(table, "B"),
            &[
                (&row("1"), 1),
                (&row("2"), 0),
                (&row("3"), -1),
                (&row("4"), -1),
                (&row("5"), 1),
            ]
        ),
    );
    let dir = TempDir::new().expect("temp dir");
    let file = dir.path().join("blocked_test.yml");
    std::fs::write(&file, &tests).expect("write promtool test");
    let promtool = require_binary(&["promtool"], "apt-get install -y prometheus");
    eprintln!("the promtool tests:\n{tests}");
    run_ok(Command::new(promtool).args(["test", "rules"]).arg(&file));

    // The overview says what the difference is.
    for p in [blocked, quota] {
        let description = p["description"].as_str().unwrap_or("");
        assert!(
            description.contains("run in progress"),
            "{:?}: {description}",
            p["title"]
        );
    }
}
