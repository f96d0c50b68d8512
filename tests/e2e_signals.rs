//! Signals on the real binary: SIGHUP reloads the config file, SIGTERM exits 0.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

async fn up_ids(port: u16) -> Vec<String> {
    let body = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    samples(&body)
        .into_iter()
        .filter(|s| s.name == "codearts_repo_statistics_up" && s.value == 1.0)
        .map(|s| s.labels["repository_id"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_adds_a_repository_and_sigterm_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, endpoint) =
        spawn_sim(&["--repositories", "10", "--latency", "1ms"], dir.path()).await;
    let config = dir.path().join("config.yml");
    let write = |ids: &[u32]| {
        std::fs::write(
            &config,
            config_yaml(&endpoint, ids, "").replace("test-token", "demo-token"),
        )
        .unwrap()
    };
    write(&[2_111_915_000]);
    let port = procs::free_port();
    let mut exporter = spawn_exporter(
        &["--config.file", config.to_str().unwrap()],
        port,
        dir.path(),
    )
    .await;
    assert_eq!(up_ids(port).await, ["2111915000"]);

    write(&[2_111_915_000, 2_111_915_001]);
    signal(exporter.pid(), "HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ids = up_ids(port).await;
        if ids.len() == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the reload did not add the repository: {ids:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A broken file on SIGHUP keeps the running config.
    std::fs::write(&config, "codearts: [broken").unwrap();
    signal(exporter.pid(), "HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(up_ids(port).await.len(), 2);
    let body = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        value(
            &body,
            "codearts_repo_exporter_config_last_reload_successful",
            &[]
        ),
        Some(0.0)
    );

    signal(exporter.pid(), "TERM");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = exporter.try_wait() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the exporter did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status.code(), Some(0), "SIGTERM exits 0");
}
