//! End to end: the exporter binary behind `--web.config.file` (TLS + basic auth), scraped by a
//! real Prometheus (`apt-get install prometheus`) with `scheme: https`, `tls_config.ca_file` and
//! `basic_auth`, until Prometheus reports `up == 1`.

mod web_fixtures;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use web_fixtures::{exporter_config, https_client, Pki};

const EXPORTER: &str = env!("CARGO_BIN_EXE_codearts-repo-exporter");

/// Kills and reaps the child when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn wait_for_port(port: u16, child: &mut Running) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("process exited before listening: {status}");
        }
        assert!(Instant::now() < deadline, "port {port} never opened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn prometheus_scrapes_the_exporter_over_https_with_basic_auth() {
    let version = Command::new("prometheus").arg("--version").output();
    assert!(
        matches!(&version, Ok(out) if out.status.success()),
        "the real-Prometheus test needs the prometheus binary: apt-get install prometheus ({version:?})"
    );

    let pki = Pki::new();
    pki.install_server_cert(&pki.server_cert("exporter", 1));
    let hash = bcrypt::hash("scrape-secret", 4).expect("bcrypt");
    std::fs::write(
        pki.path("web.yml"),
        format!(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n\
             basic_auth_users:\n  prometheus: '{hash}'\n"
        ),
    )
    .unwrap();
    std::fs::write(pki.path("exporter.yml"), exporter_config("")).unwrap();
    std::fs::write(pki.path("scrape-password"), "scrape-secret").unwrap();

    let exporter_port = free_port();
    let mut exporter = Running(
        Command::new(EXPORTER)
            .arg("--config.file")
            .arg(pki.path("exporter.yml"))
            .arg("--web.config.file")
            .arg(pki.path("web.yml"))
            .arg(format!("--web.listen-address=127.0.0.1:{exporter_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the exporter"),
    );
    wait_for_port(exporter_port, &mut exporter);

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
    std::fs::write(pki.path("prometheus.yml"), prometheus_yml).unwrap();
    let prometheus_port = free_port();
    let mut prometheus = Running(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                pki.path("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                pki.path("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    wait_for_port(prometheus_port, &mut prometheus);

    let client = reqwest::Client::new();
    let query = format!(
        "http://127.0.0.1:{prometheus_port}/api/v1/query?query=up%7Bjob%3D%22codearts-repo%22%7D"
    );
    let targets = format!("http://127.0.0.1:{prometheus_port}/api/v1/targets");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = match client.get(&query).send().await {
            Ok(answer) => answer.json::<serde_json::Value>().await.ok(),
            Err(_) => None,
        };
        let value = up
            .as_ref()
            .and_then(|v| v["data"]["result"][0]["value"][1].as_str());
        if value == Some("1") {
            break;
        }
        if Instant::now() > deadline {
            let health = match client.get(&targets).send().await {
                Ok(answer) => answer.text().await.unwrap_or_default(),
                Err(err) => err.to_string(),
            };
            panic!("Prometheus never saw up == 1 (last: {up:?}); targets: {health}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
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
    let output = Command::new(EXPORTER)
        .arg("--config.file")
        .arg(pki.path("exporter.yml"))
        .arg("--web.config.file")
        .arg(pki.path("web.yml"))
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
    let pki = Pki::new();
    pki.install_server_cert(&pki.server_cert("exporter", 1));
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
    let log = pki.path("exporter.log");
    let port = free_port();
    let mut exporter = Running(
        Command::new(EXPORTER)
            .arg("--config.file")
            .arg(pki.path("exporter.yml"))
            .arg("--web.config.file")
            .arg(pki.path("web.yml"))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start the exporter"),
    );
    wait_for_port(port, &mut exporter);

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

    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("http_server_config.http2: true is accepted, but only HTTP/1.1 is served"),
        "{logged}"
    );
}
