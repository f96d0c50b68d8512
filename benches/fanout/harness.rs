//! What every part of the benchmark shares: starting the simulator and the exporter as
//! processes, the exporter's config, scraping `/metrics` (identity or gzip) timed to the last
//! byte, the simulator's counters, and readings of a process from `/proc`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use codearts_sim::FIRST_ID;
use codearts_testkit::proc_stats::{cpu_seconds, proc_sample};
use codearts_testkit::procs::{self, Proc};

use super::Result;

pub const EXPORTER: &str = env!("CARGO_BIN_EXE_codearts-repo-exporter");
const SIMULATOR: &str = env!("CARGO_BIN_EXE_codearts-sim");
/// How long a child process may take to answer after its start.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
pub const TOKEN: &str = "demo-token";
const SCRAPE_TIMEOUT_HEADER: &str = "X-Prometheus-Scrape-Timeout-Seconds";

/// The fixed parameters.
pub const CONCURRENCY: usize = 100;
pub const LATENCY: Duration = Duration::from_millis(50);
pub const MIB: f64 = 1024.0 * 1024.0;

/// `ceil(requests / C) × L`: the fan-out's wall time if every wave took exactly L.
pub fn ideal(requests: usize) -> Duration {
    LATENCY * requests.div_ceil(CONCURRENCY) as u32
}

// ---------------------------------------------------------------------------------------------
// Processes (each killed when its guard drops, its output in a log file under the run's
// directory)

/// `codearts-sim` with `repositories` uniform repositories answering after `latency`, once it
/// answers; and its endpoint.
pub async fn start_simulator(
    dir: &Path,
    repositories: usize,
    latency: Duration,
) -> Result<(Proc, String)> {
    start_simulator_with(dir, repositories, latency, &[]).await
}

/// `codearts-sim` with `repositories` uniform repositories answering at once, with activity:
/// `pushes_per_minute` of them pushed to per minute, each push starting a statistics run that
/// waits 30 s and runs 90 s.
pub async fn start_active_simulator(
    dir: &Path,
    repositories: usize,
    pushes_per_minute: f64,
) -> Result<(Proc, String)> {
    let rate = pushes_per_minute.to_string();
    start_simulator_with(
        dir,
        repositories,
        Duration::ZERO,
        &["--pushes-per-minute", &rate],
    )
    .await
}

async fn start_simulator_with(
    dir: &Path,
    repositories: usize,
    latency: Duration,
    args: &[&str],
) -> Result<(Proc, String)> {
    let port = procs::free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut command = Command::new(SIMULATOR);
    command
        .args(["--listen", &format!("127.0.0.1:{port}"), "--repositories"])
        .arg(repositories.to_string())
        .arg("--latency")
        .arg(format!("{}ms", latency.as_millis()))
        .args(args);
    let mut sim = Proc::spawn(&format!("codearts-sim-{port}"), &mut command, dir);
    sim.wait_http_ok(&format!("{endpoint}/-/stats"), START_TIMEOUT)
        .await;
    Ok((sim, endpoint))
}

/// An exporter's config: a static list of the simulator's first `repositories` ids, or
/// discovery, and the scrape settings the benchmark varies.
#[derive(Clone)]
pub struct ExporterConfig {
    pub endpoint: String,
    /// How many of the simulator's ids are listed statically.
    pub repositories: usize,
    /// Discovery on (interval 1h: one listing at start).
    pub discovery: bool,
    pub min_interval: &'static str,
    pub max_duration: &'static str,
    /// `last_push.min_interval`, with `last_push` on.
    pub last_push: Option<&'static str>,
    /// `metrics.disable`'s YAML block (`metrics:` and what follows), e.g. the minimal preset.
    pub metrics: Option<String>,
    /// The `refresh:` block, e.g. change-driven refresh.
    pub refresh: Option<String>,
}

impl ExporterConfig {
    /// `repositories` static ids, no cache, a deadline long enough for the largest N.
    pub fn new(endpoint: &str, repositories: usize) -> Self {
        Self {
            endpoint: endpoint.to_owned(),
            repositories,
            discovery: false,
            min_interval: "0s",
            max_duration: "120s",
            last_push: None,
            metrics: None,
            refresh: None,
        }
    }

    pub fn yaml(&self) -> String {
        let mut yaml = format!(
            "codearts:\n  endpoint: {}\n  auth:\n    token: {TOKEN}\n",
            self.endpoint
        );
        if self.repositories == 0 {
            yaml.push_str("repositories: []\n");
        } else {
            yaml.push_str("repositories:\n");
            for id in ids(self.repositories) {
                yaml.push_str(&format!("  - id: {id}\n"));
            }
        }
        if self.discovery {
            yaml.push_str("discovery:\n  enabled: true\n  interval: 1h\n");
        }
        if let Some(min_interval) = self.last_push {
            yaml.push_str(&format!(
                "last_push:\n  enabled: true\n  min_interval: {min_interval}\n"
            ));
        }
        if let Some(metrics) = &self.metrics {
            yaml.push_str(metrics);
        }
        if let Some(refresh) = &self.refresh {
            yaml.push_str(refresh);
        }
        yaml.push_str(&format!(
            "scrape:\n  concurrency: {CONCURRENCY}\n  request_timeout: 10s\n  max_duration: {}\n  \
             min_interval: {}\n  retries: 0\n",
            self.max_duration, self.min_interval
        ));
        yaml
    }
}

/// The simulator's statistics-status URL of repository `id`.
pub fn status_url(endpoint: &str, id: u64) -> String {
    format!("{endpoint}/v4/repositories/{id}/repository/statistics-status")
}

/// The simulator's first `repositories` ids.
pub fn ids(repositories: usize) -> impl Iterator<Item = u64> {
    (0..repositories as u64).map(|i| u64::from(FIRST_ID) + i)
}

/// A running exporter: its process, base URL, config file, and how long it took from its
/// start until `/readyz` answered 200.
pub struct Exporter {
    pub proc: Proc,
    pub base: String,
    pub config_path: PathBuf,
    pub ready_after: Duration,
}

impl Exporter {
    /// The exporter on a free port with `config` (written to `dir`), once `/readyz` answers
    /// 200. With a static token readiness needs no request upstream, so this is the start
    /// itself: config parse, validation, the server listening (and, with discovery, the first
    /// listing, which the start waits for up to 15 s). Polled every 20 ms.
    pub async fn start(dir: &Path, config: &ExporterConfig) -> Result<Self> {
        let port = procs::free_port();
        // Several exporters run at once; each keeps its own file.
        let config_path = dir.join(format!("exporter-{port}.yml"));
        std::fs::write(&config_path, config.yaml())?;
        let address = format!("127.0.0.1:{port}");
        let mut command = Command::new(EXPORTER);
        command.arg("--config.file").arg(&config_path).args([
            "--web.listen-address",
            &address,
            "--log.level",
            "error",
        ]);
        let started = Instant::now();
        let mut proc = Proc::spawn(&format!("exporter-{port}"), &mut command, dir);
        let base = format!("http://{address}");
        proc.wait_http_ok(&format!("{base}/readyz"), START_TIMEOUT)
            .await;
        Ok(Self {
            proc,
            base,
            config_path,
            ready_after: started.elapsed(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Rewrites the config file and reloads it (`POST /-/reload`); how long the reload took.
    pub async fn reload(
        &self,
        client: &reqwest::Client,
        config: &ExporterConfig,
    ) -> Result<Duration> {
        std::fs::write(&self.config_path, config.yaml())?;
        let started = Instant::now();
        client
            .post(format!("{}/-/reload", self.base))
            .send()
            .await?
            .error_for_status()?;
        Ok(started.elapsed())
    }
}

// ---------------------------------------------------------------------------------------------
// Readings

/// `VmRSS` of `pid`, in bytes.
pub fn rss_bytes(pid: u32) -> f64 {
    proc_sample(pid).rss_kib as f64 * 1024.0
}

/// `VmHWM` (peak RSS) of `pid`, in bytes.
pub fn peak_rss_bytes(pid: u32) -> f64 {
    proc_sample(pid).hwm_kib as f64 * 1024.0
}

pub fn cpu(pid: u32, ticks: f64) -> Result<f64> {
    Ok(cpu_seconds(pid, ticks).ok_or_else(|| format!("no CPU time for process {pid}"))?)
}

#[derive(Clone, Copy, Default)]
pub struct SimCounters {
    pub status_requests: u64,
    pub last_push_requests: u64,
    pub list_requests: u64,
    pub connections_accepted: u64,
}

impl std::ops::Sub for SimCounters {
    type Output = SimCounters;

    fn sub(self, before: SimCounters) -> SimCounters {
        SimCounters {
            status_requests: self.status_requests - before.status_requests,
            last_push_requests: self.last_push_requests - before.last_push_requests,
            list_requests: self.list_requests - before.list_requests,
            connections_accepted: self.connections_accepted - before.connections_accepted,
        }
    }
}

pub async fn sim_counters(client: &reqwest::Client, endpoint: &str) -> Result<SimCounters> {
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
        last_push_requests: field("last_push_requests")?,
        list_requests: field("list_requests")?,
        connections_accepted: field("connections_accepted")?,
    })
}

// ---------------------------------------------------------------------------------------------
// Scrapes

/// What the scrape asks for in `Accept-Encoding`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Encoding {
    /// No `Accept-Encoding`: the text as it is.
    Identity,
    /// `Accept-Encoding: gzip`, as Prometheus sends it. The bench's client does not decompress
    /// (reqwest without its `gzip` feature): the body is read as the server sends it.
    Gzip,
}

/// `GET /metrics` with `timeout` as the scrape-timeout header; a non-2xx is an error.
pub async fn get_metrics(
    client: &reqwest::Client,
    base: &str,
    timeout: Duration,
    encoding: Encoding,
) -> Result<reqwest::Response> {
    let mut request = client
        .get(format!("{base}/metrics"))
        .header(SCRAPE_TIMEOUT_HEADER, timeout.as_secs_f64().to_string());
    if encoding == Encoding::Gzip {
        request = request.header(reqwest::header::ACCEPT_ENCODING, "gzip");
    }
    let answer = request.send().await?.error_for_status()?;
    let gzipped = answer
        .headers()
        .get(reqwest::header::CONTENT_ENCODING)
        .is_some_and(|value| value == "gzip");
    if gzipped != (encoding == Encoding::Gzip) {
        return Err(format!("asked for {encoding:?}, got gzip = {gzipped}").into());
    }
    Ok(answer)
}

/// The scrape timeout the fan-out scrapes send: long enough for the largest N.
pub const LONG_TIMEOUT: Duration = Duration::from_secs(120);

/// One `/metrics` (identity), timed from the request to its last byte. The body is kept as
/// received and never copied: a 12 MiB copy between two timed scrapes made the next one
/// slower in this client, not in the exporter.
pub async fn scrape(
    client: &reqwest::Client,
    base: &str,
    timeout: Duration,
) -> Result<(bytes::Bytes, Duration)> {
    let started = Instant::now();
    let body = get_metrics(client, base, timeout, Encoding::Identity)
        .await?
        .bytes()
        .await?;
    Ok((body, started.elapsed()))
}

/// One `/metrics`, timed from the request to its last byte, with the body read piece by piece
/// as the server sends it (compressed, with gzip) and dropped, as `curl -o /dev/null` does:
/// the time to serve it, not to gather 12 MiB in the client (collecting and copying the body
/// once made the next timed scrape 20 ms slower, the client's allocator handing back the
/// copy's pages). Returns the bytes received.
pub async fn scrape_discarding(
    client: &reqwest::Client,
    base: &str,
    encoding: Encoding,
) -> Result<(usize, Duration)> {
    let started = Instant::now();
    let mut answer = get_metrics(client, base, LONG_TIMEOUT, encoding).await?;
    let mut bytes = 0;
    while let Some(piece) = answer.chunk().await? {
        bytes += piece.len();
    }
    Ok((bytes, started.elapsed()))
}

/// `scrapes` scrapes of each encoding, identity and gzip taking turns so both see the same
/// machine load, each with [`scrape_discarding`].
pub struct Alternating {
    pub identity: Vec<Duration>,
    pub gzip: Vec<Duration>,
    /// The last answer's size in each encoding.
    pub identity_bytes: usize,
    pub gzip_bytes: usize,
}

pub async fn scrape_alternating(
    client: &reqwest::Client,
    base: &str,
    scrapes: usize,
) -> Result<Alternating> {
    let mut taken = Alternating {
        identity: Vec::with_capacity(scrapes),
        gzip: Vec::with_capacity(scrapes),
        identity_bytes: 0,
        gzip_bytes: 0,
    };
    for _ in 0..scrapes {
        let (bytes, wall) = scrape_discarding(client, base, Encoding::Identity).await?;
        taken.identity.push(wall);
        taken.identity_bytes = bytes;
        let (bytes, wall) = scrape_discarding(client, base, Encoding::Gzip).await?;
        taken.gzip.push(wall);
        taken.gzip_bytes = bytes;
    }
    Ok(taken)
}

/// The text of a gzip body (outside any timed part).
pub fn gunzip(body: &[u8]) -> Result<String> {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(body).read_to_string(&mut text)?;
    Ok(text)
}

// ---------------------------------------------------------------------------------------------
// Reading an answer

/// The value of label `repository_id` in the labels of a sample line (with or without the
/// closing brace).
pub fn repository_id(labels: &str) -> Option<u64> {
    let id = labels
        .split(',')
        .find_map(|pair| pair.strip_prefix("repository_id=\""))?;
    id.trim_end_matches(['"', '}']).parse().ok()
}

/// The ids whose `codearts_repo_statistics_up` is 1 in `body`.
pub fn ids_up(body: &str) -> BTreeSet<u64> {
    body.lines()
        .filter_map(|line| line.strip_prefix("codearts_repo_statistics_up{"))
        .filter_map(|rest| {
            let (labels, value) = rest.rsplit_once("} ")?;
            (value.trim() == "1").then(|| repository_id(labels))?
        })
        .collect()
}

/// How many repositories show `codearts_repo_statistics_error{class="timeout"}` in `body`.
pub fn timeouts(body: &str) -> usize {
    body.lines()
        .filter(|line| line.starts_with("codearts_repo_statistics_error{"))
        .filter(|line| line.contains("class=\"timeout\""))
        .count()
}

/// Per-repository samples (`codearts_repo_statistics_…`) in `body`.
pub fn repository_samples(body: &str) -> usize {
    body.lines()
        .filter(|line| line.starts_with("codearts_repo_statistics_"))
        .count()
}

/// Bytes of the per-repository sample lines in `body`, newlines included.
pub fn repository_sample_bytes(body: &str) -> usize {
    body.lines()
        .filter(|line| line.starts_with("codearts_repo_statistics_"))
        .map(|line| line.len() + 1)
        .sum()
}

pub fn check_all_up(body: &[u8], repositories: usize) -> Result<()> {
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

pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

pub fn median_duration(values: &[Duration]) -> Duration {
    let mut seconds: Vec<f64> = values.iter().map(Duration::as_secs_f64).collect();
    Duration::from_secs_f64(median(&mut seconds))
}

pub fn http_client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(2 * CONCURRENCY)
        .timeout(Duration::from_secs(180))
        .build()?)
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "?".to_owned())
}

/// The "minimal" `metrics.disable` preset as the documentation writes it (docs/metrics.md; the
/// in-process tier's `dashboard` tests keep it equal to what the shipped rules and dashboard
/// need).
pub fn minimal_preset() -> String {
    codearts_testkit::repo::doc_yaml_after("<!-- minimal-preset")
}
