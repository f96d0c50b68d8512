//! Soak: the exporter in `--demo` (IAM renewals, discovery, every error class, a repository that
//! never answers) scraped every 500 ms. Memory and file descriptors are sampled and must not
//! grow beyond noise.
//!
//! CI runs 60 s. The 10-minute run of RELIABILITY.md:
//! `SOAK_SECONDS=600 cargo test --release --test end_to_end soak -- --include-ignored --nocapture`

use std::time::{Duration, Instant};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs for a minute; scripts/test-all.sh runs it"]
async fn memory_and_descriptors_stay_flat_under_failures() {
    let seconds = seconds_from_env("SOAK_SECONDS", 60);
    let sample_every = Duration::from_secs(if seconds >= 600 { 60 } else { 10 });
    let dir = tempfile::tempdir().unwrap();
    let mut exporter = spawn_exporter(EXPORTER, &["--demo"], dir.path()).await;
    let client = reqwest::Client::new();
    let url = exporter.url("/metrics");
    let started = Instant::now();
    let mut next_sample = started;
    let mut samples_taken = Vec::new();
    let mut scrapes = 0u64;
    // A probe, the landing page and readiness too, so every handler is exercised.
    let extra = [
        exporter.url("/"),
        exporter.url("/readyz"),
        exporter.url("/probe?repository_id=2111915001"),
        exporter.url("/probe?repository_id=abc"),
    ];
    while started.elapsed() < Duration::from_secs(seconds) {
        let answer = client
            .get(&url)
            .header("X-Prometheus-Scrape-Timeout-Seconds", "3")
            .send()
            .await
            .expect("scrape");
        assert!(answer.status().is_success());
        let body = answer.text().await.unwrap();
        assert!(body.contains("codearts_repo_statistics_up"));
        let _ = client.get(&extra[(scrapes % 4) as usize]).send().await;
        scrapes += 1;
        if Instant::now() >= next_sample {
            exporter.proc.assert_running();
            samples_taken.push((
                started.elapsed().as_secs(),
                proc_sample(exporter.proc.pid()),
            ));
            next_sample += sample_every;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    samples_taken.push((
        started.elapsed().as_secs(),
        proc_sample(exporter.proc.pid()),
    ));
    println!(
        "soak: {seconds} s, {scrapes} scrapes; (s, RSS KiB, fds): {:?}",
        samples_taken
            .iter()
            .map(|(t, s)| (*t, s.rss_kib, s.fds))
            .collect::<Vec<_>>()
    );
    // The first sample is taken before the caches and pools warm up; compare with the second.
    let warm = samples_taken[1.min(samples_taken.len() - 1)].1;
    let last = samples_taken.last().unwrap().1;
    assert!(
        last.rss_kib <= warm.rss_kib + 8 * 1024,
        "RSS grew from {} KiB to {} KiB",
        warm.rss_kib,
        last.rss_kib
    );
    assert!(
        last.fds <= warm.fds + 16,
        "file descriptors grew from {} to {}",
        warm.fds,
        last.fds
    );
}
