//! A real Prometheus server (Debian package `prometheus`) and `promtool`, for end-to-end tests.

use std::time::Duration;

use crate::procs;

/// Runs `promtool check metrics` on `text`; returns its findings (empty when clean).
/// Fails the test when promtool is not installed: the check must run, not be skipped.
pub fn promtool_check_metrics(text: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is required: apt-get install prometheus");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text)
        .expect("write to promtool");
    let output = child.wait_with_output().expect("promtool output");
    let mut findings = String::from_utf8_lossy(&output.stdout).to_string();
    findings.push_str(&String::from_utf8_lossy(&output.stderr));
    if !output.status.success() && findings.trim().is_empty() {
        findings = format!("promtool exited with {}", output.status);
    }
    findings.trim().to_owned()
}

/// A real Prometheus (Debian package `prometheus`) with `config` as its configuration file, ready.
/// Returns it with its base URL.
pub async fn spawn_prometheus(dir: &std::path::Path, config: &str) -> (procs::Proc, String) {
    spawn_prometheus_with_flags(dir, config, &[]).await
}

/// Like [`spawn_prometheus`], with more command-line flags (`--rules.alert.resend-delay=1s`, …).
pub async fn spawn_prometheus_with_flags(
    dir: &std::path::Path,
    config: &str,
    flags: &[&str],
) -> (procs::Proc, String) {
    let prometheus = procs::require_binary(&["prometheus"], "apt-get install -y prometheus");
    let config_file = dir.join("prometheus.yml");
    std::fs::write(&config_file, config).expect("write prometheus.yml");
    let addr = format!("127.0.0.1:{}", procs::free_port());
    let mut cmd = std::process::Command::new(prometheus);
    cmd.arg(format!("--config.file={}", config_file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--log.level=warn")
        .args(flags);
    let mut proc = procs::Proc::spawn("prometheus", &mut cmd, dir);
    let url = format!("http://{addr}");
    proc.wait_http_ok(&format!("{url}/-/ready"), Duration::from_secs(30))
        .await;
    (proc, url)
}

/// `expr` evaluated now by the Prometheus at `url`: the `result` array, or an error text.
pub async fn prometheus_query(url: &str, expr: &str) -> Result<Vec<serde_json::Value>, String> {
    let answer: serde_json::Value = reqwest::Client::new()
        .get(format!("{url}/api/v1/query"))
        .query(&[("query", expr)])
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    if answer["status"] != "success" {
        return Err(format!("{}: {}", answer["errorType"], answer["error"]));
    }
    Ok(answer["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// The result of `expr` at the Prometheus at `url` once `done` holds for it, or the last result
/// when `limit` has passed (a failed query counts as an empty result). Polls every 500 ms.
pub async fn query_until(
    url: &str,
    expr: &str,
    limit: Duration,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let result = prometheus_query(url, expr).await.unwrap_or_default();
        if done(&result) || std::time::Instant::now() > deadline {
            return result;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
