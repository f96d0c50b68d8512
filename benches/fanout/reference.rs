//! The references the exporter is compared with: Debian's `prometheus-blackbox-exporter`
//! probing the same URLs, the simulator's own throughput, and one wave of 100 status requests
//! sent straight to the simulator.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use codearts_sim::FIRST_ID;
use codearts_testkit::procs::{self, Proc};
use futures::StreamExt;

use super::fanouts::SCRAPES_PER_N;
use super::harness::{
    cpu, ids, median, start_simulator, status_url, CONCURRENCY, LATENCY, START_TIMEOUT, TOKEN,
};
use super::Result;

pub const BLACKBOX: &str = "prometheus-blackbox-exporter";
pub const BLACKBOX_INSTALL: &str = "apt-get install prometheus-blackbox-exporter";

pub struct Blackbox {
    pub probes: usize,
    pub cpu_per_probe: f64,
    pub wall: Duration,
}

/// blackbox_exporter on a free port with one `http` module like the exporter's requests.
async fn start_blackbox(dir: &Path) -> Result<(Proc, String)> {
    let path = dir.join("blackbox.yml");
    std::fs::write(
        &path,
        format!(
            "modules:\n  codearts:\n    prober: http\n    timeout: 10s\n    http:\n      \
             method: GET\n      headers:\n        X-Auth-Token: {TOKEN}\n      \
             valid_status_codes: [200]\n      preferred_ip_protocol: ip4\n"
        ),
    )?;
    let binary = procs::require_binary(&[BLACKBOX], BLACKBOX_INSTALL);
    let address = format!("127.0.0.1:{}", procs::free_port());
    let mut command = Command::new(binary);
    command
        .arg(format!("--config.file={}", path.display()))
        .arg(format!("--web.listen-address={address}"))
        .arg("--log.level=error");
    let mut blackbox = Proc::spawn("blackbox", &mut command, dir);
    let base = format!("http://{address}");
    blackbox
        .wait_http_ok(&format!("{base}/-/healthy"), START_TIMEOUT)
        .await;
    Ok((blackbox, base))
}

/// blackbox_exporter probing `probes` status URLs, 100 at a time; CPU of its process only.
pub async fn measure_blackbox(
    client: &reqwest::Client,
    dir: &Path,
    probes: usize,
    ticks: f64,
) -> Result<Blackbox> {
    let (_sim, endpoint) = start_simulator(dir, probes, LATENCY).await?;
    let (blackbox, base) = start_blackbox(dir).await?;
    let urls: Vec<String> = ids(probes)
        .map(|id| {
            let target = status_url(&endpoint, id);
            let mut url = reqwest::Url::parse(&format!("{base}/probe")).expect("a valid base");
            url.query_pairs_mut()
                .append_pair("module", "codearts")
                .append_pair("target", &target);
            url.to_string()
        })
        .collect();
    let cpu_before = cpu(blackbox.pid(), ticks)?;
    let started = Instant::now();
    let failures = futures::stream::iter(urls)
        .map(|url| async move {
            let body = client.get(url).send().await?.text().await?;
            Ok::<bool, reqwest::Error>(body.lines().any(|line| line == "probe_success 1"))
        })
        .buffer_unordered(CONCURRENCY)
        .filter(|ok| futures::future::ready(!matches!(ok, Ok(true))))
        .count()
        .await;
    let wall = started.elapsed();
    let cpu = cpu(blackbox.pid(), ticks)? - cpu_before;
    if failures > 0 {
        return Err(format!("{failures} of {probes} blackbox probes failed").into());
    }
    Ok(Blackbox {
        probes,
        cpu_per_probe: cpu / probes as f64,
        wall,
    })
}

/// Simulator requests per second at latency 0 with 100 concurrent clients (this process's
/// client shares the two cores, so it is a lower bound).
pub async fn measure_simulator(client: &reqwest::Client, dir: &Path) -> Result<f64> {
    const REPOSITORIES: usize = 1_000;
    const REQUESTS: usize = 30_000;
    let (_sim, endpoint) = start_simulator(dir, REPOSITORIES, Duration::ZERO).await?;
    let urls: Vec<String> = (0..REQUESTS)
        .map(|i| {
            let id = u64::from(FIRST_ID) + (i % REPOSITORIES) as u64;
            status_url(&endpoint, id)
        })
        .collect();
    let started = Instant::now();
    let failures = futures::stream::iter(urls)
        .map(|url| async move { status_ok(client, &url).await })
        .buffer_unordered(CONCURRENCY)
        .filter(|ok| futures::future::ready(!matches!(ok, Ok(true))))
        .count()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    if failures > 0 {
        return Err(format!("{failures} of {REQUESTS} simulator requests failed").into());
    }
    Ok(REQUESTS as f64 / elapsed)
}

/// The reference for N = 100: one wave of 100 status requests sent straight to a 50 ms
/// simulator by the bench's own client, no exporter between (median of [`SCRAPES_PER_N`] waves
/// after a first that opens the connections). On two shared cores the slowest of 100
/// simultaneous answers is later than 50 ms, and a scrape cannot finish before it.
pub async fn measure_direct_wave(client: &reqwest::Client, dir: &Path) -> Result<Duration> {
    const N: usize = 100;
    let (_sim, endpoint) = start_simulator(dir, N, LATENCY).await?;
    let urls: Vec<String> = ids(N).map(|id| status_url(&endpoint, id)).collect();
    let mut walls = Vec::new();
    for _ in 0..=SCRAPES_PER_N {
        let started = Instant::now();
        let answers =
            futures::future::join_all(urls.iter().map(|url| status_ok(client, url))).await;
        walls.push(started.elapsed().as_secs_f64());
        if !answers.iter().all(|ok| matches!(ok, Ok(true))) {
            return Err("a direct status request failed".into());
        }
    }
    walls.remove(0);
    Ok(Duration::from_secs_f64(median(&mut walls)))
}

/// One status request straight to the simulator, its body read; whether it answered 2xx.
async fn status_ok(client: &reqwest::Client, url: &str) -> reqwest::Result<bool> {
    let answer = client.get(url).header("X-Auth-Token", TOKEN).send().await?;
    let ok = answer.status().is_success();
    answer.bytes().await?;
    Ok(ok)
}
