//! Static checks of the shipped monitoring artefacts in `dashboards/`: the Grafana dashboard
//! follows the grafana/dashboard-linter rules (templated datasource, `job`/`instance` filters,
//! `$__rate_interval`, titles, descriptions, units), and the dashboard, the rules, the rule tests
//! and RUNBOOK.md keep their promises to each other (every metric exists, every alert has a
//! runbook section and both a firing and a silent unit test).
//!
//! No network and no external binaries: `promtool` and a live Prometheus run in the end-to-end
//! tier (`tests/end_to_end/prometheus.rs`).

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;

use crate::helpers::*;

const RULES: &str = include_str!("../../dashboards/rules.yml");
const ALERTS: &str = include_str!("../../dashboards/alerts.yml");
const ALERT_TESTS: &str = include_str!("../../dashboards/tests/alerts_test.yml");
const RUNBOOK: &str = include_str!("../../RUNBOOK.md");

const RUNBOOK_URL: &str =
    "https://github.com/codearts-repo-exporter/codearts-repo-exporter/blob/main/RUNBOOK.md";

/// Units grafana/dashboard-linter's panel-units-rule accepts, limited to the plausible ones.
const VALID_UNITS: &[&str] = &[
    "none",
    "short",
    "percent",
    "percentunit",
    "bytes",
    "decbytes",
    "s",
    "ms",
    "dtdurations",
    "dtdurationms",
    "dateTimeFromNow",
    "dateTimeAsIso",
    "reqps",
    "ops",
    "cps",
    "bool",
];

/// Panel types that carry no query (and so need no unit or datasource).
const LAYOUT_PANELS: &[&str] = &["row", "text"];

// ---------------------------------------------------------------------------------------------
// helpers

fn is_layout(p: &Json) -> bool {
    LAYOUT_PANELS.contains(&p["type"].as_str().unwrap_or(""))
}

fn variable<'a>(d: &'a Json, name: &str) -> &'a Json {
    d["templating"]["list"]
        .as_array()
        .expect("dashboard has templating.list")
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("dashboard has no `{name}` variable"))
}

fn is_templated_datasource(ds: &Json) -> bool {
    matches!(ds["uid"].as_str(), Some("${datasource}" | "$datasource"))
}

/// Metric names the exporter exposes: the backticked names in the documentation's tables when
/// it has them, else [`EXPORTER_METRICS`].
fn exported_metrics() -> BTreeSet<String> {
    let docs = docs_text();
    let name = Regex::new(r"`(codearts_repo_[a-z0-9_]+)`").unwrap();
    let documented: BTreeSet<String> = docs
        .lines()
        .filter(|l| l.trim_start().starts_with('|'))
        .flat_map(|l| {
            name.captures_iter(l)
                .map(|c| c[1].to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    if documented.len() >= 10 {
        documented
    } else {
        EXPORTER_METRICS.iter().map(|s| s.to_string()).collect()
    }
}

/// Whether `name` is a series the exporter (or Prometheus itself) produces.
fn is_exported(name: &str, exported: &BTreeSet<String>) -> bool {
    if name == "up" || name.starts_with("process_") {
        return true; // Prometheus' scrape health; the prometheus crate's process collector
    }
    let base = ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .filter(|base| exported.contains(*base));
    exported.contains(name) || base.is_some()
}

fn yaml(text: &str, file: &str) -> Yaml {
    serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("{file} is not valid YAML: {e}"))
}

/// Every rule (recording and alerting) of a rules file.
fn rules(file: &Yaml) -> Vec<&Yaml> {
    file["groups"]
        .as_sequence()
        .expect("rules file has groups")
        .iter()
        .flat_map(|g| g["rules"].as_sequence().expect("group has rules").iter())
        .collect()
}

fn alerts() -> Vec<Yaml> {
    rules(&yaml(ALERTS, "alerts.yml"))
        .into_iter()
        .filter(|r| r["alert"].is_string())
        .cloned()
        .collect()
}

fn recorded_names() -> BTreeSet<String> {
    rules(&yaml(RULES, "rules.yml"))
        .into_iter()
        .filter_map(|r| r["record"].as_str().map(str::to_owned))
        .collect()
}

fn str_of<'a>(v: &'a Yaml, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// GitHub's anchor for a Markdown heading.
fn github_anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// the dashboard as a document

#[test]
fn dashboard_is_import_ready_and_provisionable() {
    let d = dashboard();
    assert!(
        d.get("__inputs").is_none(),
        "no __inputs: they break file provisioning (grafana#10786)"
    );
    assert!(
        d.get("__requires").is_none(),
        "no __requires: it belongs to the __inputs export format"
    );
    assert!(
        d["id"].is_null(),
        "id must be null so an import never overwrites another dashboard"
    );
    assert_eq!(
        d["uid"], "codearts-repo-statistics",
        "the uid is stable: links and provisioning rely on it"
    );
    assert!(
        d["schemaVersion"].as_u64().unwrap_or(0) >= 36,
        "use a current schemaVersion"
    );
    assert!(!d["title"].as_str().unwrap_or("").is_empty());
    assert!(
        !d["tags"].as_array().map(Vec::is_empty).unwrap_or(true),
        "tags help finding it"
    );
    for key in ["time", "refresh", "editable"] {
        assert!(!d[key].is_null(), "dashboard sets `{key}`");
    }
}

#[test]
fn datasource_variable_selects_a_prometheus_datasource() {
    let d = dashboard();
    let ds = variable(&d, "datasource");
    assert_eq!(ds["type"], "datasource");
    assert_eq!(ds["query"], "prometheus");
    assert_eq!(ds["label"], "Data source");
}

#[test]
fn job_instance_and_repository_variables_are_templated_multi_selects() {
    let d = dashboard();
    // `job` has no custom all value: All must mean this exporter's jobs, never `.+` (see
    // all_jobs_means_this_exporters_jobs_only).
    for (name, label, all) in [
        ("job", "Job", None),
        ("instance", "Instance", Some(".+")),
        ("repository", "Repository", Some(".*")),
    ] {
        let v = variable(&d, name);
        assert_eq!(v["type"], "query", "{name}");
        assert_eq!(v["label"], label, "{name}");
        assert!(
            is_templated_datasource(&v["datasource"]),
            "{name} queries ${{datasource}}"
        );
        assert_eq!(v["multi"], true, "{name} is a multi select");
        assert_eq!(v["includeAll"], true, "{name} offers All");
        assert_eq!(v["allValue"].as_str(), all, "{name}: allValue");
        let q = v["query"]["query"].as_str().unwrap_or("");
        assert!(
            q.starts_with("label_values(") && q.ends_with(&format!(", {name})")),
            "{name}: {q}"
        );
    }
    // Each variable narrows the next one.
    assert!(variable(&d, "instance")["query"]["query"]
        .as_str()
        .unwrap()
        .contains(r#"job=~"$job""#));
    let repo = variable(&d, "repository")["query"]["query"]
        .as_str()
        .unwrap();
    assert!(repo.contains(r#"job=~"$job""#) && repo.contains(r#"instance=~"$instance""#));
}

#[test]
fn every_panel_and_target_uses_the_datasource_variable() {
    let d = dashboard();
    for p in panels(&d).into_iter().filter(|p| !is_layout(p)) {
        assert!(
            is_templated_datasource(&p["datasource"]),
            "panel {:?} uses ${{datasource}}",
            title(p)
        );
        assert_eq!(
            p["datasource"]["type"],
            "prometheus",
            "panel {:?}",
            title(p)
        );
        let targets = p["targets"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        assert!(!targets.is_empty(), "panel {:?} has queries", title(p));
        for t in targets {
            assert!(
                is_templated_datasource(&t["datasource"]),
                "a target of {:?} uses ${{datasource}}",
                title(p)
            );
        }
    }
}

#[test]
fn every_panel_has_title_description_and_a_valid_unit() {
    let d = dashboard();
    for p in panels(&d) {
        assert!(
            !title(p).trim().is_empty() && p["title"].is_string(),
            "a {} panel lacks a title",
            p["type"]
        );
        if is_layout(p) {
            continue;
        }
        let desc = p["description"].as_str().unwrap_or("");
        assert!(
            desc.len() >= 20,
            "panel {:?} needs a description that explains it",
            title(p)
        );
        let unit = p["fieldConfig"]["defaults"]["unit"].as_str().unwrap_or("");
        assert!(
            VALID_UNITS.contains(&unit),
            "panel {:?}: unit {unit:?} is missing or unknown",
            title(p)
        );
    }
}

#[test]
fn panel_ids_are_unique_and_panels_do_not_overlap() {
    let d = dashboard();
    let all = panels(&d);
    let ids: BTreeSet<u64> = all
        .iter()
        .map(|p| p["id"].as_u64().expect("panel id"))
        .collect();
    assert_eq!(ids.len(), all.len(), "panel ids are unique");
    let boxes: Vec<(&str, [u64; 4])> = all
        .iter()
        .map(|p| {
            let g = &p["gridPos"];
            let n = |k: &str| {
                g[k].as_u64()
                    .unwrap_or_else(|| panic!("panel {:?}: gridPos.{k}", title(p)))
            };
            (title(p), [n("x"), n("y"), n("w"), n("h")])
        })
        .collect();
    for (i, (ta, a)) in boxes.iter().enumerate() {
        assert!(a[0] + a[2] <= 24, "panel {ta:?} is wider than the grid");
        for (tb, b) in &boxes[i + 1..] {
            let apart = a[0] + a[2] <= b[0]
                || b[0] + b[2] <= a[0]
                || a[1] + a[3] <= b[1]
                || b[1] + b[3] <= a[1];
            assert!(apart, "panels {ta:?} and {tb:?} overlap");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// the dashboard's queries

/// `name{matchers}` selectors of an expression.
fn selectors(expr: &str) -> Vec<(String, String)> {
    let re = Regex::new(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}").unwrap();
    re.captures_iter(expr)
        .map(|c| (c[1].to_owned(), c[2].to_owned()))
        .collect()
}

#[test]
fn every_query_filters_on_job_and_instance_and_repository_series_on_repository() {
    let d = dashboard();
    let bare = Regex::new(r"\b(codearts_[a-z0-9_]+|process_[a-z0-9_]+|up)\b\s*([^\s{]|$)").unwrap();
    for (panel, expr) in exprs(&d) {
        let sels = selectors(&expr);
        assert!(!sels.is_empty(), "{panel:?}: {expr} selects no metric");
        for (metric, matchers) in sels {
            assert!(
                matchers.contains(r#"job=~"$job""#),
                "{panel:?}: {metric} lacks job=~\"$job\" in {expr}"
            );
            assert!(
                matchers.contains(r#"instance=~"$instance""#),
                "{panel:?}: {metric} lacks instance=~\"$instance\" in {expr}"
            );
            if metric.starts_with("codearts_repo_statistics_") {
                assert!(
                    matchers.contains(r#"repository=~"$repository""#),
                    "{panel:?}: {metric} lacks repository=~\"$repository\" in {expr}"
                );
            }
        }
        // A metric named without braces would escape the filters above.
        if let Some(c) = bare.captures(&expr) {
            panic!(
                "{panel:?}: {} is selected without matchers in {expr}",
                &c[1]
            );
        }
    }
}

#[test]
fn every_rate_and_increase_uses_rate_interval() {
    let d = dashboard();
    let call = Regex::new(r"\b(rate|irate|increase)\(").unwrap();
    let windowed = Regex::new(r"\b(?:rate|irate|increase)\([^\[\]]*\[([^\]]*)\]").unwrap();
    for (panel, expr) in exprs(&d) {
        let calls = call.find_iter(&expr).count();
        let windows: Vec<String> = windowed
            .captures_iter(&expr)
            .map(|c| c[1].to_owned())
            .collect();
        assert_eq!(
            calls,
            windows.len(),
            "{panel:?}: cannot find every range of {expr}"
        );
        for w in windows {
            assert_eq!(w, "$__rate_interval", "{panel:?}: {expr}");
        }
    }
}

#[test]
fn every_metric_the_dashboard_reads_is_exported() {
    let d = dashboard();
    let exported = exported_metrics();
    let mut unknown = BTreeMap::new();
    for (panel, expr) in exprs(&d) {
        for (metric, _) in selectors(&expr) {
            if !is_exported(&metric, &exported) {
                unknown.insert(metric, panel.clone());
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "metrics the exporter does not expose (metric -> panel): {unknown:#?}"
    );
}

#[test]
fn repository_table_maps_every_reason_to_words() {
    let d = dashboard();
    let table = panels(&d)
        .into_iter()
        .find(|p| p["type"] == "table")
        .expect("a repository table");
    let reason = table["fieldConfig"]["overrides"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["matcher"]["options"] == "Reason")
        .expect("an override for the Reason column");
    let mapping = reason["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "mappings")
        .expect("value mappings on Reason");
    let options = &mapping["value"][0]["options"];
    for (value, words) in [
        ("0", "none"),
        ("1", "repository quota used up"),
        ("2", "user quota used up"),
        ("3", "both"),
    ] {
        let text = options[value]["text"].as_str().unwrap_or("");
        assert!(text.starts_with(words), "reason {value} reads {text:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// rules, alerts, their tests and the runbook

#[test]
fn alerts_follow_the_mixin_style_and_point_at_a_runbook_section() {
    let name = Regex::new(r"^CodeArtsRepo[A-Z][A-Za-z]+$").unwrap();
    let headings: BTreeSet<String> = RUNBOOK
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(github_anchor)
        .collect();
    let all = alerts();
    assert!(
        all.len() >= 10,
        "expected the full alert set, found {}",
        all.len()
    );
    for a in &all {
        let alert = str_of(a, "alert");
        assert!(
            name.is_match(alert),
            "{alert}: CamelCase with the CodeArtsRepo prefix"
        );
        let severity = str_of(&a["labels"], "severity");
        assert!(
            ["critical", "warning", "info"].contains(&severity),
            "{alert}: severity {severity:?}"
        );
        for key in ["summary", "description"] {
            assert!(
                str_of(&a["annotations"], key).len() > 10,
                "{alert}: annotation {key}"
            );
        }
        let anchor = alert.to_lowercase();
        assert_eq!(
            str_of(&a["annotations"], "runbook_url"),
            format!("{RUNBOOK_URL}#{anchor}"),
            "{alert}"
        );
        assert!(
            headings.contains(&anchor),
            "RUNBOOK.md needs a section `## {alert}`"
        );
    }
}

#[test]
fn every_alert_has_a_firing_and_a_silent_unit_test() {
    let tests = yaml(ALERT_TESTS, "alerts_test.yml");
    let mut firing = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for case in tests["tests"].as_sequence().expect("tests").iter() {
        for t in case["alert_rule_test"].as_sequence().into_iter().flatten() {
            let alert = str_of(t, "alertname").to_owned();
            match t["exp_alerts"].as_sequence().map(Vec::len).unwrap_or(0) {
                0 => silent.insert(alert),
                _ => firing.insert(alert),
            };
        }
    }
    for a in alerts() {
        let alert = str_of(&a, "alert");
        assert!(firing.contains(alert), "{alert} has no test where it fires");
        assert!(
            silent.contains(alert),
            "{alert} has no test where it stays silent"
        );
    }
    let files: Vec<&str> = tests["rule_files"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(
        files,
        ["../rules.yml", "../alerts.yml"],
        "the tests load the shipped files"
    );
}

#[test]
fn rules_and_alerts_read_only_exported_or_recorded_series() {
    let token = Regex::new(r"[a-zA-Z_:][a-zA-Z0-9_:]*").unwrap();
    let exported = exported_metrics();
    let recorded = recorded_names();
    let mut texts: Vec<(String, String)> = Vec::new();
    for r in rules(&yaml(RULES, "rules.yml")) {
        texts.push((str_of(r, "record").to_owned(), str_of(r, "expr").to_owned()));
    }
    for a in alerts() {
        let alert = str_of(&a, "alert").to_owned();
        texts.push((alert.clone(), str_of(&a, "expr").to_owned()));
        // Annotations may query Prometheus too.
        texts.push((
            alert.clone(),
            str_of(&a["annotations"], "description").to_owned(),
        ));
    }
    for (rule, text) in texts {
        for t in token.find_iter(&text).map(|m| m.as_str()) {
            let ours = t.starts_with("codearts_") || t.starts_with("job_");
            if ours && t.contains(':') {
                assert!(
                    recorded.contains(t),
                    "{rule}: {t} is not recorded in rules.yml"
                );
            } else if ours {
                assert!(is_exported(t, &exported), "{rule}: {t} is not exported");
            }
        }
    }
}

#[test]
fn recorded_names_follow_level_metric_operations() {
    let shape = Regex::new(r"^[a-z_]+:[a-z0-9_]+(:[a-z0-9_]+)?$").unwrap();
    for name in recorded_names() {
        assert!(shape.is_match(&name), "{name}: use level:metric:operations");
    }
}

// ---------------------------------------------------------------------------------------------
// fewer series on demand: the "minimal" metrics.disable preset

/// The per-repository families (without the `codearts_repo_statistics_` prefix) that
/// docs/metrics.md's "minimal" `metrics.disable` preset leaves out. It keeps `up`,
/// `can_statistics`, `reason`, `event_updated_timestamp_seconds`,
/// `last_success_timestamp_seconds`, `error` and `lag_seconds`.
const MINIMAL_DISABLE: &[&str] = &[
    "event_status",
    "event_info",
    "event_id",
    "event_created_timestamp_seconds",
    "event_age_seconds",
    "http_status",
    "request_duration_seconds",
    "answer_age_seconds",
    "repository_info",
    "last_push_timestamp_seconds",
    "last_push_up",
];

/// The per-repository families (prefix stripped) an expression reads.
fn statistics_families(text: &str) -> BTreeSet<String> {
    let family = Regex::new(r"codearts_repo_statistics_([a-z0-9_]+)").unwrap();
    family
        .captures_iter(text)
        .map(|c| c[1].to_owned())
        .collect()
}

#[test]
fn rules_and_alerts_read_no_family_the_minimal_preset_disables() {
    // A rule on a disabled family would not fail: it would fall silent (or, for an `unless`,
    // fire), so every rule and alert must live on the families the preset keeps.
    let mut texts: Vec<(String, String)> = rules(&yaml(RULES, "rules.yml"))
        .into_iter()
        .map(|r| (str_of(r, "record").to_owned(), str_of(r, "expr").to_owned()))
        .collect();
    for a in alerts() {
        let alert = str_of(&a, "alert").to_owned();
        texts.push((alert.clone(), str_of(&a, "expr").to_owned()));
        for (_, annotation) in a["annotations"].as_mapping().into_iter().flatten() {
            texts.push((alert.clone(), annotation.as_str().unwrap_or("").to_owned()));
        }
    }
    for (rule, text) in texts {
        for family in statistics_families(&text) {
            assert!(
                !MINIMAL_DISABLE.contains(&family.as_str()),
                "{rule} reads codearts_repo_statistics_{family}, which the minimal preset disables"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// scope and counting in /metrics, /probe and mixed mode

/// The minimum Grafana version the dashboard states, and the one its schema is checked against
/// (dashboards/typecheck).
const MIN_GRAFANA: &str = "10.4";

#[test]
fn all_jobs_means_this_exporters_jobs_only() {
    // With allValue `.+`, "All" matched every job of the Prometheus, so `up` counted Prometheus
    // itself. Without a custom all value Grafana sends the listed values, and the list holds only
    // jobs with this exporter's series: build_info (/metrics) or per-repository series (/probe).
    let d = dashboard();
    let job = variable(&d, "job");
    assert!(
        job.get("allValue").is_none(),
        "job: no custom allValue, All = the listed jobs"
    );
    let selector = job["query"]["query"].as_str().unwrap_or("");
    assert!(
        selector.contains("codearts_repo_exporter_build_info")
            && selector.contains("codearts_repo_statistics_up"),
        "job lists /metrics and /probe jobs: {selector}"
    );
}

#[test]
fn up_counts_only_metrics_targets() {
    // A /probe target is a repository: the README's probe relabelling marks it with `exporter`.
    let d = dashboard();
    let mut found = 0;
    for (panel, expr) in exprs(&d) {
        for (metric, matchers) in selectors(&expr) {
            if metric == "up" {
                found += 1;
                assert!(
                    matchers.contains(r#"exporter="""#),
                    "{panel:?}: up without exporter=\"\" also counts /probe targets: {expr}"
                );
            }
        }
    }
    assert!(found > 0, "the dashboard shows the exporter targets' up");
}

#[test]
fn every_repository_query_counts_a_repository_once() {
    // A repository read by a /metrics job and a /probe job has two series of each family; every
    // query first reduces them to one per repository_id.
    let d = dashboard();
    for (panel, expr) in exprs(&d) {
        if expr.contains("codearts_repo_statistics_") {
            assert!(
                expr.contains("by (repository_id"),
                "{panel:?}: aggregate by repository_id first, or a repository read by both modes counts twice: {expr}"
            );
        }
    }
}

#[test]
fn dashboard_and_documentation_state_the_minimum_grafana_version() {
    let d = dashboard();
    let wanted = format!("Grafana {MIN_GRAFANA} or later");
    assert!(
        d["description"].as_str().unwrap_or("").contains(&wanted),
        "the dashboard description says {wanted:?}"
    );
    assert!(
        docs_text().contains(&wanted),
        "the documentation (README.md, docs/) says {wanted:?}"
    );
    // schemaVersion 39 is what Grafana 10.3 and later write; the type check pins the schema of
    // the stated version.
    assert_eq!(d["schemaVersion"], 39);
    let package: Json =
        serde_json::from_str(include_str!("../../dashboards/typecheck/package.json"))
            .expect("dashboards/typecheck/package.json");
    let schema = package["devDependencies"]["@grafana/schema"]
        .as_str()
        .unwrap_or("");
    assert!(
        schema.starts_with(&format!("{MIN_GRAFANA}.")),
        "the type check pins @grafana/schema {MIN_GRAFANA}.x exactly, found {schema:?}"
    );
}

/// The per-repository families `text` reads, directly or through the recorded series it uses.
fn families_read(text: &str, recorded: &BTreeMap<String, String>) -> BTreeSet<String> {
    let token = Regex::new(r"[a-zA-Z_:][a-zA-Z0-9_:]*").unwrap();
    let mut out = BTreeSet::new();
    for t in token.find_iter(text).map(|m| m.as_str()) {
        if let Some(expr) = recorded.get(t) {
            out.extend(families_read(expr, recorded));
        } else if let Some(family) = t.strip_prefix("codearts_repo_statistics_") {
            out.insert(family.to_owned());
        }
    }
    out
}

#[test]
fn metrics_page_documents_the_minimal_preset_the_tests_hold_the_rules_to() {
    let preset = yaml(
        &doc_yaml_after("<!-- minimal-preset"),
        "docs/metrics.md minimal preset",
    );
    let listed: Vec<&str> = preset["metrics"]["disable"]
        .as_sequence()
        .expect("metrics.disable is a list")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(listed, MINIMAL_DISABLE);
    // What stays of a healthy repository: every family the exporter documents but `error` (absent
    // while healthy) and the disabled ones; `lag_seconds` only with `last_push` on.
    let kept: Vec<&str> = EXPORTER_METRICS
        .iter()
        .filter_map(|m| m.strip_prefix("codearts_repo_statistics_"))
        .filter(|f| *f != "error" && !MINIMAL_DISABLE.contains(f))
        .collect();
    assert_eq!(
        kept,
        [
            "up",
            "can_statistics",
            "reason",
            "event_updated_timestamp_seconds",
            "last_success_timestamp_seconds",
            "lag_seconds"
        ],
        "docs/metrics.md: \"A healthy repository then has 5 series\" (6 with last_push)"
    );
}

#[test]
fn families_table_matches_every_panel_and_alert() {
    let recorded: BTreeMap<String, String> = rules(&yaml(RULES, "rules.yml"))
        .into_iter()
        .filter_map(|r| {
            r["record"]
                .as_str()
                .map(|name| (name.to_owned(), str_of(r, "expr").to_owned()))
        })
        .collect();
    // What each panel and alert really reads.
    let mut actual: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let d = dashboard();
    for p in panels(&d).into_iter().filter(|p| !is_layout(p)) {
        let mut families = BTreeSet::new();
        for t in p["targets"].as_array().into_iter().flatten() {
            families.extend(families_read(t["expr"].as_str().unwrap_or(""), &recorded));
        }
        actual.insert(title(p).to_owned(), families);
    }
    for a in alerts() {
        let mut families = families_read(str_of(&a, "expr"), &recorded);
        for (_, annotation) in a["annotations"].as_mapping().into_iter().flatten() {
            families.extend(families_read(annotation.as_str().unwrap_or(""), &recorded));
        }
        actual.insert(str_of(&a, "alert").to_owned(), families);
    }

    // What the table says.
    let table = doc_after("<!-- families-table");
    let panel_name = Regex::new(r"\*([^*]+)\*").unwrap();
    let alert_name = Regex::new(r"CodeArtsRepo[A-Za-z]+").unwrap();
    let family_name = Regex::new(r"`([a-z0-9_]+)`").unwrap();
    let mut documented: BTreeMap<String, (BTreeSet<String>, String)> = BTreeMap::new();
    for row in table
        .lines()
        .skip(1)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
    {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 3, "docs/metrics.md families table row: {row}");
        // "—": none; the exporter's own metrics and `up` are no per-repository family.
        let families: BTreeSet<String> = if cells[1].starts_with('—') {
            BTreeSet::new()
        } else {
            family_name
                .captures_iter(cells[1])
                .map(|c| c[1].to_owned())
                .collect()
        };
        let names = panel_name
            .captures_iter(cells[0])
            .map(|c| c[1].to_owned())
            .chain(
                alert_name
                    .find_iter(cells[0])
                    .map(|m| m.as_str().to_owned()),
            );
        for name in names {
            let previous = documented.insert(name.clone(), (families.clone(), cells[2].to_owned()));
            assert!(
                previous.is_none(),
                "docs/metrics.md families table lists {name} twice"
            );
        }
    }

    let missing: Vec<&String> = actual
        .keys()
        .filter(|k| !documented.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/metrics.md families table lacks {missing:?}"
    );
    for (name, (families, minimal)) in &documented {
        let reads = actual.get(name).unwrap_or_else(|| {
            panic!("docs/metrics.md families table names {name:?}, which is no panel or alert")
        });
        assert_eq!(families, reads, "docs/metrics.md families table, {name}");
        let disabled: Vec<&String> = reads
            .iter()
            .filter(|f| MINIMAL_DISABLE.contains(&f.as_str()))
            .collect();
        if disabled.is_empty() {
            assert!(
                minimal.starts_with("yes"),
                "{name} keeps working with the minimal preset: say yes ({minimal:?})"
            );
        } else {
            assert!(
                minimal.starts_with("no") || minimal.starts_with("partly"),
                "{name} reads {disabled:?}, which the minimal preset disables: say so ({minimal:?})"
            );
        }
    }
}

#[test]
fn last_push_panels_are_listed_exactly() {
    // The end-to-end run exempts these panels from having data while no lag series exists:
    // every listed panel exists and reads the lag, and every panel reading the lag is listed,
    // so no other panel can go empty unnoticed.
    let d = dashboard();
    let mut reading_lag: Vec<String> = exprs(&d)
        .into_iter()
        .filter(|(_, expr)| expr.contains("codearts_repo_statistics_lag_seconds"))
        .map(|(title, _)| title)
        .collect();
    reading_lag.sort();
    reading_lag.dedup();
    let mut listed: Vec<String> = NEED_LAST_PUSH_DATA.iter().map(|t| t.to_string()).collect();
    listed.sort();
    assert_eq!(reading_lag, listed);
}
