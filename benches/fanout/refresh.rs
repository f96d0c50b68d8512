//! Change-driven refresh against a simulator with activity: what it saves and how late it sees
//! each change, beside the default mode in the same run.
//!
//! One simulator with N repositories and activity (pushes to a share of them per minute, each
//! starting a two-minute statistics run), and exporters scraping it every [`INTERVAL`]: the
//! default mode (`every_scrape`), change-driven refresh with the default longest staleness
//! (`on_change`), and change-driven refresh with a short one (to show that the staleness bound
//! holds and what it costs). For each scrape the benchmark records the upstream requests the
//! exporter made (its own `api_requests_total`) and what it showed for every repository (the
//! event id and status, and the answer's age). At the end the simulator's record of every run
//! (`GET /-/activity`, the true moment of each change) says how late each exporter showed each
//! change.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::harness::{
    get_metrics, repository_id, start_active_simulator, Encoding, Exporter, ExporterConfig,
};
use super::Result;

/// How often each exporter is scraped.
pub const INTERVAL: Duration = Duration::from_secs(5);
/// How long each scenario scrapes.
pub const DURATION: Duration = Duration::from_secs(300);
pub const REPOSITORIES: usize = 10_000;
/// The share of repositories pushed to per minute in the steady scenario, and ten times that.
pub const STEADY: f64 = 0.01;
pub const BUSY: f64 = 0.10;
/// The short longest staleness of the third exporter.
pub const SHORT_STALENESS: Duration = Duration::from_secs(120);

/// An exporter's refresh settings in a scenario.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    EveryScrape,
    OnChange,
    /// Change-driven, with `max_staleness` [`SHORT_STALENESS`].
    OnChangeShortStaleness,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::EveryScrape => "every_scrape",
            Mode::OnChange => "on_change",
            Mode::OnChangeShortStaleness => "on_change, max_staleness 2m",
        }
    }

    fn yaml(self) -> Option<String> {
        match self {
            Mode::EveryScrape => None,
            Mode::OnChange => Some("refresh:\n  mode: on_change\n".to_owned()),
            Mode::OnChangeShortStaleness => Some(format!(
                "refresh:\n  mode: on_change\n  max_staleness: {}s\n",
                SHORT_STALENESS.as_secs()
            )),
        }
    }
}

/// What one repository showed at one scrape: its event id and how far its run had got (0
/// waiting, 1 active, 2 finish or anything else).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Shown {
    event_id: i64,
    stage: u8,
}

/// One scrape of one exporter.
struct Scrape {
    /// When its answer was complete, Unix seconds.
    at: f64,
    /// Upstream requests (statuses and list pages) since the previous scrape.
    requests: u64,
    list_requests: u64,
    /// The oldest answer it showed, in seconds.
    oldest_answer: f64,
}

/// What one exporter did over a scenario.
pub struct Measured {
    pub mode: Mode,
    /// Upstream requests per scrape, the first (cold) scrape left out.
    pub requests_per_scrape: f64,
    /// The same, the first scrape included.
    pub requests_per_scrape_with_first: f64,
    pub list_requests_per_scrape: f64,
    pub scrapes: usize,
    /// How late each change was shown, seconds, sorted.
    pub delays: Vec<f64>,
    /// Changes never shown although a scrape came [`2 × INTERVAL`] after them.
    pub missed: usize,
    /// The oldest answer any scrape showed, seconds.
    pub oldest_answer: f64,
}

impl Measured {
    pub fn delay_quantile(&self, q: f64) -> f64 {
        if self.delays.is_empty() {
            return 0.0;
        }
        let index = ((self.delays.len() as f64 * q).ceil() as usize).clamp(1, self.delays.len());
        self.delays[index - 1]
    }

    pub fn max_delay(&self) -> f64 {
        self.delays.last().copied().unwrap_or(0.0)
    }
}

/// One scenario: its activity, the changes the simulator made, and each exporter's figures.
pub struct Scenario {
    pub pushes_per_minute: f64,
    pub runs: usize,
    pub changes: usize,
    /// The share of repositories with a run in progress, averaged over the scrapes.
    pub in_progress: f64,
    pub exporters: Vec<Measured>,
}

/// Runs one scenario of `repositories` at `pushes_per_minute`, scraping each of `modes` every
/// `interval` for `duration`.
pub async fn scenario(
    client: &reqwest::Client,
    dir: &std::path::Path,
    repositories: usize,
    pushes_per_minute: f64,
    modes: &[Mode],
    interval: Duration,
    duration: Duration,
) -> Result<Scenario> {
    let (_sim, endpoint) = start_active_simulator(dir, repositories, pushes_per_minute).await?;
    let mut exporters = Vec::new();
    for mode in modes {
        let mut config = ExporterConfig::new(&endpoint, repositories);
        config.refresh = mode.yaml();
        exporters.push((*mode, Exporter::start(dir, &config).await?));
    }
    let mut history: Vec<Vec<Scrape>> = modes.iter().map(|_| Vec::new()).collect();
    let mut shown: Vec<HashMap<u64, Vec<(f64, Shown)>>> =
        modes.iter().map(|_| HashMap::new()).collect();
    let mut previous: Vec<(u64, u64)> = vec![(0, 0); modes.len()];
    let mut in_progress = Vec::new();
    let started = Instant::now();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while started.elapsed() < duration {
        tick.tick().await;
        // Every exporter at once, as independent Prometheus servers would.
        let bodies = futures::future::try_join_all(exporters.iter().map(|(_, exporter)| async {
            // The scrape timeout is the interval, as Prometheus requires of its config.
            let body = get_metrics(client, &exporter.base, interval, Encoding::Identity)
                .await?
                .text()
                .await?;
            Ok::<_, super::BoxError>((body, unix_now()))
        }))
        .await?;
        for (index, (body, at)) in bodies.iter().enumerate() {
            let reading = read(body);
            let (statuses, lists) = (reading.status_requests, reading.list_requests);
            let (before_statuses, before_lists) = previous[index];
            previous[index] = (statuses, lists);
            history[index].push(Scrape {
                at: *at,
                requests: (statuses - before_statuses) + (lists - before_lists),
                list_requests: lists - before_lists,
                oldest_answer: reading.oldest_answer,
            });
            for (id, now_shown) in reading.shown {
                let seen = shown[index].entry(id).or_default();
                if seen.last().is_none_or(|(_, last)| *last != now_shown) {
                    seen.push((*at, now_shown));
                }
            }
            if index == 0 {
                in_progress.push(reading.running as f64 / repositories as f64);
            }
        }
    }
    let runs: Vec<codearts_sim::RunRecord> = client
        .get(format!("{endpoint}/-/activity"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let changes = transitions(&runs);
    let mut measured = Vec::new();
    for (index, (mode, _)) in exporters.iter().enumerate() {
        let scrapes = &history[index];
        let last_scrape = scrapes.last().map_or(0.0, |s| s.at);
        let mut delays = Vec::new();
        let mut missed = 0;
        for change in &changes {
            // Only a change with two scrapes after it can be judged.
            if change.at > last_scrape - 2.0 * interval.as_secs_f64() {
                continue;
            }
            let seen = shown[index].get(&change.repository_id).and_then(|history| {
                history
                    .iter()
                    .find(|(at, shown)| *at >= change.at && change.covered_by(*shown))
                    .map(|(at, _)| at - change.at)
            });
            match seen {
                Some(delay) => delays.push(delay),
                None => missed += 1,
            }
        }
        delays.sort_by(f64::total_cmp);
        let total: u64 = scrapes.iter().map(|s| s.requests).sum();
        let later = &scrapes[1.min(scrapes.len())..];
        let per_scrape = |sum: u64, count: usize| sum as f64 / count.max(1) as f64;
        measured.push(Measured {
            mode: *mode,
            requests_per_scrape: per_scrape(later.iter().map(|s| s.requests).sum(), later.len()),
            requests_per_scrape_with_first: per_scrape(total, scrapes.len()),
            list_requests_per_scrape: per_scrape(
                later.iter().map(|s| s.list_requests).sum(),
                later.len(),
            ),
            scrapes: scrapes.len(),
            delays,
            missed,
            oldest_answer: scrapes.iter().map(|s| s.oldest_answer).fold(0.0, f64::max),
        });
    }
    Ok(Scenario {
        pushes_per_minute,
        runs: runs.len(),
        changes: changes.len(),
        in_progress: in_progress.iter().sum::<f64>() / in_progress.len().max(1) as f64,
        exporters: measured,
    })
}

/// One change the simulator made: repository, event id, the stage the run reached, and when.
struct Change {
    repository_id: u64,
    event_id: i64,
    stage: u8,
    at: f64,
}

impl Change {
    /// Whether `shown` reflects this change or a later one of the same repository.
    fn covered_by(&self, shown: Shown) -> bool {
        shown.event_id > self.event_id
            || (shown.event_id == self.event_id && shown.stage >= self.stage)
    }
}

/// Every change of every run: it starts (`waiting`), becomes `active`, ends — each only if no
/// later push superseded the run first.
fn transitions(runs: &[codearts_sim::RunRecord]) -> Vec<Change> {
    let mut changes = Vec::new();
    for run in runs {
        let cut = run.superseded_at.unwrap_or(f64::INFINITY);
        for (stage, at) in [(0, run.pushed_at), (1, run.active_at), (2, run.finished_at)] {
            if at < cut {
                changes.push(Change {
                    repository_id: u64::from(run.repository_id),
                    event_id: run.event_id,
                    stage,
                    at,
                });
            }
        }
    }
    changes
}

/// What one scrape showed.
struct Reading {
    status_requests: u64,
    list_requests: u64,
    shown: Vec<(u64, Shown)>,
    /// Repositories whose run shows as `waiting` or `active`.
    running: usize,
    oldest_answer: f64,
}

fn read(body: &str) -> Reading {
    let mut event_ids: HashMap<u64, i64> = HashMap::new();
    let mut stages: HashMap<u64, u8> = HashMap::new();
    let mut reading = Reading {
        status_requests: 0,
        list_requests: 0,
        shown: Vec::new(),
        running: 0,
        oldest_answer: 0.0,
    };
    for line in body.lines() {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Some((name, labels)) = series.split_once('{') else {
            continue;
        };
        let value: f64 = value.parse().unwrap_or(f64::NAN);
        match name {
            "codearts_repo_exporter_api_requests_total" => {
                if labels.contains("endpoint=\"statistics_status\"") {
                    reading.status_requests = value as u64;
                } else if labels.contains("endpoint=\"user_repositories\"") {
                    reading.list_requests = value as u64;
                }
            }
            "codearts_repo_statistics_event_id" => {
                if let Some(id) = repository_id(labels) {
                    event_ids.insert(id, value as i64);
                }
            }
            "codearts_repo_statistics_event_status" if value == 1.0 => {
                if let Some(id) = repository_id(labels) {
                    let stage = if labels.contains("status=\"waiting\"") {
                        0
                    } else if labels.contains("status=\"active\"") {
                        1
                    } else {
                        2
                    };
                    stages.insert(id, stage);
                }
            }
            "codearts_repo_statistics_answer_age_seconds" => {
                reading.oldest_answer = reading.oldest_answer.max(value);
            }
            _ => {}
        }
    }
    reading.running = stages.values().filter(|stage| **stage < 2).count();
    reading.shown = event_ids
        .into_iter()
        .filter_map(|(id, event_id)| {
            let stage = *stages.get(&id)?;
            Some((id, Shown { event_id, stage }))
        })
        .collect();
    reading
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The quick check `cargo test` runs: a small fleet with brisk activity, change-driven
/// refresh beside the default mode. Change-driven refresh must show every change a scrape
/// could show and make fewer requests; no clock-based target is checked.
pub async fn quick_check(client: &reqwest::Client, dir: &std::path::Path) -> Result<String> {
    let scenario = scenario(
        client,
        dir,
        200,
        0.3,
        &[Mode::EveryScrape, Mode::OnChange],
        Duration::from_millis(500),
        Duration::from_secs(8),
    )
    .await?;
    let [every, on_change] = &scenario.exporters[..] else {
        return Err("two exporters measured".into());
    };
    if scenario.changes == 0 {
        return Err("the simulator made no change".into());
    }
    for measured in [every, on_change] {
        if measured.missed > 0 {
            return Err(format!(
                "{}: {} changes never shown",
                measured.mode.label(),
                measured.missed
            )
            .into());
        }
    }
    if on_change.requests_per_scrape >= every.requests_per_scrape {
        return Err(format!(
            "on_change made {:.1} requests per scrape, every_scrape {:.1}",
            on_change.requests_per_scrape, every.requests_per_scrape
        )
        .into());
    }
    Ok(format!(
        "refresh: {} changes shown by both modes, {:.1} vs {:.1} requests per scrape",
        scenario.changes, on_change.requests_per_scrape, every.requests_per_scrape
    ))
}
