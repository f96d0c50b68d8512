//! A real Alertmanager (Debian package `prometheus-alertmanager`) and a webhook receiver that
//! records what it sends, for end-to-end tests of alert delivery.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::procs;

/// A real Alertmanager with `config` as its configuration file, ready, without clustering.
/// Returns it with its `host:port`.
pub async fn spawn_alertmanager(dir: &Path, config: &str) -> (procs::Proc, String) {
    let binary = procs::require_binary(
        &["prometheus-alertmanager", "alertmanager"],
        "apt-get install -y prometheus-alertmanager (or alertmanager from prometheus.io)",
    );
    let config_file = dir.join("alertmanager.yml");
    std::fs::write(&config_file, config).expect("write alertmanager.yml");
    let addr = format!("127.0.0.1:{}", procs::free_port());
    let mut cmd = Command::new(binary);
    cmd.arg(format!("--config.file={}", config_file.display()))
        .arg(format!(
            "--storage.path={}",
            dir.join("alertmanager").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--cluster.listen-address=")
        .arg("--log.level=warn");
    let mut proc = procs::Proc::spawn("alertmanager", &mut cmd, dir);
    proc.wait_http_ok(&format!("http://{addr}/-/ready"), Duration::from_secs(30))
        .await;
    (proc, addr)
}

/// A webhook receiver on a free port of 127.0.0.1, serving until the test's runtime ends.
/// Returns its URL and the bodies of the requests it receives, in order.
pub async fn start_webhook() -> (String, mpsc::UnboundedReceiver<String>) {
    use axum::{extract::State, routing::post, Router};
    let (tx, rx) = mpsc::unbounded_channel::<String>();
    async fn receive(State(tx): State<mpsc::UnboundedSender<String>>, body: String) {
        let _ = tx.send(body);
    }
    let app = Router::new().route("/alerts", post(receive)).with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind webhook");
    let url = format!(
        "http://{}/alerts",
        listener.local_addr().expect("webhook address")
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, rx)
}
