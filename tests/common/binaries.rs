//! The exporter and simulator binaries as child processes (killed when the test ends), for the
//! tests that need a real process: signals, the demo, a real Prometheus, load and soak.

use std::path::Path;
use std::time::Duration;

use codearts_testkit::procs::{free_port, Proc};

use super::{config_yaml, Body};

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

    /// `GET /metrics`, with Prometheus' scrape-timeout header when `scrape_timeout` (seconds)
    /// is given; fails the test unless it answers 200.
    pub async fn scrape(&self, scrape_timeout: Option<&str>) -> Body {
        let mut request = reqwest::Client::new().get(self.url("/metrics"));
        if let Some(seconds) = scrape_timeout {
            request = request.header("X-Prometheus-Scrape-Timeout-Seconds", seconds);
        }
        let answer = request.send().await.expect("scrape");
        assert!(answer.status().is_success(), "{}", answer.status());
        answer.text().await.expect("scrape body").into()
    }
}

/// The exporter binary with `args`, on a free port, at log level warn; ready once `/healthz`
/// answers. Its output goes to `<log_dir>/exporter.log`.
pub async fn spawn_exporter(args: &[&str], log_dir: &Path) -> Exporter {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_codearts-repo-exporter"));
    cmd.args(args)
        .args(["--web.listen-address", &addr, "--log.level", "warn"]);
    let mut proc = Proc::spawn("exporter", &mut cmd, log_dir);
    proc.wait_http_ok(&format!("http://{addr}/healthz"), Duration::from_secs(30))
        .await;
    Exporter { proc, addr }
}

/// The simulator binary with `args`, on a free port; returns it and its endpoint.
pub async fn spawn_sim(args: &[&str], log_dir: &Path) -> (Proc, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_codearts-sim"));
    cmd.args(["--listen", &listen]).args(args);
    let mut sim = Proc::spawn("codearts-sim", &mut cmd, log_dir);
    let endpoint = format!("http://{listen}");
    sim.wait_http_ok(&format!("{endpoint}/-/stats"), Duration::from_secs(30))
        .await;
    (sim, endpoint)
}

/// A config like [`config_yaml`] for the simulator at `endpoint`, with its static token.
pub fn sim_config(endpoint: &str, ids: &[u32], scrape: &str) -> String {
    config_yaml(endpoint, ids, scrape).replace("test-token", "demo-token")
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

/// The whole seconds in environment variable `name`, or `default` when it is unset or not a
/// number (how long the load and soak tests run).
pub fn seconds_from_env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}
