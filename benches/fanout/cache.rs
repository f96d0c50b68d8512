//! `/metrics` at N = 10,000 served from the cache (`min_interval: 1h`), identity and gzip
//! taking turns; gzip levels compared on the same body; and how many series a healthy
//! repository has, by default and with the "minimal" preset (docs/metrics.md).

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use super::harness::{
    check_all_up, gunzip, median_duration, minimal_preset, peak_rss_bytes, repository_sample_bytes,
    repository_samples, scrape, scrape_alternating, sim_counters, start_simulator, Encoding,
    Exporter, ExporterConfig, LATENCY, LONG_TIMEOUT,
};
use super::Result;

/// Timed scrapes of each encoding.
pub const CACHE_SCRAPES: usize = 25;
/// gzip levels compared in this process on the identity body: tower-http's `Fastest` (1),
/// `Default` (6) and `Best` (9).
const LEVELS: [u32; 3] = [1, 6, 9];
/// Compressions of the body per level (median).
const LEVEL_RUNS: usize = 3;

pub struct Cached {
    pub repositories: usize,
    pub identity: Duration,
    pub identity_bytes: usize,
    pub gzip: Duration,
    pub gzip_bytes: usize,
    /// Of the exporter serving from the cache, which keeps the last answer's text.
    pub peak_rss: f64,
    pub levels: Vec<Level>,
    /// Per-repository samples per repository, default families, and their bytes.
    pub samples_per_repository: f64,
    pub bytes_per_repository: f64,
}

/// What the minimal preset (docs/metrics.md) leaves per healthy repository.
pub struct Minimal {
    pub samples_per_repository: f64,
    pub bytes_per_repository: f64,
    /// With `last_push` on.
    pub samples_with_last_push: f64,
}

/// One gzip level on the identity body, compressed whole in this process by flate2 (the
/// library under tower-http's gzip) on one core.
pub struct Level {
    pub level: u32,
    pub bytes: usize,
    pub time: Duration,
}

/// `/metrics` for `repositories` served from the cache after a first scrape filled it;
/// [`CACHE_SCRAPES`] scrapes of each encoding, taking turns; the simulator must see no request
/// during them. The gzip answer must decompress to every repository up (checked untimed).
pub async fn measure(client: &reqwest::Client, dir: &Path, repositories: usize) -> Result<Cached> {
    let (_sim, endpoint) = start_simulator(dir, repositories, LATENCY).await?;
    let mut config = ExporterConfig::new(&endpoint, repositories);
    config.min_interval = "1h";
    let exporter = Exporter::start(dir, &config).await?;
    let (body, _) = scrape(client, &exporter.base, LONG_TIMEOUT).await?;
    check_all_up(&body, repositories)?;
    let text = std::str::from_utf8(&body)?;
    let samples_per_repository = repository_samples(text) as f64 / repositories as f64;
    let bytes_per_repository = repository_sample_bytes(text) as f64 / repositories as f64;
    drop(body);
    let before = sim_counters(client, &endpoint).await?;
    let taken = scrape_alternating(client, &exporter.base, CACHE_SCRAPES).await?;
    let compressed =
        super::harness::get_metrics(client, &exporter.base, LONG_TIMEOUT, Encoding::Gzip)
            .await?
            .bytes()
            .await?;
    check_all_up(gunzip(&compressed)?.as_bytes(), repositories)?;
    let (body, _) = scrape(client, &exporter.base, LONG_TIMEOUT).await?;
    check_all_up(&body, repositories)?;
    if sim_counters(client, &endpoint).await?.status_requests != before.status_requests {
        return Err("scrapes meant to be served from the cache reached the simulator".into());
    }
    let peak_rss = peak_rss_bytes(exporter.pid());
    let levels = LEVELS
        .iter()
        .map(|&level| compress(&body, level))
        .collect::<Result<_>>()?;
    Ok(Cached {
        repositories,
        identity: median_duration(&taken.identity),
        identity_bytes: taken.identity_bytes,
        gzip: median_duration(&taken.gzip),
        gzip_bytes: taken.gzip_bytes,
        peak_rss,
        levels,
        samples_per_repository,
        bytes_per_repository,
    })
}

fn compress(body: &[u8], level: u32) -> Result<Level> {
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..LEVEL_RUNS {
        let started = Instant::now();
        let mut encoder =
            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        encoder.write_all(body)?;
        bytes = encoder.finish()?.len();
        times.push(started.elapsed());
    }
    Ok(Level {
        level,
        bytes,
        time: median_duration(&times),
    })
}

/// Per-repository samples (and their bytes) per healthy repository with the minimal preset
/// (docs/metrics.md), without and with `last_push` (N = 1,000 at latency 0: a count, not a
/// timing).
pub async fn minimal_series(client: &reqwest::Client, dir: &Path) -> Result<Minimal> {
    const N: usize = 1_000;
    let (_sim, endpoint) = start_simulator(dir, N, Duration::ZERO).await?;
    let mut texts = Vec::new();
    for last_push in [None, Some("1h")] {
        let mut config = ExporterConfig::new(&endpoint, N);
        config.metrics = Some(minimal_preset());
        config.last_push = last_push;
        let exporter = Exporter::start(dir, &config).await?;
        let (body, _) = scrape(client, &exporter.base, LONG_TIMEOUT).await?;
        check_all_up(&body, N)?;
        texts.push(String::from_utf8(body.to_vec())?);
    }
    let per_repository = |count: usize| count as f64 / N as f64;
    Ok(Minimal {
        samples_per_repository: per_repository(repository_samples(&texts[0])),
        bytes_per_repository: per_repository(repository_sample_bytes(&texts[0])),
        samples_with_last_push: per_repository(repository_samples(&texts[1])),
    })
}
