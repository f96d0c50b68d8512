//! Activity: pushes that arrive at random and start statistics runs, for measuring how late a
//! client sees a change ([`SimConfig::activity`](crate::SimConfig::activity)).
//!
//! Pushes arrive as one Poisson process over the whole fleet (each repository equally likely),
//! at [`Activity::pushes_per_repository_per_minute`]. A push moves the repository's listed
//! times (`last_repository_updated_at` and `last_activity_at`, which `order_by=updated_at`
//! sorts by, newest first) and its last push, and starts a statistics run: `waiting` at once,
//! `active` after [`Activity::waiting`], `finish` after [`Activity::active`] more, with
//! `can_statistics` false (and `reason` 0) until it ends. A push during a run starts a new run,
//! which supersedes it. Until its first push a repository shows a settled run that finished
//! well before the simulator started, and nothing about it moves: only activity changes what a
//! client should see.
//!
//! Every run is recorded ([`RunRecord`], `GET /-/activity`) with the true moment of each of its
//! changes, so that a benchmark can measure how late a client saw each one. Times in answers
//! are whole seconds, as the API sends them: pushes within one second share a timestamp.
//!
//! The world advances lazily, to the time of each request that reads it; its randomness comes
//! from [`Activity::seed`], so two runs with the same seed push to the same repositories (at
//! times that depend on when requests come).

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::answers::{mix, timestamp, uniform_body};

/// How active the repositories are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Activity {
    /// The share of repositories pushed to per minute: 0.01 pushes to 1 % of them a minute
    /// (100 a minute out of 10,000).
    pub pushes_per_repository_per_minute: f64,
    /// How long a run waits before it runs.
    pub waiting: Duration,
    /// How long a run runs.
    pub active: Duration,
    pub seed: u64,
}

/// One statistics run and the true moments of its changes (Unix seconds, with fractions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub repository_id: u32,
    /// `event.id` of the run.
    pub event_id: i64,
    /// The push that started it: the listed times and the last push moved, and the run shows as
    /// `waiting`.
    pub pushed_at: f64,
    /// It shows as `active` from here (unless superseded before).
    pub active_at: f64,
    /// It shows as `finish` from here (unless superseded before).
    pub finished_at: f64,
    /// A later push started a new run at this moment, before this one finished.
    pub superseded_at: Option<f64>,
}

/// The first `event.id` of runs started by activity; runs before it are numbered by position.
const FIRST_RUN_ID: i64 = 50_000_000;
const SETTLED_RUN_ID: i64 = 1_000_000;

/// What a repository's latest run looks like at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RunView {
    pub(crate) event_id: i64,
    pub(crate) status: &'static str,
    pub(crate) created_at: f64,
    pub(crate) updated_at: f64,
}

#[derive(Debug, Clone, Copy)]
struct Run {
    event_id: i64,
    started: f64,
    /// Its position in `World::runs` (`None` for the run before activity).
    record: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
struct RepositoryState {
    /// The last push: also both listed times.
    pushed: f64,
    run: Run,
}

struct Inner {
    /// The time up to which pushes have been drawn.
    advanced_to: f64,
    next_push: f64,
    random: u64,
    next_run_id: i64,
    repositories: Vec<RepositoryState>,
    runs: Vec<RunRecord>,
}

/// The state of every repository under activity.
pub(crate) struct World {
    activity: Activity,
    first_id: u32,
    /// Pushes per second over the whole fleet.
    rate: f64,
    inner: Mutex<Inner>,
}

impl World {
    /// `count` repositories with ids from `first_id`, settled as of `start` (Unix seconds).
    pub(crate) fn new(activity: Activity, count: u32, first_id: u32, start: f64) -> Self {
        let repositories = (0..count)
            .map(|index| {
                // Last pushed within the day before, its run finished an hour before that.
                let pushed =
                    start - 3600.0 - (mix(u64::from(index) ^ activity.seed) % 86_400) as f64;
                RepositoryState {
                    pushed,
                    run: Run {
                        event_id: SETTLED_RUN_ID + i64::from(index),
                        started: pushed + 1.0,
                        record: None,
                    },
                }
            })
            .collect();
        let rate = activity.pushes_per_repository_per_minute.max(0.0) * f64::from(count) / 60.0;
        let mut inner = Inner {
            advanced_to: start,
            next_push: f64::INFINITY,
            random: mix(activity.seed ^ 0x7075_7368),
            next_run_id: FIRST_RUN_ID,
            repositories,
            runs: Vec::new(),
        };
        inner.next_push = start + inner.interval(rate);
        Self {
            activity,
            first_id,
            rate,
            inner: Mutex::new(inner),
        }
    }

    fn advanced(&self, now: f64) -> std::sync::MutexGuard<'_, Inner> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.advance(now, self);
        inner
    }

    /// The latest run of the repository at `index`, as it shows at `now`.
    pub(crate) fn run(&self, index: u32, now: f64) -> Option<RunView> {
        let inner = self.advanced(now);
        let state = inner.repositories.get(index as usize)?;
        Some(self.view(state.run, now))
    }

    /// When the repository at `index` was last pushed to, which is also both its listed times.
    pub(crate) fn pushed(&self, index: u32, now: f64) -> Option<f64> {
        let inner = self.advanced(now);
        inner
            .repositories
            .get(index as usize)
            .map(|state| state.pushed)
    }

    /// Every repository's last push at `now`, by position.
    pub(crate) fn all_pushed(&self, now: f64) -> Vec<f64> {
        let inner = self.advanced(now);
        inner
            .repositories
            .iter()
            .map(|state| state.pushed)
            .collect()
    }

    /// Every run activity started up to `now`.
    pub(crate) fn runs(&self, now: f64) -> Vec<RunRecord> {
        self.advanced(now).runs.clone()
    }

    fn view(&self, run: Run, now: f64) -> RunView {
        let active_at = run.started + self.activity.waiting.as_secs_f64();
        let finished_at = active_at + self.activity.active.as_secs_f64();
        let (status, updated_at) = if now < active_at {
            ("waiting", run.started)
        } else if now < finished_at {
            ("active", active_at)
        } else {
            ("finish", finished_at)
        };
        RunView {
            event_id: run.event_id,
            status,
            created_at: run.started,
            updated_at,
        }
    }

    /// The statistics-status body of the repository at `index` (id `id`) at `now`: every field
    /// present and of one width, like the `Uniform` answers.
    pub(crate) fn status_body(&self, index: u32, id: u32, now: f64) -> Value {
        let Some(run) = self.run(index, now) else {
            return json!({});
        };
        uniform_body(
            id,
            run.event_id,
            run.status,
            run.created_at.floor() as i64,
            run.updated_at.floor() as i64,
        )
    }

    /// The id of the repository at `index`.
    fn id_at(&self, index: usize) -> u32 {
        self.first_id + index as u32
    }
}

impl Inner {
    /// Seconds to the next push of the fleet.
    fn interval(&mut self, rate: f64) -> f64 {
        if rate <= 0.0 {
            return f64::INFINITY;
        }
        let uniform = (self.draw() >> 11) as f64 / (1u64 << 53) as f64;
        -(1.0 - uniform).ln() / rate
    }

    fn draw(&mut self) -> u64 {
        self.random = self.random.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.random)
    }

    /// Draws every push up to `now`.
    fn advance(&mut self, now: f64, world: &World) {
        if now <= self.advanced_to {
            return;
        }
        while self.next_push <= now && !self.repositories.is_empty() {
            let at = self.next_push;
            let index = (self.draw() % self.repositories.len() as u64) as usize;
            self.push(index, at, world);
            self.next_push = at + self.interval(world.rate);
        }
        self.advanced_to = now;
    }

    fn push(&mut self, index: usize, at: f64, world: &World) {
        let previous = self.repositories[index].run;
        if let Some(record) = previous.record {
            let run = &mut self.runs[record];
            if at < run.finished_at {
                run.superseded_at = Some(at);
            }
        }
        let event_id = self.next_run_id;
        self.next_run_id += 1;
        let active_at = at + world.activity.waiting.as_secs_f64();
        self.runs.push(RunRecord {
            repository_id: world.id_at(index),
            event_id,
            pushed_at: at,
            active_at,
            finished_at: active_at + world.activity.active.as_secs_f64(),
            superseded_at: None,
        });
        self.repositories[index] = RepositoryState {
            pushed: at,
            run: Run {
                event_id,
                started: at,
                record: Some(self.runs.len() - 1),
            },
        };
    }
}

/// RFC 3339 in China Standard Time, cut to the whole second as the API sends its times.
pub(crate) fn whole_second(unix: f64) -> String {
    timestamp(unix.floor() as i64, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: f64 = 1_780_000_000.0;

    /// 1 % of the repositories pushed to per minute, each run two minutes long (the simulator
    /// binary's defaults): about 2 % of the fleet has a run in progress at any time.
    fn steady() -> Activity {
        Activity {
            pushes_per_repository_per_minute: 0.01,
            waiting: Duration::from_secs(30),
            active: Duration::from_secs(90),
            seed: 21,
        }
    }

    fn world(per_minute: f64, count: u32) -> World {
        World::new(
            Activity {
                pushes_per_repository_per_minute: per_minute,
                ..steady()
            },
            count,
            100,
            START,
        )
    }

    #[test]
    fn without_pushes_nothing_moves_and_every_run_is_settled() {
        let quiet = world(0.0, 50);
        let before = quiet.all_pushed(START);
        assert_eq!(quiet.all_pushed(START + 86_400.0), before);
        for index in 0..50 {
            let run = quiet.run(index, START + 86_400.0).unwrap();
            assert_eq!(run.status, "finish");
            assert!(run.updated_at < START);
        }
        assert!(quiet.runs(START + 86_400.0).is_empty());
    }

    #[test]
    fn pushes_arrive_at_the_configured_rate_and_start_runs_through_their_states() {
        let busy = world(0.01, 10_000);
        // An hour at 1 % a minute of 10,000 repositories: about 6,000 pushes.
        let runs = busy.runs(START + 3600.0);
        assert!(
            (5_600..=6_400).contains(&runs.len()),
            "{} pushes",
            runs.len()
        );
        // A run that was its repository's last within the hour.
        let last_of_its_repository = |run: &&RunRecord| {
            !runs.iter().any(|later| {
                later.repository_id == run.repository_id && later.pushed_at > run.pushed_at
            })
        };
        let run = runs
            .iter()
            .filter(|r| r.pushed_at > START + 600.0 && r.finished_at < START + 3000.0)
            .find(last_of_its_repository)
            .unwrap();
        let index = run.repository_id - 100;
        let at = |t: f64| busy.run(index, t);
        // Asking about the past after the future was drawn is fine for the states of one run.
        assert_eq!(at(run.pushed_at + 1.0).map(|r| r.status), Some("waiting"));
        assert_eq!(at(run.active_at + 1.0).map(|r| r.status), Some("active"));
        assert_eq!(at(run.finished_at + 1.0).map(|r| r.status), Some("finish"));
        assert_eq!(
            at(run.finished_at + 1.0).map(|r| r.event_id),
            Some(run.event_id)
        );
        assert_eq!(run.finished_at - run.pushed_at, 120.0);
    }

    #[test]
    fn a_push_during_a_run_supersedes_it_and_moves_the_listed_times() {
        let w = world(0.0, 3);
        {
            let mut inner = w.inner.lock().unwrap();
            inner.push(1, START + 10.0, &w);
            inner.push(1, START + 20.0, &w);
        }
        let runs = w.runs(START + 30.0);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].superseded_at, Some(START + 20.0));
        assert_eq!(runs[1].superseded_at, None);
        assert_eq!(w.pushed(1, START + 30.0), Some(START + 20.0));
        let run = w.run(1, START + 30.0).unwrap();
        assert_eq!((run.event_id, run.status), (runs[1].event_id, "waiting"));
        let body = w.status_body(1, 101, START + 30.0);
        assert_eq!(body["can_statistics"], false);
        assert_eq!(body["reason"], 0);
    }

    #[test]
    fn the_same_seed_pushes_to_the_same_repositories() {
        let ids = |w: World| {
            w.runs(START + 600.0)
                .into_iter()
                .map(|r| r.repository_id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(world(0.01, 1000)), ids(world(0.01, 1000)));
    }

    #[test]
    fn times_are_whole_seconds_in_china_standard_time() {
        assert_eq!(whole_second(1_749_024_869.9), "2025-06-04T16:14:29+08:00");
    }
}
