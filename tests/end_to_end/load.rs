//! Load: 200 concurrent clients scrape `/metrics` for 60 s (`LOAD_SECONDS` to change). No
//! request fails, single flight keeps upstream requests to a small multiple of one fan-out per
//! round, and memory stays bounded (the RSS curve is printed).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpers::*;

const CLIENTS: usize = 200;
const REPOSITORIES: u32 = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs for a minute; scripts/test-all.sh runs it"]
async fn two_hundred_clients_scrape_for_a_minute_without_errors() {
    let seconds = seconds_from_env("LOAD_SECONDS", 60);
    let dir = tempfile::tempdir().unwrap();
    let (_sim, endpoint) = spawn_sim(
        SIMULATOR,
        &[
            "--repositories",
            &REPOSITORIES.to_string(),
            "--latency",
            "20ms",
        ],
        dir.path(),
    )
    .await;
    let ids: Vec<u32> = (0..REPOSITORIES).map(|i| 2_111_915_000 + i).collect();
    let exporter = spawn_exporter_with_config(
        EXPORTER,
        &sim_config(&endpoint, &ids, "  concurrency: 50\n"),
        dir.path(),
    )
    .await;
    let url = exporter.url("/metrics");

    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (client, url, ok, failed) = (client.clone(), url.clone(), ok.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let answer = client
                    .get(&url)
                    .header("X-Prometheus-Scrape-Timeout-Seconds", "10")
                    .timeout(Duration::from_secs(15))
                    .send()
                    .await;
                let good = match answer {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if good {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let mut curve = Vec::new();
    while Instant::now() < end {
        curve.push((
            started.elapsed().as_secs(),
            proc_sample(exporter.proc.pid()),
        ));
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    for task in tasks {
        task.await.unwrap();
    }
    curve.push((
        started.elapsed().as_secs(),
        proc_sample(exporter.proc.pid()),
    ));

    let stats = sim_stats(&endpoint).await;
    let upstream = stats["status_requests"].as_u64().unwrap();
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    println!("load: {seconds} s, {CLIENTS} clients: {ok} scrapes answered, {failed} failed, {upstream} upstream requests");
    println!(
        "load: RSS curve (s, KiB, fds): {:?}",
        curve
            .iter()
            .map(|(t, s)| (*t, s.rss_kib, s.fds))
            .collect::<Vec<_>>()
    );

    assert_eq!(failed, 0, "every scrape answered 200");
    assert!(ok > CLIENTS as u64, "the clients got answers");
    // Without single flight every scrape would cost 200 upstream requests; with it, the clients
    // waiting at the same moment share one fan-out.
    let fan_outs = upstream as f64 / f64::from(REPOSITORIES);
    assert!(
        fan_outs * 20.0 <= ok as f64,
        "{ok} scrapes caused {fan_outs:.0} fan-outs: fewer than 20 scrapes shared each"
    );
    let peak = curve.iter().map(|(_, s)| s.rss_kib).max().unwrap();
    assert!(
        peak < 128 * 1024,
        "RSS stayed below 128 MiB: peak {peak} KiB"
    );
}
