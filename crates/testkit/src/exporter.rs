//! The exporter and its simulator seen from outside, as both test tiers drive them: the
//! binaries as child processes (killed when the test ends), the config text they read, and the
//! metric families the exporter documents.
//!
//! Only a test of the exporter's package knows where Cargo built its binaries
//! (`env!("CARGO_BIN_EXE_…")`), so the spawning functions take the binary's path.

use std::path::Path;
use std::time::Duration;

use crate::procs::{free_port, Proc};

/// Every metric the exporter documents, as the names of their families.
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
    "codearts_repo_statistics_answer_age_seconds",
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

/// The per-repository families whose values grow with the clock between two scrapes of the same
/// answers (ages), so two readings compare equal but for them.
pub const GROWING_FAMILIES: &[&str] = &[
    "codearts_repo_statistics_event_age_seconds",
    "codearts_repo_statistics_answer_age_seconds",
];

/// The values of `codearts_repo_statistics_error`'s `class` label, in the order
/// `docs/metrics.md` lists them.
pub const ERROR_CLASSES: &[&str] = &[
    "unauthorized",
    "forbidden",
    "not_found",
    "throttled",
    "client_error",
    "server_error",
    "timeout",
    "connection",
    "invalid_response",
];

/// An upstream address where nothing listens (the discard port): the exporter still answers
/// `/metrics` with 200, every repository failing.
pub const UNREACHABLE: &str = "http://127.0.0.1:9";

/// A config for `endpoint` with a static token, `ids` as repositories (named `group/repo-<id>`),
/// and extra YAML appended under `scrape:` (indented by the caller, e.g. "  concurrency: 4\n").
/// Retries default to 0.
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

/// A config like [`config_yaml`] for the simulator at `endpoint`, with its static token.
pub fn sim_config(endpoint: &str, ids: &[u32], scrape: &str) -> String {
    config_yaml(endpoint, ids, scrape).replace("test-token", "demo-token")
}

/// The least config the tests of the exporter's own server need: repository 1 at an
/// [`UNREACHABLE`] upstream, plus `server` as the body of a `server:` section when not empty.
pub fn exporter_config(server: &str) -> String {
    let mut yaml = config_yaml(UNREACHABLE, &[1], "");
    if !server.is_empty() {
        yaml.push_str("server:\n");
        yaml.push_str(server);
    }
    yaml
}

/// The exporter `binary` run once with `args` and `--config.file CONFIG` (as `--config.check`
/// is), in an environment that holds only `env`: what a user's shell would not lend it, such as
/// `CREDENTIALS_DIRECTORY`, stays unset unless the test sets it.
pub fn run_on_config(
    binary: &str,
    args: &[&str],
    config: &Path,
    env: &[(&str, &Path)],
) -> std::process::Output {
    std::process::Command::new(binary)
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .arg("--config.file")
        .arg(config)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {binary}: {e}"))
}

/// A running exporter binary and its `host:port`.
pub struct Exporter {
    pub proc: Proc,
    pub addr: String,
}

impl Exporter {
    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `GET path`'s text; fails the test unless it answers 200.
    pub async fn get(&self, path: &str) -> String {
        let answer = reqwest::get(self.url(path)).await.expect("GET");
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
        answer.text().await.expect("body")
    }

    /// `GET /metrics`'s text, with Prometheus' scrape-timeout header when `scrape_timeout`
    /// (seconds) is given; fails the test unless it answers 200.
    pub async fn scrape(&self, scrape_timeout: Option<&str>) -> String {
        let mut request = reqwest::Client::new().get(self.url("/metrics"));
        if let Some(seconds) = scrape_timeout {
            request = request.header("X-Prometheus-Scrape-Timeout-Seconds", seconds);
        }
        let answer = request.send().await.expect("scrape");
        assert!(answer.status().is_success(), "{}", answer.status());
        answer.text().await.expect("scrape body")
    }
}

/// The exporter `binary` with `args`, on a free port, at log level warn; ready once `/healthz`
/// answers. Its output goes to `<log_dir>/exporter.log`.
pub async fn spawn_exporter(binary: &str, args: &[&str], log_dir: &Path) -> Exporter {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = std::process::Command::new(binary);
    cmd.args(args)
        .args(["--web.listen-address", &addr, "--log.level", "warn"]);
    let mut proc = Proc::spawn("exporter", &mut cmd, log_dir);
    proc.wait_http_ok(&format!("http://{addr}/healthz"), Duration::from_secs(30))
        .await;
    Exporter { proc, addr }
}

/// The exporter `binary` reading `yaml` from `<dir>/config.yml` (a test may rewrite that file
/// and reload), as [`spawn_exporter`] with its output in `dir` too.
pub async fn spawn_exporter_with_config(binary: &str, yaml: &str, dir: &Path) -> Exporter {
    let config = dir.join("config.yml");
    std::fs::write(&config, yaml).expect("write config.yml");
    let config = config.to_str().expect("a UTF-8 temp path");
    spawn_exporter(binary, &["--config.file", config], dir).await
}

/// The simulator `binary` with `args`, on a free port; returns it and its endpoint.
pub async fn spawn_sim(binary: &str, args: &[&str], log_dir: &Path) -> (Proc, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut cmd = std::process::Command::new(binary);
    cmd.args(["--listen", &listen]).args(args);
    let mut sim = Proc::spawn("codearts-sim", &mut cmd, log_dir);
    let endpoint = format!("http://{listen}");
    sim.wait_http_ok(&format!("{endpoint}/-/stats"), Duration::from_secs(30))
        .await;
    (sim, endpoint)
}
