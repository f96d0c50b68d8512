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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_adds_a_repository_and_sigterm_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, endpoint) =
        spawn_sim(&["--repositories", "10", "--latency", "1ms"], dir.path()).await;
    let config = dir.path().join("config.yml");
    let write = |ids: &[u32]| std::fs::write(&config, sim_config(&endpoint, ids, "")).unwrap();
    write(&[2_111_915_000]);
    let mut exporter =
        spawn_exporter(&["--config.file", config.to_str().unwrap()], dir.path()).await;
    assert_eq!(exporter.scrape(None).await.healthy(), [2_111_915_000]);

    write(&[2_111_915_000, 2_111_915_001]);
    signal(exporter.proc.pid(), "HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ids = exporter.scrape(None).await.healthy();
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
    signal(exporter.proc.pid(), "HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(exporter.scrape(None).await.healthy().len(), 2);
    let body = exporter.scrape(None).await;
    assert_eq!(body.reload_successful(), Some(0.0));

    signal(exporter.proc.pid(), "TERM");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = exporter.proc.try_wait() {
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
