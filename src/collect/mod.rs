//! One scrape's fan-out: which repositories to ask, how many at once, until when, and what to
//! show for each — fresh, cached, or timed out.
//!
//! A fan-out runs as its own task and writes each result into a store as it arrives. Scrapes
//! wait for it until their own deadline and then read the store, so concurrent scrapes share
//! one fan-out (single flight), work cut off by a deadline still fills the cache, and a
//! repository that never answers cannot hold up the others.

pub mod deadline;
pub mod discovery;
mod health;
mod metrics;
mod result;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::client::{CodeArtsClient, Fetched, LastPushEvent, StatisticsStatus};
use crate::config::{Config, IdMap, IdSet, LastPushConfig, Repository, RepositoryId, ScrapeConfig};
use crate::upstream::{parse_time, ErrorClass};
pub use discovery::DiscoveryState;
use health::Health;
pub use metrics::CollectMetrics;
pub use result::{LastPush, RepositoryResult, Snapshot};

/// What a fan-out works from: the client and the list of repositories of one config
/// generation. A reload builds a new plan; the store of results outlives plans.
pub struct Plan {
    pub client: Arc<CodeArtsClient>,
    pub repositories: Arc<[Repository]>,
    pub scrape: ScrapeConfig,
    /// How many of `repositories` come from the config, and how many only from discovery.
    pub statics: usize,
    pub discovered: usize,
    /// `None` unless last pushes are asked for too.
    pub last_push: Option<LastPushConfig>,
    /// Tells plans apart (see [`Store::trimmed_for`]).
    serial: u64,
}

/// How far a time from the API may lie in the future of our clock and still be believed: clocks
/// drift, but a push an hour from now is a broken answer, not news.
const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// The latest answer for a repository.
struct Outcome {
    /// The fan-out that got it.
    round: u64,
    /// The answer's data (shared with every scrape that shows it), or why there is none.
    status: Result<Arc<StatisticsStatus>, ErrorClass>,
    http_status: u16,
    duration: Duration,
    finished: Instant,
}

/// The latest last-push answer for a repository.
struct PushOutcome {
    /// When the push happened (`None`: no usable push time), or why the request failed.
    result: Result<Option<f64>, ErrorClass>,
    finished: Instant,
}

#[derive(Default)]
struct RepositoryState {
    last: Option<Outcome>,
    last_success: Option<(SystemTime, Instant)>,
    push: Option<PushOutcome>,
    /// The last unusable time we logged, so it is logged once, not every scrape.
    logged_bad_time: Option<String>,
    /// The state of the last answer, so that only a change of it is logged.
    health: Health,
}

/// One request of a fan-out.
#[derive(Debug, Clone, Copy)]
enum Ask {
    /// The status of the plan's repository at this index.
    Status(usize),
    /// The last push of the plan's repository at this index.
    LastPush(usize),
}

/// What one request of a fan-out brought back.
enum Answer<'a> {
    Status(&'a Repository, Fetched<StatisticsStatus>),
    LastPush(RepositoryId, Fetched<LastPushEvent>),
}

/// The round that stands for "whatever came last", never used by a fan-out.
const LATEST: u64 = u64::MAX;

/// The fan-out running now, which scrapes of the same plan join.
struct RunningFanOut {
    round: u64,
    plan: Arc<Plan>,
    done: watch::Receiver<bool>,
}

/// Each repository's latest results.
#[derive(Default)]
struct Store {
    states: IdMap<RepositoryState>,
    /// The plan whose list `states` was last cut down to. Cutting it (a set of the plan's ids,
    /// and a pass over the store) was a tenth of a 10,000-repository scrape served from the
    /// cache when done for every fan-out; now it is done when the plan changes, or when the
    /// store holds more repositories than the plan (a fan-out of the plan before recorded
    /// answers after the cut). What may stay until then is at most one old plan's answers,
    /// which no scrape shows.
    trimmed_for: u64,
}

/// Runs fan-outs and keeps each repository's latest result, and the last discovered list.
pub struct Collector {
    store: Mutex<Store>,
    running: Mutex<Option<RunningFanOut>>,
    next_round: Mutex<u64>,
    /// The serial of the next plan (0 is no plan's).
    next_plan: AtomicU64,
    discovery: Mutex<DiscoveryState>,
    metrics: Arc<CollectMetrics>,
}

impl Collector {
    pub fn new(metrics: Arc<CollectMetrics>) -> Arc<Self> {
        Arc::new(Self {
            store: Mutex::new(Store::default()),
            running: Mutex::new(None),
            next_round: Mutex::new(0),
            next_plan: AtomicU64::new(1),
            discovery: Mutex::new(DiscoveryState::default()),
            metrics,
        })
    }

    /// The plan of `config`: its static repositories plus the last discovered list (when
    /// discovery is on), cut to its shard. The repositories gauge follows.
    pub fn plan(&self, config: &Config, client: Arc<CodeArtsClient>) -> Arc<Plan> {
        let discovered = match config.discovery {
            Some(_) => self.discovery_state().repositories,
            None => Arc::default(),
        };
        let (repositories, statics, found) =
            discovery::merge(&config.repositories, &discovered, config.shard);
        self.metrics.set_repositories(statics, found);
        Arc::new(Plan {
            client,
            repositories: repositories.into(),
            scrape: config.scrape.clone(),
            statics,
            discovered: found,
            last_push: config.last_push,
            serial: self.next_plan.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// What discovery found and when.
    pub fn discovery_state(&self) -> DiscoveryState {
        self.discovery
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Records the outcome of a discovery refresh: a new list, or an error while the last good
    /// list stays.
    pub fn record_discovery(&self, outcome: Result<Vec<Repository>, String>) {
        let mut state = self.discovery.lock().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Ok(found) => {
                state.repositories = found.into();
                state.last_success = Some(SystemTime::now());
                state.last_error = None;
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                self.metrics.observe_discovery_success(now);
            }
            Err(err) => state.last_error = Some(err),
        }
    }

    /// Scrapes every repository of `plan` within `budget` and returns what to show.
    ///
    /// Joins the fan-out in flight for the same plan, if any, instead of starting another.
    pub async fn scrape(self: &Arc<Self>, plan: &Arc<Plan>, budget: Duration) -> Snapshot {
        let started = Instant::now();
        let deadline = started + budget;
        let (round, mut done) = self.join_or_start(plan, deadline);
        // An error means the fan-out task is gone, which also means it is finished.
        let _ = tokio::time::timeout_at(deadline, done.wait_for(|finished| *finished)).await;
        let results = self.results(plan, round, started);
        let duration = started.elapsed();
        self.metrics
            .observe_scrape(duration.as_secs_f64(), budget.as_secs_f64());
        Snapshot { results, duration }
    }

    /// Asks for one repository now, outside any fan-out (`/probe`): its statistics status and,
    /// with `last_push` on, its last push, both at once.
    pub async fn probe(plan: &Plan, repository: Repository, budget: Duration) -> RepositoryResult {
        let deadline = Instant::now() + budget;
        let client = &plan.client;
        let last_push = async {
            match plan.last_push {
                Some(_) => Some(client.last_push(repository.id, deadline, deadline).await),
                None => None,
            }
        };
        let (fetched, pushed) = futures::join!(
            client.statistics_status(repository.id, deadline, deadline),
            last_push
        );
        let status = fetched.result.as_ref().ok().cloned().map(Arc::new);
        let mut logged = None;
        RepositoryResult {
            error: fetched.result.as_ref().err().copied(),
            last_success: status.as_ref().map(|_| SystemTime::now()),
            status,
            http_status: fetched.http_status,
            duration: fetched.duration,
            last_push: pushed
                .map(|pushed| last_push_of(&push_time(repository.id, pushed.result, &mut logged))),
            repository,
        }
    }

    /// The latest result of each repository of `plan`, for the landing page (never waits).
    pub fn latest(&self, plan: &Plan) -> Vec<RepositoryResult> {
        self.results(plan, LATEST, Instant::now())
    }

    fn join_or_start(
        self: &Arc<Self>,
        plan: &Arc<Plan>,
        scrape_deadline: Instant,
    ) -> (u64, watch::Receiver<bool>) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(current) = running.as_ref() {
            if !*current.done.borrow() && Arc::ptr_eq(&current.plan, plan) {
                return (current.round, current.done.clone());
            }
        }
        let round = {
            let mut next = self.next_round.lock().unwrap_or_else(|e| e.into_inner());
            *next += 1;
            *next
        };
        let (tx, rx) = watch::channel(false);
        *running = Some(RunningFanOut {
            round,
            plan: plan.clone(),
            done: rx.clone(),
        });
        let collector = Arc::clone(self);
        let plan = Arc::clone(plan);
        tokio::spawn(async move {
            collector.fan_out(&plan, round, scrape_deadline).await;
            let _ = tx.send(true);
        });
        (round, rx)
    }

    /// Asks every repository that is not fresh in the cache, stalest first, at most
    /// `concurrency` at a time, until `max_duration` has passed; then, with `last_push` on, the
    /// last pushes that are due, stalest first, in what is left. Every status request starts
    /// before any last-push request, so last pushes never cost a status its place. Retries stop
    /// at the deadline of the scrape that started the fan-out; first attempts go on to fill the
    /// cache.
    async fn fan_out(&self, plan: &Plan, round: u64, retry_until: Instant) {
        let deadline = Instant::now() + plan.scrape.max_duration;
        let (statuses, pushes) = self.order(plan);
        let asks = statuses
            .into_iter()
            .map(Ask::Status)
            .chain(pushes.into_iter().map(Ask::LastPush));
        let client = &plan.client;
        let requests = futures::stream::iter(asks)
            .map(|ask| async move {
                match ask {
                    Ask::Status(index) => {
                        let repository = &plan.repositories[index];
                        let id = repository.id;
                        let fetched = client.statistics_status(id, deadline, retry_until).await;
                        Answer::Status(repository, fetched)
                    }
                    Ask::LastPush(index) => {
                        let id = plan.repositories[index].id;
                        Answer::LastPush(id, client.last_push(id, deadline, retry_until).await)
                    }
                }
            })
            .buffer_unordered(plan.scrape.concurrency.get())
            .for_each(|answer| {
                match answer {
                    Answer::Status(repository, fetched) => self.record(repository, round, fetched),
                    Answer::LastPush(id, fetched) => self.record_push(id, fetched),
                }
                futures::future::ready(())
            });
        // Each request is bounded by the same deadline; this only stops the queue behind them.
        let _ = tokio::time::timeout_at(deadline, requests).await;
    }

    /// The repositories to ask for their status, and (with `last_push` on) for their last push,
    /// as indices into the plan, each stalest first. Drops state of repositories no longer in the
    /// plan; skips statuses whose last success is younger than `scrape.min_interval` and last
    /// pushes fetched within `last_push.min_interval`.
    fn order(&self, plan: &Plan) -> (Vec<usize>, Vec<usize>) {
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        if store.trimmed_for != plan.serial || store.states.len() > plan.repositories.len() {
            let wanted: IdSet = plan.repositories.iter().map(|r| r.id).collect();
            store.states.retain(|id, _| wanted.contains(id));
            store.trimmed_for = plan.serial;
        }
        // One clock reading for the whole list, not one per repository.
        let now = Instant::now();
        let min_interval = plan.scrape.min_interval;
        let mut statuses: Vec<(Option<Instant>, usize)> = Vec::new();
        let mut pushes: Vec<(Option<Instant>, usize)> = Vec::new();
        let mut hits = 0u64;
        for (index, repository) in plan.repositories.iter().enumerate() {
            let state = store.states.get(&repository.id);
            if is_cache_fresh(state, min_interval, now) {
                hits += 1;
            } else {
                let last = state.and_then(|s| s.last.as_ref());
                statuses.push((last.map(|o| o.finished), index));
            }
            if let Some(config) = &plan.last_push {
                let push = state.and_then(|s| s.push.as_ref());
                if !push.is_some_and(|p| {
                    p.result.is_ok()
                        && now.saturating_duration_since(p.finished) < config.min_interval
                }) {
                    pushes.push((push.map(|p| p.finished), index));
                }
            }
        }
        drop(store);
        self.metrics.count_cache_hits(hits);
        // Never-asked first, then oldest answer first; ties keep the configured order.
        let stalest_first = |mut order: Vec<(Option<Instant>, usize)>| {
            order.sort_unstable();
            order.into_iter().map(|(_, index)| index).collect()
        };
        (stalest_first(statuses), stalest_first(pushes))
    }

    fn record(&self, repository: &Repository, round: u64, fetched: Fetched<StatisticsStatus>) {
        let id = repository.id;
        let health = Health::of(fetched.result.as_ref().map(|_| ()).map_err(|class| *class));
        // Moved, not cloned: at 10,000 repositories a second copy of every answer is megabytes.
        let status = fetched.result.map(Arc::new);
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let state = store.states.entry(id).or_default();
        let now = Instant::now();
        if let Ok(status) = &status {
            state.last_success = Some((SystemTime::now(), now));
            log_unparseable_time(id, status, &mut state.logged_bad_time);
        }
        let change = health::change(state.health, health);
        state.health = health;
        state.last = Some(Outcome {
            round,
            status,
            http_status: fetched.http_status,
            duration: fetched.duration,
            finished: now,
        });
        drop(store);
        if let Some(change) = change {
            let details = health::Details {
                http_status: fetched.http_status,
                error_code: fetched.error_code.as_deref(),
                request_id: fetched.request_id.as_deref(),
            };
            health::log(repository, change, &details);
        }
    }

    fn record_push(&self, id: RepositoryId, fetched: Fetched<LastPushEvent>) {
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let state = store.states.entry(id).or_default();
        let result = push_time(id, fetched.result, &mut state.logged_bad_time);
        state.push = Some(PushOutcome {
            result,
            finished: Instant::now(),
        });
    }

    /// What to show for each repository of `plan`, for a scrape waiting on fan-out `round`.
    fn results(&self, plan: &Plan, round: u64, scrape_started: Instant) -> Vec<RepositoryResult> {
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let cache = !plan.scrape.min_interval.is_zero() || round == LATEST;
        plan.repositories
            .iter()
            .map(|repository| {
                let state = store.states.get(&repository.id);
                let last_success = state.and_then(|s| s.last_success).map(|(at, _)| at);
                // A last push is shown from whichever fan-out got it: it is asked for only every
                // `last_push.min_interval`.
                let last_push = plan
                    .last_push
                    .and(state.and_then(|s| s.push.as_ref()))
                    .map(|push| last_push_of(&push.result));
                // With a cache, a repository this fan-out did not reach (fresh in the cache, or
                // cut off by the deadline) shows its latest answer, whose age
                // last_success_timestamp_seconds tells. Without one, it timed out.
                let current = state
                    .and_then(|s| s.last.as_ref())
                    .filter(|outcome| outcome.round == round || cache);
                match current {
                    Some(outcome) => RepositoryResult {
                        repository: repository.clone(),
                        status: outcome.status.as_ref().ok().cloned(),
                        error: outcome.status.as_ref().err().copied(),
                        http_status: outcome.http_status,
                        duration: outcome.duration,
                        last_success,
                        last_push,
                    },
                    // Not answered by this scrape's deadline; for the landing page (LATEST), a
                    // repository never asked yet is pending, not failed.
                    None => RepositoryResult {
                        repository: repository.clone(),
                        status: None,
                        error: (round != LATEST).then_some(ErrorClass::Timeout),
                        http_status: 0,
                        duration: scrape_started.elapsed(),
                        last_success,
                        last_push,
                    },
                }
            })
            .collect()
    }
}

/// A repository whose last answer was a success younger than `min_interval` (at `now`) is not
/// asked again.
fn is_cache_fresh(state: Option<&RepositoryState>, min_interval: Duration, now: Instant) -> bool {
    if min_interval.is_zero() {
        return false;
    }
    let Some(state) = state else { return false };
    match (&state.last, state.last_success) {
        (Some(last), Some((_, at))) => {
            last.status.is_ok() && now.saturating_duration_since(at) < min_interval
        }
        _ => false,
    }
}

fn last_push_of(result: &Result<Option<f64>, ErrorClass>) -> LastPush {
    LastPush {
        up: result.is_ok(),
        pushed_at: result.ok().flatten(),
    }
}

/// The push time of a last-push answer, when usable: a time that does not parse, or lies in the
/// future, is left out (and logged once at debug level), so it never makes a negative or absurd
/// lag. A repository with no recorded push has no time.
fn push_time(
    id: RepositoryId,
    fetched: Result<LastPushEvent, ErrorClass>,
    logged: &mut Option<String>,
) -> Result<Option<f64>, ErrorClass> {
    let event = fetched?;
    let Some(text) = &event.created_at else {
        return Ok(None);
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let usable = event
        .pushed_at()
        .filter(|at| *at <= now + CLOCK_SKEW.as_secs_f64());
    if usable.is_none() && logged.as_deref() != Some(text.as_str()) {
        tracing::debug!(repository_id = %id, field = "last push created_at", value = %text,
            "unparseable or future time; no last push and no lag for this repository");
        *logged = Some(text.clone());
    }
    Ok(usable)
}

fn log_unparseable_time(id: RepositoryId, status: &StatisticsStatus, logged: &mut Option<String>) {
    let Some(event) = &status.event else { return };
    for (field, value) in [
        ("event.created_at", &event.created_at),
        ("event.updated_at", &event.updated_at),
    ] {
        if let Some(value) = value {
            if parse_time(value).is_none() && logged.as_deref() != Some(value.as_str()) {
                tracing::debug!(repository_id = %id, field, value = %value, "unparseable time; its metric is left out");
                *logged = Some(value.clone());
            }
        }
    }
}
