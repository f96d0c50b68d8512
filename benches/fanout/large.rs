//! N = 100,000: a 100,000-entry static config — its start, idle memory, two cold
//! fan-outs taking turns with N = 10,000, a reload to `min_interval: 1h` and scrapes from the
//! cache (identity and gzip); a cold start under a 10 s scrape deadline, covered in rotation;
//! and discovery of 100,000 listed repositories (1,000 pages).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use super::fanouts::Subject;
use super::harness::{
    check_all_up, cpu, ideal, ids_up, median_duration, peak_rss_bytes, rss_bytes, scrape,
    scrape_alternating, sim_counters, start_simulator, timeouts, Exporter, ExporterConfig,
    CONCURRENCY, LONG_TIMEOUT,
};
use super::Result;

pub const LARGE: usize = 100_000;
/// Full cold fan-outs at 100,000 (each ≥ 50 s).
pub const COLD_SCRAPES: usize = 2;
/// Timed scrapes from the cache at 100,000, of each encoding.
pub const CACHE_SCRAPES: usize = 15;

/// What the 100,000-entry static config showed.
pub struct Large {
    pub ready_after: Duration,
    pub idle_rss: f64,
    pub cold_walls: Vec<Duration>,
    pub cpu_per_status: f64,
    /// The N = 10,000 scrapes that took turns with the cold ones: one before, between and
    /// after.
    pub walls_10k: Vec<Duration>,
    pub cpu_per_status_10k: f64,
    pub reload: Duration,
    /// VmHWM after the cold fan-outs, before the reload: the cache off (`min_interval: 0s`).
    pub peak_rss_uncached: f64,
    pub cached_identity: Duration,
    pub identity_bytes: usize,
    pub cached_gzip: Duration,
    pub gzip_bytes: usize,
    /// VmHWM over the exporter's life: the cold fan-outs, the reload, and serving from the
    /// cache with the text kept.
    pub peak_rss: f64,
}

impl Large {
    pub fn cold_wall(&self) -> Duration {
        median_duration(&self.cold_walls)
    }

    pub fn wall_ratio(&self) -> f64 {
        self.cold_wall().as_secs_f64() / ideal(LARGE).as_secs_f64()
    }
}

/// The 100,000-entry static config against the simulator at `endpoint` (100,000 repositories,
/// 50 ms), with `ten_k` (the N = 10,000 subject) taking turns with the cold fan-outs.
pub async fn measure(
    client: &reqwest::Client,
    dir: &Path,
    ticks: f64,
    endpoint: &str,
    ten_k: &mut Subject,
) -> Result<Large> {
    let mut config = ExporterConfig::new(endpoint, LARGE);
    let exporter = Exporter::start(dir, &config).await?;
    let pid = exporter.pid();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = rss_bytes(pid);
    eprintln!(
        "N={LARGE}: ready after {:?}, idle {:.1} MiB",
        exporter.ready_after,
        idle_rss / super::harness::MIB
    );

    let (mut walls_10k, mut cpu_10k) = (Vec::new(), 0.0);
    let (mut cold_walls, mut cold_cpu) = (Vec::new(), 0.0);
    for round in 0..=COLD_SCRAPES {
        let scraped = ten_k.scrape_once(client, ticks).await?;
        walls_10k.push(scraped.wall);
        cpu_10k += scraped.cpu;
        if round == COLD_SCRAPES {
            break;
        }
        let before = sim_counters(client, endpoint).await?;
        let cpu_before = cpu(pid, ticks)?;
        let (body, wall) = scrape(client, &exporter.base, LONG_TIMEOUT).await?;
        cold_cpu += cpu(pid, ticks)? - cpu_before;
        let asked = (sim_counters(client, endpoint).await? - before).status_requests;
        if round == 0 {
            check_all_up(&body, LARGE)?;
        }
        if asked != LARGE as u64 {
            return Err(format!("N={LARGE}: {asked} status requests, expected {LARGE}").into());
        }
        eprintln!(
            "N={LARGE}: cold scrape {wall:?}, 10k before it {:?}",
            scraped.wall
        );
        cold_walls.push(wall);
    }

    let peak_rss_uncached = peak_rss_bytes(pid);
    // The cache on, by a reload: the answers just fetched are fresh for an hour.
    config.min_interval = "1h";
    let reload = exporter.reload(client, &config).await?;
    let before = sim_counters(client, endpoint).await?;
    // The first scrape after the reload writes the text and keeps it.
    let (body, _) = scrape(client, &exporter.base, LONG_TIMEOUT).await?;
    check_all_up(&body, LARGE)?;
    drop(body);
    let taken = scrape_alternating(client, &exporter.base, CACHE_SCRAPES).await?;
    if sim_counters(client, endpoint).await?.status_requests != before.status_requests {
        return Err("N=100000: scrapes meant to be served from the cache asked upstream".into());
    }
    Ok(Large {
        ready_after: exporter.ready_after,
        idle_rss,
        cold_walls,
        cpu_per_status: cold_cpu / (COLD_SCRAPES * LARGE) as f64,
        cpu_per_status_10k: cpu_10k / (walls_10k.len() * ten_k.repositories) as f64,
        walls_10k,
        reload,
        peak_rss_uncached,
        cached_identity: median_duration(&taken.identity),
        identity_bytes: taken.identity_bytes,
        cached_gzip: median_duration(&taken.gzip),
        gzip_bytes: taken.gzip_bytes,
        peak_rss: peak_rss_bytes(pid),
    })
}

/// Prometheus' scrape interval and timeout in the rotation run.
pub const ROTATION_INTERVAL: Duration = Duration::from_secs(10);
/// `max_duration` of the rotation run: just under the interval, as docs/operations.md's sizing
/// section says, so one fan-out ends before the next scrape starts one.
const ROTATION_MAX_DURATION: &str = "9s";
/// Scrapes the rotation may take to cover the list before the run counts as failed.
const ROTATION_MAX_SCRAPES: usize = 12;

/// One scrape of the rotation run.
pub struct RotationScrape {
    pub wall: Duration,
    /// Status requests the simulator received from this scrape's start to the next's.
    pub asked: u64,
    /// Repositories showing `up 1` (fresh from this scrape, or cached from an earlier one).
    pub up: usize,
    /// Repositories showing `class="timeout"`: not reached yet.
    pub timeouts: usize,
}

pub struct Rotation {
    pub scrapes: Vec<RotationScrape>,
    /// How many scrapes showed every repository up; `None` if [`ROTATION_MAX_SCRAPES`] did not.
    pub covered_after: Option<usize>,
    /// Status requests beyond one per repository (requests cut off in flight at a deadline,
    /// asked again by the next fan-out).
    pub asked_again: u64,
    pub peak_rss: f64,
}

/// A fresh exporter with the 100,000-entry config, `min_interval: 10m` and `max_duration: 9s`,
/// scraped every 10 s with a 10 s scrape timeout from its start: each scrape must answer in
/// time (timeouts for the repositories not reached yet), and successive scrapes must cover the
/// list, never-asked first, asking no repository twice (but those cut off in flight). One more
/// scrape after the list is covered must ask nothing.
pub async fn rotation(client: &reqwest::Client, dir: &Path, endpoint: &str) -> Result<Rotation> {
    let mut config = ExporterConfig::new(endpoint, LARGE);
    config.min_interval = "10m";
    config.max_duration = ROTATION_MAX_DURATION;
    let exporter = Exporter::start(dir, &config).await?;
    let started = Instant::now();
    let mut scrapes = Vec::new();
    // The simulator's status count at each scrape's start, and once the last one's fan-out
    // has ended.
    let mut counts = Vec::new();
    let mut up = BTreeSet::new();
    let mut covered_after = None;
    for index in 0..=ROTATION_MAX_SCRAPES {
        tokio::time::sleep_until(started + ROTATION_INTERVAL * index as u32).await;
        counts.push(sim_counters(client, endpoint).await?.status_requests);
        let (body, wall) = scrape(client, &exporter.base, ROTATION_INTERVAL).await?;
        let text = std::str::from_utf8(&body)?;
        let now_up = ids_up(text);
        if !now_up.is_superset(&up) {
            return Err("rotation: a repository up before is no longer up".into());
        }
        up = now_up;
        scrapes.push(RotationScrape {
            wall,
            asked: 0,
            up: up.len(),
            timeouts: timeouts(text),
        });
        if covered_after.is_some() {
            break;
        }
        if up.len() == LARGE {
            covered_after = Some(scrapes.len());
        }
    }
    tokio::time::sleep_until(started + ROTATION_INTERVAL * scrapes.len() as u32).await;
    counts.push(sim_counters(client, endpoint).await?.status_requests);
    for (scrape, pair) in scrapes.iter_mut().zip(counts.windows(2)) {
        scrape.asked = pair[1] - pair[0];
    }
    let asked = counts[counts.len() - 1] - counts[0];
    let asked_again = asked.saturating_sub(up.len() as u64);
    // Each fan-out cut off by its deadline leaves at most C requests unanswered.
    let cut_off = (CONCURRENCY * scrapes.len()) as u64;
    if asked_again > cut_off {
        return Err(format!(
            "rotation: {asked} status requests for {} repositories: {asked_again} asked again, \
             more than the {cut_off} cut off in flight",
            up.len()
        )
        .into());
    }
    Ok(Rotation {
        covered_after,
        asked_again,
        peak_rss: peak_rss_bytes(exporter.pid()),
        scrapes,
    })
}

/// What discovery of 100,000 listed repositories showed.
pub struct Discovery {
    pub ready_after: Duration,
    /// From the exporter's start until the simulator served the last (empty) page.
    pub listed_after: Duration,
    pub list_requests: u64,
    pub exporter_cpu: f64,
    pub simulator_cpu: f64,
    /// VmRSS once the list is in, and VmHWM.
    pub rss: f64,
    pub peak_rss: f64,
}

/// An exporter with discovery only (no static list) against a 100,000-repository simulator
/// answering at once (latency 0: the figure is what listing costs the exporter and the
/// simulator; against CodeArts add 1,000 × a page's latency). The landing page must then say
/// it discovered 100,000.
pub async fn discovery(client: &reqwest::Client, dir: &Path, ticks: f64) -> Result<Discovery> {
    // The exporter asks for 100 a page, the most the simulator serves; then one empty page.
    let pages = LARGE.div_ceil(100) as u64 + 1;
    let (sim, endpoint) = start_simulator(dir, LARGE, Duration::ZERO).await?;
    let sim_cpu_before = cpu(sim.pid(), ticks)?;
    let mut config = ExporterConfig::new(&endpoint, 0);
    config.discovery = true;
    let exporter = Exporter::start(dir, &config).await?;
    let waited = Instant::now();
    let mut listed_after = exporter.ready_after;
    loop {
        let listed = sim_counters(client, &endpoint).await?.list_requests;
        if listed >= pages {
            break;
        }
        if waited.elapsed() > Duration::from_secs(300) {
            return Err(format!("discovery: {listed} of {pages} pages after 300 s").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        listed_after = exporter.ready_after + waited.elapsed();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = exporter.pid();
    let rss = rss_bytes(pid);
    let peak_rss = peak_rss_bytes(pid);
    let exporter_cpu = cpu(pid, ticks)?;
    let simulator_cpu = cpu(sim.pid(), ticks)? - sim_cpu_before;
    let list_requests = sim_counters(client, &endpoint).await?.list_requests;
    let landing = client
        .get(format!("{}/", exporter.base))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let expected = format!("Discovery: {LARGE} repositories");
    if !landing.contains(&expected) {
        return Err(format!("discovery: the landing page does not say {expected:?}").into());
    }
    Ok(Discovery {
        ready_after: exporter.ready_after,
        listed_after,
        list_requests,
        exporter_cpu,
        simulator_cpu,
        rss,
        peak_rss,
    })
}
