//! Shared fixtures for the integration tests: configs, an app behind its router, scrapes, and
//! a small reader for the text exposition format.
// Each test crate uses a part of this module.
#![allow(dead_code, unused_imports)]

pub mod credentials;

pub use codearts_testkit::exposition::{samples, value, Sample};
pub use codearts_testkit::proc_stats::{proc_sample, ProcSample};
pub use codearts_testkit::procs;
pub use codearts_testkit::prometheus::{
    prometheus_query, promtool_check_metrics, spawn_prometheus,
};

/// Every metric the exporter exposes (the README's metric table), as the names of
/// their families.
pub const EXPORTER_METRICS: &[&str] = &[
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
    "codearts_repo_statistics_repository_info",
    "codearts_repo_statistics_last_push_timestamp_seconds",
    "codearts_repo_statistics_lag_seconds",
    "codearts_repo_statistics_last_push_up",
    "codearts_repo_exporter_build_info",
    "codearts_repo_exporter_scrape_duration_seconds",
    "codearts_repo_exporter_scrape_timeout_seconds",
    "codearts_repo_exporter_repositories",
    "codearts_repo_exporter_api_requests_total",
    "codearts_repo_exporter_api_request_errors_total",
    "codearts_repo_exporter_api_request_duration_seconds",
    "codearts_repo_exporter_api_request_retries_total",
    "codearts_repo_exporter_api_requests_in_flight",
    "codearts_repo_exporter_cache_hits_total",
    "codearts_repo_exporter_auth_token_expiry_timestamp_seconds",
    "codearts_repo_exporter_config_last_reload_successful",
    "codearts_repo_exporter_config_last_reload_success_timestamp_seconds",
    "codearts_repo_exporter_discovery_last_success_timestamp_seconds",
];

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use codearts_repo_exporter::app::App;
use codearts_repo_exporter::config::Config;
use codearts_repo_exporter::http::router;

/// A config for `endpoint` with a static token, `ids` as repositories, and extra YAML appended
/// under `scrape:` (indented by the caller, e.g. "  concurrency: 4\n"). Retries default to 0.
pub fn config_yaml(endpoint: &str, ids: &[u32], scrape: &str) -> String {
    let mut yaml = format!(
        "codearts:\n  endpoint: {endpoint}\n  auth:\n    token: test-token\nrepositories:\n"
    );
    for id in ids {
        yaml.push_str(&format!("  - id: {id}\n    name: group/repo-{id}\n"));
    }
    // Retries are off unless a test asks for them, so request counts stay exact.
    yaml.push_str("scrape:\n");
    if !scrape.contains("retries:") {
        yaml.push_str("  retries: 0\n");
    }
    yaml.push_str(scrape);
    yaml
}

pub fn parse_config(yaml: &str) -> Config {
    Config::parse(yaml, &|_| None).unwrap_or_else(|err| panic!("config: {err}\n{yaml}"))
}

/// An app built from `yaml`, without a config file (no reload).
pub fn app(yaml: &str) -> Arc<App> {
    App::new(parse_config(yaml), None, None).expect("app")
}

/// An app whose config lives in a file, so it can be reloaded.
pub fn app_from_file(path: &std::path::Path) -> Arc<App> {
    let config = Config::load(path).expect("config file");
    App::new(config, Some(path.to_path_buf()), None).expect("app")
}

/// An answer from the router.
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: String,
    pub elapsed: Duration,
}

/// Sends `method path` through the router, with an optional scrape-timeout header.
pub async fn request(
    app: &Arc<App>,
    method: &str,
    path: &str,
    scrape_timeout: Option<&str>,
) -> Answer {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(timeout) = scrape_timeout {
        builder = builder.header("X-Prometheus-Scrape-Timeout-Seconds", timeout);
    }
    let started = std::time::Instant::now();
    let response = router(app.clone(), "/metrics")
        .oneshot(builder.body(Body::empty()).expect("request"))
        .await
        .expect("router never fails");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Answer {
        status,
        content_type,
        body: String::from_utf8(bytes.to_vec()).expect("utf-8 body"),
        elapsed: started.elapsed(),
    }
}

/// `GET /metrics` with the given scrape-timeout header.
pub async fn scrape(app: &Arc<App>, scrape_timeout: Option<&str>) -> Answer {
    let answer = request(app, "GET", "/metrics", scrape_timeout).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer
}

/// All series of `name` for repository `id`.
pub fn repo_series(text: &str, name: &str, id: u32) -> Vec<Sample> {
    let id = id.to_string();
    samples(text)
        .into_iter()
        .filter(|s| s.name == name && s.labels.get("repository_id") == Some(&id))
        .collect()
}

/// The error class shown for repository `id`, if any.
pub fn error_class(text: &str, id: u32) -> Option<String> {
    let series = repo_series(text, "codearts_repo_statistics_error", id);
    assert!(series.len() <= 1, "one error class at most: {series:?}");
    series.first().map(|s| s.labels["class"].clone())
}

/// A valid statistics-status answer.
pub fn status_body(can: bool, reason: i64, status: &str, updated_at: &str) -> serde_json::Value {
    serde_json::json!({
        "can_statistics": can,
        "reason": reason,
        "event": {
            "id": 7, "user_id": 2, "project_id": 1, "branch": "master", "status": status,
            "stat_date": "20250604", "created_at": "2025-06-04T16:14:29+08:00",
            "updated_at": updated_at
        }
    })
}

/// The API path of repository `id`.
pub fn status_path(id: u32) -> String {
    format!("/v4/repositories/{id}/repository/statistics-status")
}

/// An upstream that answers every status request after `delay` and counts how many requests
/// are in flight at once — exactly, which wiremock's delayed templates cannot — and when each
/// repository was asked.
pub struct CountingUpstream {
    pub endpoint: String,
    pub max_in_flight: Arc<std::sync::atomic::AtomicUsize>,
    pub requests: Arc<std::sync::atomic::AtomicUsize>,
    /// (arrival, repository id) of every request, in arrival order.
    pub arrivals: Arc<std::sync::Mutex<Vec<(std::time::Instant, u32)>>>,
}

impl CountingUpstream {
    /// How many times each repository was asked.
    pub fn per_id(&self) -> std::collections::HashMap<u32, usize> {
        let mut counts = std::collections::HashMap::new();
        for (_, id) in self.arrivals.lock().unwrap().iter() {
            *counts.entry(*id).or_insert(0) += 1;
        }
        counts
    }
}

pub async fn counting_upstream(delay: Duration) -> CountingUpstream {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let arrivals = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (now, max, count, log) = (
        in_flight.clone(),
        max_in_flight.clone(),
        requests.clone(),
        arrivals.clone(),
    );
    let handler = move |axum::extract::Path(id): axum::extract::Path<u32>| {
        let (now, max, count, log) = (now.clone(), max.clone(), count.clone(), log.clone());
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            log.lock().unwrap().push((std::time::Instant::now(), id));
            let current = now.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(current, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            now.fetch_sub(1, Ordering::SeqCst);
            axum::Json(status_body(true, 0, "finish", "2025-06-04T16:14:29+08:00"))
        }
    };
    let app = axum::Router::new().route(
        "/v4/repositories/{id}/repository/statistics-status",
        axum::routing::get(handler),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    CountingUpstream {
        endpoint,
        max_in_flight,
        requests,
        arrivals,
    }
}

/// An IAM token endpoint for wiremock that hands out `token-1`, `token-2`, … each living
/// `lifetime`, and counts its calls.
pub struct IamResponder {
    pub calls: Arc<std::sync::atomic::AtomicUsize>,
    pub lifetime: Duration,
}

impl IamResponder {
    pub fn new(lifetime: Duration) -> Self {
        Self {
            calls: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            lifetime,
        }
    }
}

/// RFC 3339 in UTC with microseconds, like IAM's own answers.
pub fn iam_time(t: std::time::SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

impl wiremock::Respond for IamResponder {
    fn respond(&self, _request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let now = std::time::SystemTime::now();
        wiremock::ResponseTemplate::new(201)
            .insert_header("X-Subject-Token", format!("token-{n}").as_str())
            .set_body_json(serde_json::json!({"token": {
                "issued_at": iam_time(now),
                "expires_at": iam_time(now + self.lifetime),
                "methods": ["password"]
            }}))
    }
}

/// The auth block of a config for IAM against `iam_endpoint`, with the password inline.
pub fn iam_auth_yaml(iam_endpoint: &str) -> String {
    format!(
        "    iam:\n      endpoint: {iam_endpoint}\n      domain: acme\n      user: exporter-bot\n      password: pw-s3cret\n      project: cn-north-4\n"
    )
}

/// A config like [`config_yaml`] with `auth_block` (indented under `auth:`) instead of a token.
pub fn config_with_auth(endpoint: &str, ids: &[u32], auth_block: &str, scrape: &str) -> String {
    config_yaml(endpoint, ids, scrape).replace("    token: test-token\n", auth_block)
}

/// The exporter binary as a child process with `args`, ready on `port`.
pub async fn spawn_exporter(args: &[&str], port: u16, log_dir: &std::path::Path) -> procs::Proc {
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_codearts-repo-exporter"));
    cmd.args(args)
        .args(["--web.listen-address", &listen, "--log.level", "warn"]);
    let mut exporter = procs::Proc::spawn("exporter", &mut cmd, log_dir);
    exporter
        .wait_http_ok(&format!("http://{listen}/healthz"), Duration::from_secs(30))
        .await;
    exporter
}

/// The simulator binary as a child process with `args`; returns it and its endpoint.
pub async fn spawn_sim(args: &[&str], log_dir: &std::path::Path) -> (procs::Proc, String) {
    let port = procs::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_codearts-sim"));
    cmd.args(["--listen", &listen]).args(args);
    let mut sim = procs::Proc::spawn("codearts-sim", &mut cmd, log_dir);
    let endpoint = format!("http://{listen}");
    sim.wait_http_ok(&format!("{endpoint}/-/stats"), Duration::from_secs(30))
        .await;
    (sim, endpoint)
}

/// The simulator's counters.
pub async fn sim_stats(endpoint: &str) -> serde_json::Value {
    reqwest::get(format!("{endpoint}/-/stats"))
        .await
        .expect("sim stats")
        .json()
        .await
        .expect("sim stats JSON")
}
