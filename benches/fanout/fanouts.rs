//! Full fan-outs at N = 100, 1,000 and 10,000, and at 10,000 with `last_push` on: each N its
//! own simulator and exporter, `min_interval: 0s` so that every scrape
//! asks every repository.

use std::path::Path;
use std::time::Duration;

use codearts_testkit::procs::Proc;

use super::harness::{
    check_all_up, cpu, ideal, median_duration, peak_rss_bytes, repository_samples, rss_bytes,
    scrape, sim_counters, start_simulator, Exporter, ExporterConfig, SimCounters, LATENCY,
    LONG_TIMEOUT,
};
use super::Result;

pub const SCRAPES_PER_N: usize = 8;
/// Scrapes of each `last_push` subject (the warm one has one more first, to fill its cache).
pub const LAST_PUSH_SCRAPES: usize = 4;

/// Whether and how a subject asks for last pushes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LastPush {
    Off,
    /// `last_push.min_interval: 1s`: every scrape finds every last push due, as the first
    /// scrape after a start does — both requests for every repository.
    Cold,
    /// `last_push.min_interval: 1h`, after a first scrape that filled it: only the statuses
    /// are asked.
    Warm,
}

/// One N under test: its own simulator and exporter, and what its scrapes showed so far.
pub struct Subject {
    pub repositories: usize,
    pub last_push: LastPush,
    _sim: Proc,
    endpoint: String,
    pub exporter: Exporter,
    pub idle_rss: f64,
    pub walls: Vec<Duration>,
    pub connections: Vec<u64>,
    /// CPU seconds and upstream requests of the recorded scrapes.
    cpu: f64,
    requests: u64,
    /// Per-repository samples per repository in the last scrape.
    pub samples_per_repository: f64,
    /// Scrapes so far, recorded or not.
    scraped: usize,
}

/// What one scrape of a subject showed.
pub struct Scraped {
    pub wall: Duration,
    pub cpu: f64,
    pub requests: SimCounters,
}

impl Subject {
    pub async fn start(dir: &Path, repositories: usize, last_push: LastPush) -> Result<Self> {
        let (sim, endpoint) = start_simulator(dir, repositories, LATENCY).await?;
        let mut config = ExporterConfig::new(&endpoint, repositories);
        config.last_push = match last_push {
            LastPush::Off => None,
            LastPush::Cold => Some("1s"),
            LastPush::Warm => Some("1h"),
        };
        let exporter = Exporter::start(dir, &config).await?;
        Ok(Self {
            repositories,
            last_push,
            _sim: sim,
            endpoint,
            exporter,
            idle_rss: 0.0,
            walls: Vec::new(),
            connections: Vec::new(),
            cpu: 0.0,
            requests: 0,
            samples_per_repository: 0.0,
            scraped: 0,
        })
    }

    pub fn measure_idle(&mut self) {
        self.idle_rss = rss_bytes(self.exporter.pid());
    }

    /// The requests one scrape must make: every status, and every last push that is due.
    fn expected(&self, first: bool) -> (u64, u64) {
        let n = self.repositories as u64;
        match self.last_push {
            LastPush::Off => (n, 0),
            LastPush::Cold => (n, n),
            LastPush::Warm if first => (n, n),
            LastPush::Warm => (n, 0),
        }
    }

    /// One scrape, not recorded: every repository must be asked exactly once (and be up, on
    /// the first), and the last pushes that are due.
    pub async fn scrape_once(&mut self, client: &reqwest::Client, ticks: f64) -> Result<Scraped> {
        let pid = self.exporter.pid();
        let first = self.scraped == 0;
        self.scraped += 1;
        let before = sim_counters(client, &self.endpoint).await?;
        let cpu_before = cpu(pid, ticks)?;
        let (body, wall) = scrape(client, &self.exporter.base, LONG_TIMEOUT).await?;
        let cpu = cpu(pid, ticks)? - cpu_before;
        let requests = sim_counters(client, &self.endpoint).await? - before;
        if first {
            check_all_up(&body, self.repositories)?;
        }
        self.samples_per_repository =
            repository_samples(std::str::from_utf8(&body)?) as f64 / self.repositories as f64;
        let asked = (requests.status_requests, requests.last_push_requests);
        let expected = self.expected(first);
        if asked != expected {
            return Err(format!(
                "{}: {asked:?} (status, last-push) requests, expected {expected:?}",
                self.label()
            )
            .into());
        }
        Ok(Scraped {
            wall,
            cpu,
            requests,
        })
    }

    /// One scrape, recorded in this subject's figures.
    pub async fn scrape(&mut self, client: &reqwest::Client, ticks: f64) -> Result<()> {
        let scraped = self.scrape_once(client, ticks).await?;
        self.walls.push(scraped.wall);
        self.connections.push(scraped.requests.connections_accepted);
        self.cpu += scraped.cpu;
        self.requests += scraped.requests.status_requests + scraped.requests.last_push_requests;
        Ok(())
    }

    pub fn label(&self) -> String {
        match self.last_push {
            LastPush::Off => format!("N={}", self.repositories),
            LastPush::Cold => format!("N={} last_push cold", self.repositories),
            LastPush::Warm => format!("N={} last_push warm", self.repositories),
        }
    }

    pub fn finish(&self) -> FanOut {
        FanOut {
            repositories: self.repositories,
            last_push: self.last_push,
            wall_median: median_duration(&self.walls),
            cpu_per_request: self.cpu / self.requests as f64,
            cpu_per_scrape: self.cpu / self.walls.len() as f64,
            requests_per_scrape: self.requests as usize / self.walls.len(),
            connections_max: self.connections.iter().copied().max().unwrap_or(0),
            connections_first: self.connections.first().copied().unwrap_or(0),
            walls: self.walls.clone(),
            idle_rss: self.idle_rss,
            peak_rss: peak_rss_bytes(self.exporter.pid()),
            samples_per_repository: self.samples_per_repository,
        }
    }
}

/// What one subject's recorded scrapes showed.
pub struct FanOut {
    pub repositories: usize,
    pub last_push: LastPush,
    pub wall_median: Duration,
    pub walls: Vec<Duration>,
    /// Exporter CPU per upstream request (a status, or a last push).
    pub cpu_per_request: f64,
    pub cpu_per_scrape: f64,
    pub requests_per_scrape: usize,
    pub connections_max: u64,
    pub connections_first: u64,
    pub idle_rss: f64,
    pub peak_rss: f64,
    pub samples_per_repository: f64,
}

impl FanOut {
    pub fn ideal(&self) -> Duration {
        ideal(self.requests_per_scrape)
    }

    pub fn wall_ratio(&self) -> f64 {
        self.wall_median.as_secs_f64() / self.ideal().as_secs_f64()
    }
}

/// The subjects of the fan-out figures, started and idle-measured.
pub struct Subjects {
    pub all: Vec<Subject>,
}

impl Subjects {
    /// N = 100, 1,000 and 10,000, and 10,000 with `last_push` cold and warm.
    pub async fn start(dir: &Path) -> Result<Self> {
        let mut all = Vec::new();
        for (repositories, last_push) in [
            (100, LastPush::Off),
            (1_000, LastPush::Off),
            (10_000, LastPush::Off),
            (10_000, LastPush::Cold),
            (10_000, LastPush::Warm),
        ] {
            all.push(Subject::start(dir, repositories, last_push).await?);
        }
        // Let start-up allocations settle before calling it idle.
        tokio::time::sleep(Duration::from_millis(500)).await;
        for subject in &mut all {
            subject.measure_idle();
        }
        Ok(Self { all })
    }

    pub fn get(&mut self, repositories: usize, last_push: LastPush) -> &mut Subject {
        self.all
            .iter_mut()
            .find(|s| s.repositories == repositories && s.last_push == last_push)
            .expect("a started subject")
    }

    /// [`SCRAPES_PER_N`] scrapes each of N = 100, 1,000 and 10,000 at 50 ms, and
    /// [`LAST_PUSH_SCRAPES`] of each `last_push` subject.
    ///
    /// N = 100 alone and first: its wall time is a latency figure (one 50 ms wave), and after a
    /// 10,000-repository scrape the other processes' clean-up overlapped it (1.165 → ~1.24).
    /// The others take turns, one scrape each per round, so that a change in the machine's
    /// load during the run (it is shared) affects them alike: the CPU-growth target compares
    /// 1,000 with 10,000, and measuring them minutes apart once made a 20 % swing.
    pub async fn measure(&mut self, client: &reqwest::Client, ticks: f64) -> Result<()> {
        for _ in 0..SCRAPES_PER_N {
            self.get(100, LastPush::Off).scrape(client, ticks).await?;
        }
        // The warm subject's first scrape fills its last-push cache: cold, not recorded.
        self.get(10_000, LastPush::Warm)
            .scrape_once(client, ticks)
            .await?;
        for round in 0..SCRAPES_PER_N {
            self.get(1_000, LastPush::Off).scrape(client, ticks).await?;
            self.get(10_000, LastPush::Off)
                .scrape(client, ticks)
                .await?;
            if round < LAST_PUSH_SCRAPES {
                for last_push in [LastPush::Cold, LastPush::Warm] {
                    self.get(10_000, last_push).scrape(client, ticks).await?;
                }
            }
        }
        Ok(())
    }

    /// Stops the `last_push` subjects and N = 100 (the 1,000 and 10,000 ones stay, for the
    /// figures that compare against them later).
    pub fn finish(&mut self) -> Vec<FanOut> {
        let results = self.all.iter().map(Subject::finish).collect();
        self.all
            .retain(|s| s.last_push == LastPush::Off && s.repositories >= 1_000);
        results
    }
}
