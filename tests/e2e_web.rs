//! End to end: the exporter binary behind `--web.config.file` (TLS + basic auth), scraped by a
//! real Prometheus (`apt-get install prometheus`) with `scheme: https`, `tls_config.ca_file` and
//! `basic_auth`, until Prometheus reports `up == 1`.

mod common;
mod web_fixtures;

use std::process::Command;
use std::time::{Duration, Instant};

use common::procs::{free_port, Proc};
use common::{query_until, spawn_prometheus};
use web_fixtures::{exporter_config, https_client, users_yaml, Pki, TLS_ONLY};

/// The exporter binary with `exporter.yml` and `web.yml` of `pki`'s directory.
fn exporter_command(pki: &Pki) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_codearts-repo-exporter"));
    command
        .arg("--config.file")
        .arg(pki.path("exporter.yml"))
        .arg("--web.config.file")
        .arg(pki.path("web.yml"));
    command
}

/// [`exporter_command`] running on a free port, its output in `exporter.log` of `pki`'s
/// directory; returns once the port accepts connections (it speaks TLS: no HTTP check).
fn start_exporter(pki: &Pki) -> (Proc, u16) {
    let port = free_port();
    let mut command = exporter_command(pki);
    command.arg(format!("--web.listen-address=127.0.0.1:{port}"));
    let mut exporter = Proc::spawn("exporter", &mut command, pki.dir.path());
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        exporter.assert_running();
        assert!(Instant::now() < deadline, "port {port} never opened");
        std::thread::sleep(Duration::from_millis(50));
    }
    (exporter, port)
}

#[tokio::test]
#[ignore = "needs prometheus (apt-get install prometheus); scripts/test-all.sh runs it"]
async fn prometheus_scrapes_the_exporter_over_https_with_basic_auth() {
    let pki = Pki::with_server_cert("exporter");
    std::fs::write(
        pki.path("web.yml"),
        format!("{TLS_ONLY}{}", users_yaml("prometheus", "scrape-secret")),
    )
    .unwrap();
    std::fs::write(pki.path("exporter.yml"), exporter_config("")).unwrap();
    std::fs::write(pki.path("scrape-password"), "scrape-secret").unwrap();

    let (_exporter, exporter_port) = start_exporter(&pki);

    // The scrape config the README shows.
    let prometheus_yml = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n\
         \x20 - job_name: codearts-repo\n\
         \x20   scheme: https\n\
         \x20   tls_config:\n\
         \x20     ca_file: {ca}\n\
         \x20   basic_auth:\n\
         \x20     username: prometheus\n\
         \x20     password_file: {password}\n\
         \x20   static_configs:\n\
         \x20     - targets: ['127.0.0.1:{exporter_port}']\n",
        ca = pki.path("ca.pem").display(),
        password = pki.path("scrape-password").display(),
    );
    let (_prometheus, url) = spawn_prometheus(pki.dir.path(), &prometheus_yml).await;
    let up = query_until(
        &url,
        "up{job=\"codearts-repo\"}",
        Duration::from_secs(30),
        |result| first_value(result) == Some("1"),
    )
    .await;
    if first_value(&up) != Some("1") {
        let health = match reqwest::get(format!("{url}/api/v1/targets")).await {
            Ok(answer) => answer.text().await.unwrap_or_default(),
            Err(err) => err.to_string(),
        };
        panic!("Prometheus never saw up == 1 (last: {up:?}); targets: {health}");
    }
}

/// The value of a query result's first sample.
fn first_value(result: &[serde_json::Value]) -> Option<&str> {
    result
        .first()
        .and_then(|sample| sample["value"][1].as_str())
}

#[test]
fn a_broken_web_config_exits_2_naming_the_key() {
    let pki = Pki::new();
    std::fs::write(pki.path("exporter.yml"), exporter_config("")).unwrap();
    std::fs::write(
        pki.path("web.yml"),
        "tls_server_config:\n  cert_file: missing.pem\n  key_file: missing-key.pem\n",
    )
    .unwrap();
    let output = exporter_command(&pki)
        .arg("--web.listen-address=127.0.0.1:0")
        .output()
        .expect("run the exporter");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tls_server_config.cert_file: cannot read ")
            && stderr.contains("missing.pem")
            && stderr.trim().lines().count() == 1,
        "{stderr}"
    );
}

/// A web config as node_exporter's users write it, with every section of exporter-toolkit's
/// format, starts the exporter (it used to stop it with exit 2 at `http_server_config`), which
/// then serves HTTPS with the configured headers and says that it serves HTTP/1.1 only.
#[tokio::test]
async fn a_node_exporter_web_config_with_every_section_starts_the_exporter() {
    let pki = Pki::with_server_cert("exporter");
    let hash = bcrypt::hash("scrape-secret", 4).expect("bcrypt");
    std::fs::write(
        pki.path("web.yml"),
        format!(
            "tls_server_config:
  cert_file: server.pem
  key_file: server-key.pem
  min_version: TLS12
  cipher_suites:
    - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
  prefer_server_cipher_suites: true
  curve_preferences: [X25519, CurveP256]
http_server_config:
  http2: true
  headers:
    X-Content-Type-Options: nosniff
    Strict-Transport-Security: max-age=31536000
rate_limit:
  interval: 100ms
  burst: 20
basic_auth_users:
  prometheus: '{hash}'
auth_excluded_paths: [/readyz]
"
        ),
    )
    .unwrap();
    std::fs::write(pki.path("exporter.yml"), exporter_config("")).unwrap();
    let (_exporter, port) = start_exporter(&pki);

    let client = https_client(&pki, None);
    let metrics = client
        .get(format!("https://127.0.0.1:{port}/metrics"))
        .basic_auth("prometheus", Some("scrape-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), reqwest::StatusCode::OK);
    assert_eq!(metrics.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        metrics.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let readyz = client
        .get(format!("https://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .unwrap();
    assert_ne!(readyz.status(), reqwest::StatusCode::UNAUTHORIZED);

    let logged = std::fs::read_to_string(pki.path("exporter.log")).unwrap();
    assert!(
        logged.contains("http_server_config.http2: true is accepted, but only HTTP/1.1 is served"),
        "{logged}"
    );
}
