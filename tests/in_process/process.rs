//! The exporter binary as a process: SIGHUP reloads the config file, SIGTERM exits 0, and
//! `--demo` starts the simulator where asked.

use std::time::{Duration, Instant};

use crate::helpers::*;

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
    let (_sim, endpoint) = spawn_sim(
        SIMULATOR,
        &["--repositories", "10", "--latency", "1ms"],
        dir.path(),
    )
    .await;
    let mut exporter = spawn_exporter_with_config(
        EXPORTER,
        &sim_config(&endpoint, &[2_111_915_000], ""),
        dir.path(),
    )
    .await;
    let config = dir.path().join("config.yml");
    let write = |ids: &[u32]| std::fs::write(&config, sim_config(&endpoint, ids, "")).unwrap();
    assert_eq!(
        Body::from(exporter.scrape(None).await).healthy(),
        [2_111_915_000]
    );

    write(&[2_111_915_000, 2_111_915_001]);
    signal(exporter.proc.pid(), "HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ids = Body::from(exporter.scrape(None).await).healthy();
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
    assert_eq!(Body::from(exporter.scrape(None).await).healthy().len(), 2);
    let body = Body::from(exporter.scrape(None).await);
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

/// `--demo.listen-address` pins the simulator's port; the landing page's summary counts what
/// its table lists (static and discovered), and the simulator takes the documented credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_simulator_listens_where_asked_and_the_landing_page_counts_every_repository() {
    let dir = tempfile::tempdir().unwrap();
    let sim_listen = format!("127.0.0.1:{}", procs::free_port());
    let exporter = spawn_exporter(
        EXPORTER,
        &["--demo", "--demo.listen-address", &sim_listen],
        dir.path(),
    )
    .await;
    let client = reqwest::Client::new();
    let sim = format!("http://{sim_listen}");
    let stats = client.get(format!("{sim}/-/stats")).send().await.unwrap();
    assert!(
        stats.status().is_success(),
        "the simulator is on {sim_listen}"
    );
    // The credentials the README and --help give: the static token works there, another not.
    let status_with = |token: &'static str| {
        let request = client
            .get(format!(
                "{sim}/v4/repositories/2111915000/repository/statistics-status"
            ))
            .header("X-Auth-Token", token)
            .send();
        async move { request.await.unwrap().status().as_u16() }
    };
    assert_eq!(status_with("demo-token").await, 200);
    assert_eq!(status_with("not-the-demo-token").await, 401);

    let landing = exporter.get("/").await;
    let rows = landing.matches("<tr><td>").count();
    assert!(rows > 6, "discovered repositories are listed: {rows}");
    assert!(
        landing.contains(&format!(
            " repositories={rows} static=6 discovered={} ",
            rows - 6
        )),
        "the summary counts the {rows} rows: {landing}"
    );
}
