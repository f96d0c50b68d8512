//! The fan-out benchmark of issue 8: the real exporter and simulator binaries as separate
//! processes on loopback, measured from outside through `/proc` and the simulator's `/-/stats`.
//!
//! Two modes, chosen by the `--bench` argument:
//!
//! - `cargo bench --bench fanout` (cargo passes `--bench`): the full run. For N = 100, 1,000 and
//!   10,000 repositories at 50 ms latency and concurrency 100 it measures the scrape wall time
//!   against the ideal `ceil(N / C) × L`, the exporter's CPU per repository status, its idle and
//!   peak RSS, the TCP connections one scrape opens, `/metrics` served from the cache at 10,000,
//!   the same CPU figure for Debian's `prometheus-blackbox-exporter` probing the same URLs, and the
//!   simulator's own throughput. It prints a markdown table with each target and pass/fail
//!   (BENCHMARKS.md holds a recorded run). A missed target is reported, not a panic.
//! - Without `--bench` (as `cargo test --all-targets` runs a `harness = false` bench): a quick
//!   correctness check for CI — N = 100 at 5 ms; every repository must show
//!   `codearts_repo_statistics_up 1` and the simulator must have seen exactly N status requests.
//!   It never looks at a clock, so a slow debug build or a busy machine cannot fail it.
//!
//! Every child process is killed when its guard drops, so a panic leaves no strays.
//! It is not a load test of CodeArts: only the simulator is ever contacted.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use codearts_sim::FIRST_ID;
use codearts_testkit::proc_stats::{clock_ticks, cpu_seconds, proc_sample};
use codearts_testkit::procs::{self, Proc};
use futures::StreamExt;

const EXPORTER: &str = env!("CARGO_BIN_EXE_codearts-repo-exporter");
const SIMULATOR: &str = env!("CARGO_BIN_EXE_codearts-sim");
const BLACKBOX: &str = "prometheus-blackbox-exporter";
const BLACKBOX_INSTALL: &str = "apt-get install prometheus-blackbox-exporter";
/// How long a child process may take to answer after its start.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const TOKEN: &str = "demo-token";
const SCRAPE_TIMEOUT_HEADER: &str = "X-Prometheus-Scrape-Timeout-Seconds";

/// The fixed parameters.
const CONCURRENCY: usize = 100;
const LATENCY: Duration = Duration::from_millis(50);
const SCRAPES_PER_N: usize = 8;
const CACHE_SCRAPES: usize = 25;
const MIB: f64 = 1024.0 * 1024.0;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Result<T> = std::result::Result<T, BoxError>;

fn main() -> Result<()> {
    let full = std::env::args().any(|arg| arg == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if full {
        runtime.block_on(full_run())
    } else {
        runtime.block_on(quick_check())
    }
}

// ---------------------------------------------------------------------------------------------
// Processes (each killed when its guard drops, its output in a log file under the run's
// directory)

/// `codearts-sim` with `repositories` uniform repositories answering after `latency`, once it
/// answers; and its endpoint.
async fn start_simulator(
    dir: &Path,
    repositories: usize,
    latency: Duration,
) -> Result<(Proc, String)> {
    let port = procs::free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut command = Command::new(SIMULATOR);
    command
        .args(["--listen", &format!("127.0.0.1:{port}"), "--repositories"])
        .arg(repositories.to_string())
        .arg("--latency")
        .arg(format!("{}ms", latency.as_millis()));
    let mut sim = Proc::spawn(&format!("codearts-sim-{port}"), &mut command, dir);
    sim.wait_http_ok(&format!("{endpoint}/-/stats"), START_TIMEOUT)
        .await;
    Ok((sim, endpoint))
}

/// The exporter's config: a static list of `repositories` simulator ids.
fn exporter_config(endpoint: &str, repositories: usize, min_interval: &str) -> String {
    let mut yaml =
        format!("codearts:\n  endpoint: {endpoint}\n  auth:\n    token: {TOKEN}\nrepositories:\n");
    for id in ids(repositories) {
        yaml.push_str(&format!("  - id: {id}\n"));
    }
    yaml.push_str(&format!(
        "scrape:\n  concurrency: {CONCURRENCY}\n  request_timeout: 10s\n  max_duration: 120s\n  \
         min_interval: {min_interval}\n  retries: 0\n"
    ));
    yaml
}

/// The simulator's statistics-status URL of repository `id`.
fn status_url(endpoint: &str, id: u64) -> String {
    format!("{endpoint}/v4/repositories/{id}/repository/statistics-status")
}

fn ids(repositories: usize) -> impl Iterator<Item = u64> {
    (0..repositories as u64).map(|i| u64::from(FIRST_ID) + i)
}

/// The exporter on a free port with `config` (written to `dir`), once it answers `/healthz`.
async fn start_exporter(dir: &Path, config: &str) -> Result<(Proc, String)> {
    let port = procs::free_port();
    // Several exporters run at once; each keeps its own file.
    let path = dir.join(format!("exporter-{port}.yml"));
    std::fs::write(&path, config)?;
    let address = format!("127.0.0.1:{port}");
    let mut command = Command::new(EXPORTER);
    command.arg("--config.file").arg(&path).args([
        "--web.listen-address",
        &address,
        "--log.level",
        "error",
    ]);
    let mut exporter = Proc::spawn(&format!("exporter-{port}"), &mut command, dir);
    let base = format!("http://{address}");
    exporter
        .wait_http_ok(&format!("{base}/healthz"), START_TIMEOUT)
        .await;
    Ok((exporter, base))
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

/// `VmRSS` or `VmHWM` of `pid`, in bytes.
fn rss_bytes(pid: u32) -> f64 {
    proc_sample(pid).rss_kib as f64 * 1024.0
}

fn peak_rss_bytes(pid: u32) -> f64 {
    proc_sample(pid).hwm_kib as f64 * 1024.0
}

fn cpu(pid: u32, ticks: f64) -> Result<f64> {
    Ok(cpu_seconds(pid, ticks).ok_or_else(|| format!("no CPU time for process {pid}"))?)
}

#[derive(Clone, Copy)]
struct SimCounters {
    status_requests: u64,
    connections_accepted: u64,
}

async fn sim_counters(client: &reqwest::Client, endpoint: &str) -> Result<SimCounters> {
    let stats: serde_json::Value = client
        .get(format!("{endpoint}/-/stats"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let field = |name: &str| {
        stats[name]
            .as_u64()
            .ok_or_else(|| format!("/-/stats has no {name}: {stats}"))
    };
    Ok(SimCounters {
        status_requests: field("status_requests")?,
        connections_accepted: field("connections_accepted")?,
    })
}

/// `GET /metrics` with a scrape timeout long enough for the largest N; a non-2xx is an error.
async fn get_metrics(client: &reqwest::Client, base: &str) -> Result<reqwest::Response> {
    Ok(client
        .get(format!("{base}/metrics"))
        .header(SCRAPE_TIMEOUT_HEADER, "120")
        .send()
        .await?
        .error_for_status()?)
}

/// One `/metrics`, timed from the request to its last byte. The body is kept as received and
/// never copied: a 12 MiB copy between two timed scrapes made the next one slower in this
/// client, not in the exporter.
async fn scrape(client: &reqwest::Client, base: &str) -> Result<(bytes::Bytes, Duration)> {
    let started = Instant::now();
    let body = get_metrics(client, base).await?.bytes().await?;
    Ok((body, started.elapsed()))
}

/// One `/metrics`, timed from the request to its last byte, with the body read piece by piece
/// and dropped, as `curl -o /dev/null` does: the time to serve it, not to gather 12 MiB in
/// the client (collecting and copying the body once made the next timed scrape 20 ms slower,
/// the client's allocator handing back the copy's pages).
async fn scrape_discarding(client: &reqwest::Client, base: &str) -> Result<(usize, Duration)> {
    let started = Instant::now();
    let mut answer = get_metrics(client, base).await?;
    let mut bytes = 0;
    while let Some(piece) = answer.chunk().await? {
        bytes += piece.len();
    }
    Ok((bytes, started.elapsed()))
}

/// The ids whose `codearts_repo_statistics_up` is 1 in `body`.
fn ids_up(body: &str) -> BTreeSet<u64> {
    body.lines()
        .filter_map(|line| line.strip_prefix("codearts_repo_statistics_up{"))
        .filter_map(|rest| {
            let (labels, value) = rest.rsplit_once("} ")?;
            if value.trim() != "1" {
                return None;
            }
            let id = labels
                .split(',')
                .find_map(|pair| pair.strip_prefix("repository_id=\""))?;
            id.trim_end_matches('"').parse().ok()
        })
        .collect()
}

fn check_all_up(body: &[u8], repositories: usize) -> Result<()> {
    let body = std::str::from_utf8(body)?;
    let up = ids_up(body);
    let expected: BTreeSet<u64> = ids(repositories).collect();
    if up != expected {
        let missing: Vec<_> = expected.difference(&up).take(5).collect();
        return Err(format!(
            "{} of {repositories} repositories show up 1; missing e.g. {missing:?}",
            up.len()
        )
        .into());
    }
    Ok(())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

fn http_client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(2 * CONCURRENCY)
        .timeout(Duration::from_secs(180))
        .build()?)
}

// ---------------------------------------------------------------------------------------------
// Quick mode

async fn quick_check() -> Result<()> {
    const N: usize = 100;
    let client = http_client()?;
    let dir = tempfile::tempdir()?;
    let (_sim, endpoint) = start_simulator(dir.path(), N, Duration::from_millis(5)).await?;
    let (_exporter, base) =
        start_exporter(dir.path(), &exporter_config(&endpoint, N, "0s")).await?;
    let before = sim_counters(&client, &endpoint).await?;
    let (body, _) = scrape(&client, &base).await?;
    let after = sim_counters(&client, &endpoint).await?;
    check_all_up(&body, N)?;
    let asked = after.status_requests - before.status_requests;
    if asked != N as u64 {
        return Err(format!("the simulator saw {asked} status requests, expected {N}").into());
    }
    println!("fanout quick check: {N} repositories up, {asked} status requests (run `cargo bench --bench fanout` for figures)");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Full run

/// What one N's scrapes showed.
struct FanOut {
    repositories: usize,
    wall_median: Duration,
    walls: Vec<Duration>,
    cpu_per_status: f64,
    connections_max: u64,
    connections_first: u64,
    idle_rss: f64,
    peak_rss: f64,
}

impl FanOut {
    fn ideal(&self) -> Duration {
        LATENCY * self.repositories.div_ceil(CONCURRENCY) as u32
    }

    fn wall_ratio(&self) -> f64 {
        self.wall_median.as_secs_f64() / self.ideal().as_secs_f64()
    }
}

struct Cached {
    median: Duration,
    body_bytes: usize,
    /// Of the exporter serving from the cache, which keeps the last answer's text.
    peak_rss: f64,
}

struct Blackbox {
    probes: usize,
    cpu_per_probe: f64,
    wall: Duration,
}

/// One N under test: its own simulator and exporter, and what its scrapes showed so far.
///
/// N = 1,000 and 10,000 run side by side and take turns, one scrape each per round, so that a
/// change in the machine's load during the run (it is shared) affects both alike: the
/// CPU-growth target compares them, and measuring them minutes apart once made a 20 % swing.
struct Subject {
    repositories: usize,
    _sim: Proc,
    endpoint: String,
    exporter: Proc,
    base: String,
    idle_rss: f64,
    walls: Vec<Duration>,
    connections: Vec<u64>,
    cpu: f64,
}

impl Subject {
    async fn start(dir: &Path, repositories: usize) -> Result<Self> {
        let (sim, endpoint) = start_simulator(dir, repositories, LATENCY).await?;
        let (exporter, base) =
            start_exporter(dir, &exporter_config(&endpoint, repositories, "0s")).await?;
        Ok(Self {
            repositories,
            _sim: sim,
            endpoint,
            exporter,
            base,
            idle_rss: 0.0,
            walls: Vec::new(),
            connections: Vec::new(),
            cpu: 0.0,
        })
    }

    fn measure_idle(&mut self) -> Result<()> {
        self.idle_rss = rss_bytes(self.exporter.pid());
        Ok(())
    }

    /// One scrape: every repository must be asked exactly once (and be up, on the first).
    async fn scrape(&mut self, client: &reqwest::Client, ticks: f64) -> Result<()> {
        let pid = self.exporter.pid();
        let before = sim_counters(client, &self.endpoint).await?;
        let cpu_before = cpu(pid, ticks)?;
        let (body, wall) = scrape(client, &self.base).await?;
        self.cpu += cpu(pid, ticks)? - cpu_before;
        let after = sim_counters(client, &self.endpoint).await?;
        if self.walls.is_empty() {
            check_all_up(&body, self.repositories)?;
        }
        let asked = after.status_requests - before.status_requests;
        if asked != self.repositories as u64 {
            return Err(format!(
                "N={}, scrape {}: {asked} status requests, expected {}",
                self.repositories,
                self.walls.len(),
                self.repositories
            )
            .into());
        }
        self.walls.push(wall);
        self.connections
            .push(after.connections_accepted - before.connections_accepted);
        Ok(())
    }

    fn finish(self) -> Result<FanOut> {
        let peak_rss = peak_rss_bytes(self.exporter.pid());
        let mut seconds: Vec<f64> = self.walls.iter().map(Duration::as_secs_f64).collect();
        Ok(FanOut {
            repositories: self.repositories,
            wall_median: Duration::from_secs_f64(median(&mut seconds)),
            cpu_per_status: self.cpu / (self.walls.len() * self.repositories) as f64,
            connections_max: self.connections.iter().copied().max().unwrap_or(0),
            connections_first: self.connections.first().copied().unwrap_or(0),
            walls: self.walls,
            idle_rss: self.idle_rss,
            peak_rss,
        })
    }
}

/// [`SCRAPES_PER_N`] scrapes each of N = 100, 1,000 and 10,000 at 50 ms.
async fn measure_fanouts(client: &reqwest::Client, dir: &Path, ticks: f64) -> Result<Vec<FanOut>> {
    let mut subjects = Vec::new();
    for repositories in [100, 1_000, 10_000] {
        subjects.push(Subject::start(dir, repositories).await?);
    }
    // Let start-up allocations settle before calling it idle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for subject in &mut subjects {
        subject.measure_idle()?;
    }
    // N = 100 alone and first: its wall time is a latency figure (one 50 ms wave), and after a
    // 10,000-repository scrape the other processes' clean-up overlapped it (1.165 → ~1.24).
    // N = 1,000 and 10,000 take turns, for the CPU-growth figure.
    for _ in 0..SCRAPES_PER_N {
        subjects[0].scrape(client, ticks).await?;
    }
    for _ in 0..SCRAPES_PER_N {
        for subject in &mut subjects[1..] {
            subject.scrape(client, ticks).await?;
        }
    }
    subjects.into_iter().map(Subject::finish).collect()
}

/// `/metrics` for `repositories` served from the cache (`min_interval: 1h`) after a first
/// scrape filled it; the simulator must see no request during the timed scrapes.
async fn measure_cache(
    client: &reqwest::Client,
    dir: &Path,
    repositories: usize,
) -> Result<Cached> {
    let (_sim, endpoint) = start_simulator(dir, repositories, LATENCY).await?;
    let (exporter, base) =
        start_exporter(dir, &exporter_config(&endpoint, repositories, "1h")).await?;
    let (body, _) = scrape(client, &base).await?;
    check_all_up(&body, repositories)?;
    drop(body);
    let before = sim_counters(client, &endpoint).await?;
    let mut times = Vec::new();
    let mut body_bytes = 0;
    for _ in 0..CACHE_SCRAPES {
        let (bytes, wall) = scrape_discarding(client, &base).await?;
        body_bytes = bytes;
        times.push(wall.as_secs_f64());
    }
    let (body, _) = scrape(client, &base).await?;
    check_all_up(&body, repositories)?;
    let after = sim_counters(client, &endpoint).await?;
    if after.status_requests != before.status_requests {
        return Err("scrapes meant to be served from the cache reached the simulator".into());
    }
    Ok(Cached {
        median: Duration::from_secs_f64(median(&mut times)),
        body_bytes,
        peak_rss: peak_rss_bytes(exporter.pid()),
    })
}

/// blackbox_exporter probing `probes` status URLs, 100 at a time; CPU of its process only.
async fn measure_blackbox(
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
async fn measure_simulator(client: &reqwest::Client, dir: &Path) -> Result<f64> {
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
async fn measure_direct_wave(client: &reqwest::Client, dir: &Path) -> Result<Duration> {
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

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "?".to_owned())
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "FAIL"
    }
}

async fn full_run() -> Result<()> {
    // The benchmark compares against blackbox_exporter: without it, stop before measuring.
    procs::require_binary(&[BLACKBOX], BLACKBOX_INSTALL);
    let started = Instant::now();
    let ticks = clock_ticks();
    let client = http_client()?;
    let dir = tempfile::tempdir()?;
    eprintln!("load average before: {}", load_average());

    let simulator_rate = measure_simulator(&client, dir.path()).await?;
    eprintln!("simulator: {simulator_rate:.0} requests/s at latency 0");
    let direct_wave = measure_direct_wave(&client, dir.path()).await?;
    eprintln!("direct wave of 100 at 50 ms: {direct_wave:?}");

    let fanouts = measure_fanouts(&client, dir.path(), ticks).await?;
    for fanout in &fanouts {
        eprintln!(
            "N={}: walls {:?}, {:.1} µs CPU/status, connections first {} max {}",
            fanout.repositories,
            fanout.walls,
            fanout.cpu_per_status * 1e6,
            fanout.connections_first,
            fanout.connections_max
        );
    }
    let cached = measure_cache(&client, dir.path(), 10_000).await?;
    eprintln!(
        "cache N=10000: median {:?}, peak RSS {:.1} MiB",
        cached.median,
        cached.peak_rss / MIB
    );
    let mut blackbox = Vec::new();
    for probes in [1_000, 10_000] {
        let measured = measure_blackbox(&client, dir.path(), probes, ticks).await?;
        eprintln!(
            "blackbox N={probes}: {:.1} µs CPU/probe, {:?}",
            measured.cpu_per_probe * 1e6,
            measured.wall
        );
        blackbox.push(measured);
    }
    eprintln!("load average after: {}", load_average());

    print_table(&fanouts, &cached, &blackbox, simulator_rate, direct_wave);
    println!(
        "\nTotal run time {:.0} s; load average at the end {}.",
        started.elapsed().as_secs_f64(),
        load_average()
    );
    Ok(())
}

fn print_table(
    fanouts: &[FanOut],
    cached: &Cached,
    blackbox: &[Blackbox],
    simulator_rate: f64,
    direct_wave: Duration,
) {
    let at = |n: usize| {
        fanouts
            .iter()
            .find(|f| f.repositories == n)
            .expect("measured N")
    };
    let bb = |n: usize| blackbox.iter().find(|b| b.probes == n).expect("measured N");
    let us = |seconds: f64| format!("{:.1} µs", seconds * 1e6);
    let mib = |bytes: f64| format!("{:.1} MiB", bytes / MIB);
    let (n100, n1k, n10k) = (at(100), at(1_000), at(10_000));

    println!("\nC = {CONCURRENCY}, L = {} ms; scrape wall time is the median of {SCRAPES_PER_N} scrapes (N = 1,000 and 10,000 taking turns); CPU is user + sys of the exporter (or blackbox) process only.\n", LATENCY.as_millis());
    println!("| measure | N | value | ideal / reference | ratio | target | result |");
    println!("|---|---:|---:|---:|---:|---|---|");
    for f in fanouts {
        let target = match f.repositories {
            100 => Some(1.25),
            10_000 => Some(1.10),
            _ => None,
        };
        println!(
            "| scrape wall time | {} | {:.3} s | {:.3} s | {:.3} | {} | {} |",
            f.repositories,
            f.wall_median.as_secs_f64(),
            f.ideal().as_secs_f64(),
            f.wall_ratio(),
            target.map_or("—".to_owned(), |t| format!("≤ {t:.2}")),
            target.map_or("—", |t| verdict(f.wall_ratio() <= t)),
        );
    }
    println!(
        "| 100 requests sent straight to the simulator, one wave (no exporter) | 100 | {:.3} s | 0.050 s | {:.3} | — | — |",
        direct_wave.as_secs_f64(),
        direct_wave.as_secs_f64() / LATENCY.as_secs_f64()
    );
    println!(
        "| scrape wall time ÷ that direct wave | 100 | {:.3} s | {:.3} s | {:.3} | — | — |",
        n100.wall_median.as_secs_f64(),
        direct_wave.as_secs_f64(),
        n100.wall_median.as_secs_f64() / direct_wave.as_secs_f64()
    );
    for f in fanouts {
        println!(
            "| exporter CPU per status | {} | {} | | | | |",
            f.repositories,
            us(f.cpu_per_status)
        );
    }
    for b in blackbox {
        println!(
            "| blackbox_exporter CPU per probe | {} | {} | wall {:.3} s | | | |",
            b.probes,
            us(b.cpu_per_probe),
            b.wall.as_secs_f64()
        );
    }
    let vs_blackbox = n10k.cpu_per_status / bb(10_000).cpu_per_probe;
    println!(
        "| exporter CPU per status ÷ blackbox CPU per probe | 10000 | {} | {} | {:.3} | ≤ 0.50 | {} |",
        us(n10k.cpu_per_status),
        us(bb(10_000).cpu_per_probe),
        vs_blackbox,
        verdict(vs_blackbox <= 0.5)
    );
    let growth = n10k.cpu_per_status / n1k.cpu_per_status;
    println!(
        "| CPU per status at 10000 ÷ at 1000 | 10000 / 1000 | {} | {} | {:.3} | ≤ 1.25 | {} |",
        us(n10k.cpu_per_status),
        us(n1k.cpu_per_status),
        growth,
        verdict(growth <= 1.25)
    );
    let limit = CONCURRENCY as u64 + 10;
    for f in fanouts {
        println!(
            "| TCP connections per scrape (max of {SCRAPES_PER_N}; first scrape {}) | {} | {} | C + 10 = {limit} | {:.2} | ≤ {limit} | {} |",
            f.connections_first,
            f.repositories,
            f.connections_max,
            f.connections_max as f64 / limit as f64,
            verdict(f.connections_max <= limit)
        );
    }
    for f in [n100, n1k] {
        println!(
            "| peak RSS (VmHWM) | {} | {} | | | | |",
            f.repositories,
            mib(f.peak_rss)
        );
    }
    println!(
        "| peak RSS (VmHWM) | 10000 | {} | 40 MiB | {:.2} | ≤ 40 MiB | {} |",
        mib(n10k.peak_rss),
        n10k.peak_rss / (40.0 * MIB),
        verdict(n10k.peak_rss <= 40.0 * MIB)
    );
    println!(
        "| peak RSS serving from the cache (`min_interval: 1h`, the answer's text kept) | 10000 | {} | 40 MiB | {:.2} | ≤ 40 MiB | {} |",
        mib(cached.peak_rss),
        cached.peak_rss / (40.0 * MIB),
        verdict(cached.peak_rss <= 40.0 * MIB)
    );
    for f in fanouts {
        println!(
            "| idle RSS after start (VmRSS) | {} | {} | 15 MiB | {:.2} | ≤ 15 MiB | {} |",
            f.repositories,
            mib(f.idle_rss),
            f.idle_rss / (15.0 * MIB),
            verdict(f.idle_rss <= 15.0 * MIB)
        );
    }
    println!(
        "| /metrics from cache (median of {CACHE_SCRAPES}, to the last byte; body {:.1} MiB) | 10000 | {:.1} ms | 50 ms | {:.2} | ≤ 50 ms | {} |",
        cached.body_bytes as f64 / MIB,
        cached.median.as_secs_f64() * 1e3,
        cached.median.as_secs_f64() / 0.05,
        verdict(cached.median <= Duration::from_millis(50))
    );
    let needed = CONCURRENCY as f64 / LATENCY.as_secs_f64();
    println!(
        "| simulator throughput (latency 0, 100 clients) | 30000 requests | {simulator_rate:.0} req/s | C / L = {needed:.0} req/s | {:.1} | ≫ 1 (not the bottleneck) | {} |",
        simulator_rate / needed,
        verdict(simulator_rate >= 2.0 * needed)
    );
}
