//! One scrape's fan-out: which repositories to ask, how many at once, until when, and what to
//! show for each — fresh, cached, or timed out.
//!
//! A fan-out runs as its own task and writes each result into a store as it arrives. Scrapes
//! wait for it until their own deadline and then read the store, so concurrent scrapes share
//! one fan-out (single flight), work cut off by a deadline still fills the cache, and a
//! repository that never answers cannot hold up the others.
//!
//! With change-driven refresh (`refresh.mode: on_change`) a fan-out first looks at the most
//! recently updated entries of the repository list ([`listing`]) and asks only the repositories
//! [`refresh`] finds due; the others show their last answer.

pub(crate) mod deadline;
pub(crate) mod discovery;
mod health;
pub(crate) mod listing;
mod metrics;
mod refresh;
mod result;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::client::{CodeArtsClient, Fetched, LastPushEvent, ListOrder, StatisticsStatus};
use crate::config::{
    ChangeDriven, Config, IdMap, IdSet, LastPushConfig, PushSource, Refresh, Repository,
    RepositoryId, ScrapeConfig,
};
use crate::upstream::{believable, parse_time, Endpoint, ErrorClass};
pub(crate) use discovery::{DiscoveryState, FullListing};
use health::Health;
use listing::{Flow, ListedTimesStore, ListingError};
pub(crate) use metrics::CollectMetrics;
use metrics::{ListingKind, SaveReason};
use refresh::{AskReason, LastAnswer};
pub(crate) use result::LastPush;
pub use result::RepositoryResult;

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
    pub refresh: Refresh,
    /// Tells plans apart (see [`Store::trimmed_for`]).
    serial: u64,
}

impl Plan {
    /// Whether a scrape may show an answer older than its own fan-out: with the cache
    /// (`scrape.min_interval`) or change-driven refresh.
    pub(crate) fn keeps_answers(&self) -> bool {
        !self.scrape.min_interval.is_zero() || self.refresh.change_driven().is_some()
    }
}

/// The latest answer for a repository.
struct Outcome {
    /// The fan-out that got it.
    round: u64,
    /// The answer's data (shared with every scrape that shows it), or why there is none.
    status: Result<Arc<StatisticsStatus>, ErrorClass>,
    http_status: u16,
    duration: Duration,
    finished: Instant,
    /// `finished` by the wall clock, for the age of the answer a scrape shows.
    answered: SystemTime,
    /// The listed change time when it was asked (change-driven refresh).
    listed_when_asked: Option<f64>,
}

/// The latest last-push answer for a repository.
struct PushOutcome {
    /// When the push happened (`None`: no usable push time), or why the request failed.
    result: Result<Option<f64>, ErrorClass>,
    finished: Instant,
    /// The listed `last_repository_updated_at` when it was asked (change-driven refresh).
    listed_when_asked: Option<f64>,
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

/// One request of a fan-out: for the plan's repository at `index`, with the listed time it
/// is asked at (change-driven refresh; `None` otherwise).
#[derive(Debug, Clone, Copy)]
enum Ask {
    Status { index: usize, listed: Option<f64> },
    LastPush { index: usize, listed: Option<f64> },
}

/// What one request of a fan-out brought back.
enum Answer<'a> {
    Status(&'a Repository, Option<f64>, Fetched<StatisticsStatus>),
    LastPush(RepositoryId, Option<f64>, Fetched<LastPushEvent>),
}

/// What a fan-out asks, each list stalest first.
struct Asks {
    statuses: Vec<Ask>,
    pushes: Vec<Ask>,
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
pub(crate) struct Collector {
    store: Mutex<Store>,
    running: Mutex<Option<RunningFanOut>>,
    next_round: Mutex<u64>,
    /// The serial of the next plan (0 is no plan's).
    next_plan: AtomicU64,
    discovery: Mutex<DiscoveryState>,
    /// What the repository list said of each repository's updates (change-driven refresh).
    listed: Mutex<ListedTimesStore>,
    metrics: Arc<CollectMetrics>,
}

impl Collector {
    pub(crate) fn new(metrics: Arc<CollectMetrics>) -> Arc<Self> {
        Arc::new(Self {
            store: Mutex::new(Store::default()),
            running: Mutex::new(None),
            next_round: Mutex::new(0),
            next_plan: AtomicU64::new(1),
            discovery: Mutex::new(DiscoveryState::default()),
            listed: Mutex::new(ListedTimesStore::default()),
            metrics,
        })
    }

    /// The plan of `config`: its static repositories plus the last discovered list (when
    /// discovery is on), cut to its shard. The repositories gauge follows.
    pub(crate) fn plan(&self, config: &Config, client: Arc<CodeArtsClient>) -> Arc<Plan> {
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
            refresh: config.refresh,
            serial: self.next_plan.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// What discovery found and when.
    pub(crate) fn discovery_state(&self) -> DiscoveryState {
        self.lock_discovery().clone()
    }

    /// Records the outcome of a full listing, `took` long: a new discovered list and new listed
    /// times, or an error while the last good ones stay.
    pub(crate) fn record_full_listing(
        &self,
        outcome: Result<FullListing, ListingError>,
        took: Duration,
    ) {
        let now = unix_now();
        let found = match outcome {
            Ok(found) => found,
            Err(err) => {
                self.lock_discovery().last_error = Some(err.to_string());
                return;
            }
        };
        if let Some(times) = found.times {
            self.lock_listed().replace(times, now, Instant::now());
            self.metrics
                .observe_listing(ListingKind::Full, took, found.pages, now);
        }
        if let Some(repositories) = found.repositories {
            let mut state = self.lock_discovery();
            state.repositories = repositories.into();
            state.last_success = Some(SystemTime::now());
            state.last_error = None;
            self.metrics.observe_discovery_success(now);
        }
    }

    /// When the whole repository list was last read for its times.
    pub(crate) fn last_full_listing(&self) -> Option<Instant> {
        self.lock_listed().full_at()
    }

    fn lock_discovery(&self) -> std::sync::MutexGuard<'_, DiscoveryState> {
        self.discovery.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_listed(&self) -> std::sync::MutexGuard<'_, ListedTimesStore> {
        self.listed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Scrapes every repository of `plan` within `budget` and returns what to show for each, in
    /// the plan's order.
    ///
    /// Joins the fan-out in flight for the same plan, if any, instead of starting another.
    pub(crate) async fn scrape(
        self: &Arc<Self>,
        plan: &Arc<Plan>,
        budget: Duration,
    ) -> Vec<RepositoryResult> {
        let started = Instant::now();
        let deadline = started + budget;
        let (round, mut done) = self.join_or_start(plan, deadline);
        // An error means the fan-out task is gone, which also means it is finished.
        let _ = tokio::time::timeout_at(deadline, done.wait_for(|finished| *finished)).await;
        let results = self.results(plan, round, started);
        let duration = started.elapsed();
        self.metrics
            .observe_scrape(duration.as_secs_f64(), budget.as_secs_f64());
        results
    }

    /// Asks for one repository now, outside any fan-out (`/probe`): its statistics status and,
    /// with `last_push` on, its last push, both at once.
    pub(crate) async fn probe(
        plan: &Plan,
        repository: Repository,
        budget: Duration,
    ) -> RepositoryResult {
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
        let answered = SystemTime::now();
        RepositoryResult {
            error: fetched.result.as_ref().err().copied(),
            last_success: status.as_ref().map(|_| answered),
            answered: Some(answered),
            status,
            http_status: fetched.http_status,
            duration: fetched.duration,
            last_push: pushed
                .map(|pushed| last_push_of(&push_time(repository.id, pushed.result, &mut logged))),
            repository,
        }
    }

    /// The latest result of each repository of `plan`, for the landing page (never waits).
    pub(crate) fn latest(&self, plan: &Plan) -> Vec<RepositoryResult> {
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

    /// Asks every repository that is due, stalest first, at most `concurrency` at a time, until
    /// `max_duration` has passed; then, with `last_push` on, the last pushes that are due,
    /// stalest first, in what is left. Every status request starts before any last-push
    /// request, so last pushes never cost a status its place. Retries stop at the deadline of
    /// the scrape that started the fan-out; first attempts go on to fill the cache.
    ///
    /// Due means: not fresh in the cache (`scrape.min_interval`) and, with change-driven
    /// refresh, found due by [`refresh`] after a look at the repository list.
    async fn fan_out(&self, plan: &Plan, round: u64, retry_until: Instant) {
        let deadline = Instant::now() + plan.scrape.max_duration;
        let look_ok = match plan.refresh.change_driven() {
            Some(settings) => self.look(plan, settings).await,
            None => true,
        };
        let Asks { statuses, pushes } = self.order(plan, look_ok, retry_until);
        let client = &plan.client;
        let requests = futures::stream::iter(statuses.into_iter().chain(pushes))
            .map(|ask| async move {
                match ask {
                    Ask::Status { index, listed } => {
                        let repository = &plan.repositories[index];
                        let id = repository.id;
                        let fetched = client.statistics_status(id, deadline, retry_until).await;
                        Answer::Status(repository, listed, fetched)
                    }
                    Ask::LastPush { index, listed } => {
                        let id = plan.repositories[index].id;
                        let fetched = client.last_push(id, deadline, retry_until).await;
                        Answer::LastPush(id, listed, fetched)
                    }
                }
            })
            .buffer_unordered(plan.scrape.concurrency.get())
            .for_each(|answer| {
                match answer {
                    Answer::Status(repository, listed, fetched) => {
                        self.record(repository, round, listed, fetched)
                    }
                    Answer::LastPush(id, listed, fetched) => self.record_push(id, listed, fetched),
                }
                futures::future::ready(())
            });
        // Each request is bounded by the same deadline; this only stops the queue behind them.
        let _ = tokio::time::timeout_at(deadline, requests).await;
    }

    /// Looks at the most recently updated entries of the repository list, down to the newest
    /// time the previous look saw less `listing_overlap` (all of it before any listing), and
    /// records their times. Returns whether it succeeded; when it did not, nothing is known to
    /// be unchanged and every repository is asked.
    async fn look(&self, plan: &Plan, settings: &ChangeDriven) -> bool {
        let started = Instant::now();
        let cutoff = self.lock_listed().cutoff(settings.listing_overlap);
        let mut read = Vec::new();
        let walked = listing::walk(
            &plan.client,
            ListOrder::RecentlyUpdated,
            false,
            plan.scrape.request_timeout,
            |entries| {
                read.extend(listing::times_of(&entries));
                match cutoff {
                    Some(cutoff) if listing::passed(&entries, cutoff) => Flow::Stop,
                    _ => Flow::Continue,
                }
            },
        )
        .await;
        let now = unix_now();
        let mut listed = self.lock_listed();
        // Logged when it starts or stops failing, not at every scrape.
        match walked {
            Ok(pages) => {
                listed.merge(read, now);
                self.metrics
                    .observe_listing(ListingKind::Changes, started.elapsed(), pages, now);
                if listed.look_failing.take().is_some() {
                    tracing::info!("looking at the repository list for changes works again");
                }
                true
            }
            Err(err) => {
                if listed.look_failing.is_none() {
                    tracing::warn!(error = %err, "looking at the repository list for changes failed; every repository is asked until it works again");
                }
                listed.look_failing = Some(err.to_string());
                false
            }
        }
    }

    /// The requests of a fan-out over `plan` whose scrape shows what it has by `shown_by`, as
    /// indices into the plan, each list stalest first. Drops state of repositories no longer in
    /// the plan; counts the requests saved and, with change-driven refresh, why each was made.
    fn order(&self, plan: &Plan, look_ok: bool, shown_by: Instant) -> Asks {
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        if store.trimmed_for != plan.serial || store.states.len() > plan.repositories.len() {
            let wanted: IdSet = plan.repositories.iter().map(|r| r.id).collect();
            store.states.retain(|id, _| wanted.contains(id));
            store.trimmed_for = plan.serial;
        }
        let change_driven = plan.refresh.change_driven();
        let listed = change_driven.map(|_| self.lock_listed());
        // One clock reading for the whole list, not one per repository.
        let now = Instant::now();
        let shown_by = shown_by.max(now);
        let min_interval = plan.scrape.min_interval;
        let mut statuses: Vec<(Option<Instant>, Ask)> = Vec::new();
        let mut pushes: Vec<(Option<Instant>, Ask)> = Vec::new();
        let mut tally = Tally::default();
        for (index, repository) in plan.repositories.iter().enumerate() {
            let id = repository.id;
            let state = store.states.get(&id);
            let times = listed.as_ref().and_then(|listed| listed.get(id));
            let last = state.and_then(|s| s.last.as_ref());
            if is_cache_fresh(state, min_interval, now) {
                tally.saved(Endpoint::StatisticsStatus, SaveReason::Cache);
            } else {
                let due = match change_driven {
                    None => Some(None),
                    Some(settings) => {
                        let answer = last.map(|o| LastAnswer {
                            status: o.status.as_deref().map_err(|class| *class),
                            at: o.finished,
                            listed_when_asked: o.listed_when_asked,
                        });
                        refresh::status_due(id, answer, times, look_ok, settings, shown_by)
                            .map(Some)
                    }
                };
                match due {
                    Some(reason) => {
                        if let Some(reason) = reason {
                            tally.asked(Endpoint::StatisticsStatus, reason);
                        }
                        let listed = times.and_then(|t| t.change());
                        statuses.push((last.map(|o| o.finished), Ask::Status { index, listed }));
                    }
                    None => tally.saved(Endpoint::StatisticsStatus, SaveReason::Unchanged),
                }
            }
            let Some(config) = &plan.last_push else {
                continue;
            };
            let push = state.and_then(|s| s.push.as_ref());
            let due = match (change_driven, config.source) {
                (Some(_), PushSource::Listing) => {
                    tally.saved(Endpoint::LastPushEvent, SaveReason::Listing);
                    continue;
                }
                (Some(_), PushSource::Request) => refresh::push_due(
                    push.map(|p| (p.result.is_ok(), p.finished, p.listed_when_asked)),
                    times,
                    look_ok,
                    config.min_interval,
                    now,
                )
                .map(Some),
                (None, _) => {
                    let fresh = push.is_some_and(|p| {
                        p.result.is_ok()
                            && now.saturating_duration_since(p.finished) < config.min_interval
                    });
                    (!fresh).then_some(None)
                }
            };
            match due {
                Some(reason) => {
                    if let Some(reason) = reason {
                        tally.asked(Endpoint::LastPushEvent, reason);
                    }
                    let listed = times.and_then(|t| t.updated);
                    pushes.push((push.map(|p| p.finished), Ask::LastPush { index, listed }));
                }
                None => {
                    let reason = match change_driven {
                        Some(_) => SaveReason::Unchanged,
                        None => SaveReason::Cache,
                    };
                    tally.saved(Endpoint::LastPushEvent, reason);
                }
            }
        }
        drop(listed);
        drop(store);
        tally.record(&self.metrics);
        // Never-asked first, then oldest answer first; ties keep the configured order.
        let stalest_first = |mut order: Vec<(Option<Instant>, Ask)>| {
            order.sort_by_key(|(at, _)| *at);
            order.into_iter().map(|(_, ask)| ask).collect()
        };
        Asks {
            statuses: stalest_first(statuses),
            pushes: stalest_first(pushes),
        }
    }

    fn record(
        &self,
        repository: &Repository,
        round: u64,
        listed_when_asked: Option<f64>,
        fetched: Fetched<StatisticsStatus>,
    ) {
        let id = repository.id;
        let health = Health::of(fetched.result.as_ref().map(|_| ()).map_err(|class| *class));
        // Moved, not cloned: at 10,000 repositories a second copy of every answer is megabytes.
        let status = fetched.result.map(Arc::new);
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let state = store.states.entry(id).or_default();
        let now = Instant::now();
        let answered = SystemTime::now();
        if let Ok(status) = &status {
            state.last_success = Some((answered, now));
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
            answered,
            listed_when_asked,
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

    fn record_push(
        &self,
        id: RepositoryId,
        listed_when_asked: Option<f64>,
        fetched: Fetched<LastPushEvent>,
    ) {
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let state = store.states.entry(id).or_default();
        let result = push_time(id, fetched.result, &mut state.logged_bad_time);
        state.push = Some(PushOutcome {
            result,
            finished: Instant::now(),
            listed_when_asked,
        });
    }

    /// What to show for each repository of `plan`, for a scrape waiting on fan-out `round`.
    fn results(&self, plan: &Plan, round: u64, scrape_started: Instant) -> Vec<RepositoryResult> {
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        // A repository a fan-out did not ask shows its latest answer: with the cache, with
        // change-driven refresh, and on the landing page.
        let cache = plan.keeps_answers() || round == LATEST;
        let pushes_listed = plan.last_push.is_some_and(|config| {
            config.source == PushSource::Listing && plan.refresh.change_driven().is_some()
        });
        let listed = pushes_listed.then(|| self.lock_listed());
        let now = unix_now();
        plan.repositories
            .iter()
            .map(|repository| {
                let state = store.states.get(&repository.id);
                let last_success = state.and_then(|s| s.last_success).map(|(at, _)| at);
                // A last push is shown from whichever fan-out got it (it is not asked for at
                // every scrape), or from the repository list.
                let last_push = match &listed {
                    Some(listed) => plan
                        .last_push
                        .map(|_| listed_push(listed.get(repository.id), now)),
                    None => plan
                        .last_push
                        .and(state.and_then(|s| s.push.as_ref()))
                        .map(|push| last_push_of(&push.result)),
                };
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
                        answered: Some(outcome.answered),
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
                        answered: None,
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

/// The last push as the repository list tells it (`last_push.source: listing`): its
/// `last_repository_updated_at`, unless that lies in the future; `up` while the list has the
/// repository.
fn listed_push(times: Option<&crate::client::ListedTimes>, now_unix: f64) -> LastPush {
    LastPush {
        up: times.is_some(),
        pushed_at: times
            .and_then(|t| t.updated)
            .filter(|at| believable(*at, now_unix)),
    }
}

/// Requests saved and made in one fan-out, counted once at its end rather than one atomic
/// increment per repository.
#[derive(Default)]
struct Tally {
    saved: HashMap<(Endpoint, SaveReason), u64>,
    asked: HashMap<(Endpoint, AskReason), u64>,
}

impl Tally {
    fn saved(&mut self, endpoint: Endpoint, reason: SaveReason) {
        *self.saved.entry((endpoint, reason)).or_default() += 1;
    }

    fn asked(&mut self, endpoint: Endpoint, reason: AskReason) {
        *self.asked.entry((endpoint, reason)).or_default() += 1;
    }

    fn record(self, metrics: &CollectMetrics) {
        for ((endpoint, reason), count) in self.saved {
            metrics.count_saved(endpoint, reason, count);
        }
        for ((endpoint, reason), count) in self.asked {
            metrics.count_refresh_requests(endpoint, reason, count);
        }
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
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
    let now = unix_now();
    let usable = event.pushed_at().filter(|at| believable(*at, now));
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
