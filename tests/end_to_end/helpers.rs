//! What only the end-to-end tier needs: where Cargo built the binaries, how long the load and
//! soak tests run, the simulator's counters, and a Prometheus scraping the exporter. Everything both tiers share is `codearts-testkit`, re-exported here.

pub use codearts_testkit::alertmanager::*;
pub use codearts_testkit::dashboard::*;
pub use codearts_testkit::exporter::*;
pub use codearts_testkit::exposition::{samples, value_in};
pub use codearts_testkit::http::json_of;
pub use codearts_testkit::pki::*;
pub use codearts_testkit::proc_stats::proc_sample;
pub use codearts_testkit::procs;
pub use codearts_testkit::prometheus::*;
pub use codearts_testkit::repo::*;
pub use codearts_testkit::yaml;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The exporter binary Cargo built for these tests.
pub const EXPORTER: &str = env!("CARGO_BIN_EXE_codearts-repo-exporter");

/// The simulator binary Cargo built for these tests.
pub const SIMULATOR: &str = env!("CARGO_BIN_EXE_codearts-sim");

/// The whole seconds in environment variable `name`, or `default` when it is unset or not a
/// number (how long the load and soak tests run).
pub fn seconds_from_env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The simulator's counters.
pub async fn sim_stats(endpoint: &str) -> serde_json::Value {
    json_of(reqwest::Client::new().get(format!("{endpoint}/-/stats"))).await
}

/// The Prometheus job the exporter is scraped as.
pub const JOB: &str = "codearts-repo-exporter";

/// How often [`start_prometheus`] scrapes (and the scrape timeout).
pub const SCRAPE_INTERVAL: &str = "2s";

/// A client for the Prometheus and Alertmanager APIs, which answer within seconds.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

/// A Prometheus scraping `exporter` as job [`JOB`] every [`SCRAPE_INTERVAL`], evaluating
/// `rule_files` every second and, when given, sending alerts to `alertmanager`; `flags` are added
/// to its command line. Returns it with its base URL.
pub async fn start_prometheus(
    dir: &Path,
    exporter: &str,
    rule_files: &[PathBuf],
    alertmanager: Option<&str>,
    flags: &[&str],
) -> (procs::Proc, String) {
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
    spawn_prometheus_with_flags(dir, &config, flags).await
}
