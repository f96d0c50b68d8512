//! The running exporter: the current config generation and the long-lived parts around it, and
//! the calls the HTTP layer makes — one per answer: [`App::scrape`], [`App::probe`],
//! [`App::landing`], [`App::readiness`], [`App::reload`].
//!
//! A reload builds a whole new [`Generation`] and swaps it in; on any error the running one stays.
//! The results store, the text cache and the metrics outlive generations.

mod exposition;
mod generation;
mod landing;
mod metrics;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use prometheus::Registry;

use crate::auth::{AuthError, AuthMetrics};
use crate::collect::deadline::scrape_budget;
use crate::collect::{discovery, CollectMetrics, Collector};
use crate::config::{Config, ConfigError, Repository, RepositoryId, Shard};
use crate::metrics::{RepositoryText, TextCache};
use crate::upstream::UpstreamMetrics;
pub(crate) use exposition::Exposition;
pub(crate) use generation::Generation;
use generation::Parts;
pub(crate) use landing::{DiscoveryView, Landing};
use metrics::AppMetrics;

/// Why the app could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The config is refused; the message names the key.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A metric could not be registered: a bug, not something an operator can fix.
    #[error("cannot register metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// Why a reload was refused. The running configuration stays in either case.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("no config file to reload (the exporter runs with --demo)")]
    NoConfigFile,
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Why `/probe` will not ask for a repository.
#[derive(Debug, thiserror::Error)]
#[error("repository_id {0} is not configured or discovered, and probe.allow_unlisted is false")]
pub struct ProbeRefused(pub RepositoryId);

/// Shared by every HTTP handler and the signal loop.
pub struct App {
    registry: Registry,
    upstream_metrics: Arc<UpstreamMetrics>,
    auth_metrics: Arc<AuthMetrics>,
    metrics: AppMetrics,
    collector: Arc<Collector>,
    /// The last scrape's per-repository text, reused where answers did not change.
    text_cache: Arc<TextCache>,
    current: ArcSwap<Generation>,
    /// Where reloads read the config from; `None` when it did not come from a file (`--demo`).
    config_path: Option<PathBuf>,
    /// `--shard` from the command line, which wins over the file's `shard`.
    shard_override: Option<Shard>,
    /// Serialises reloads (SIGHUP and `POST /-/reload` at once).
    reload_lock: tokio::sync::Mutex<()>,
    /// The discovery loop of the current generation, if discovery is on.
    discovery_task: Mutex<Option<tokio::task::AbortHandle>>,
    /// Whether `/metrics` has been scraped since the start, for the landing page.
    scraped: AtomicBool,
}

/// The checks a start or a reload makes beyond [`Config::load`] (which needs the layers above
/// the config: the names of the metric families), for `--config.check`; on success, the
/// warnings the start logs about the config (secret files others may read).
pub fn check(config: &Config) -> Result<Vec<String>, ConfigError> {
    crate::metrics::Families::without(&config.disabled_metrics)?;
    Ok(crate::auth::warnings(&config.codearts.auth))
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl App {
    /// Builds the app from a validated config, with metrics in a registry of its own.
    pub fn new(
        config: Config,
        config_path: Option<PathBuf>,
        shard_override: Option<Shard>,
    ) -> Result<Arc<Self>, StartError> {
        let registry = Registry::new();
        let metrics = AppMetrics::register(&registry)?;
        let upstream_metrics = UpstreamMetrics::register(&registry)?;
        let auth_metrics = AuthMetrics::register(&registry)?;
        let collector = Collector::new(CollectMetrics::register(&registry)?);
        let generation = Generation::build(
            config,
            shard_override,
            &Parts {
                upstream_metrics: &upstream_metrics,
                auth_metrics: &auth_metrics,
                collector: &collector,
            },
            None,
        )?;
        // The config's parse is garbage by now; at 10,000 repositories it is a third of the
        // idle memory unless given back.
        crate::heap::release_free_memory();
        crate::logging::set_config_level(generation.config.log.level);
        metrics.observe_reload(true, now_unix());
        Ok(Arc::new(Self {
            registry,
            upstream_metrics,
            auth_metrics,
            metrics,
            collector,
            text_cache: Arc::default(),
            current: ArcSwap::from_pointee(generation),
            config_path,
            shard_override,
            reload_lock: tokio::sync::Mutex::new(()),
            discovery_task: Mutex::new(None),
            scraped: AtomicBool::new(false),
        }))
    }

    /// Starts the background work of the current generation: the first credential (IAM) and
    /// repository discovery.
    pub fn start(self: &Arc<Self>) {
        let app = Arc::clone(self);
        tokio::spawn(async move { app.warm_up().await });
        self.restart_discovery();
    }

    /// The config generation in force.
    pub fn current(&self) -> Arc<Generation> {
        self.current.load_full()
    }

    /// One line about the running configuration.
    pub fn summary(&self) -> String {
        self.current().config.summary()
    }

    /// `/metrics`: every watched repository within the budget Prometheus' scrape timeout leaves
    /// (`None`: it gave none), then the exporter's own metrics. Failures are per-repository
    /// series; this never fails.
    ///
    /// The per-repository text reuses the previous scrape's where answers did not change, which
    /// is worth it only while answers are kept (`min_interval` above zero, or change-driven
    /// refresh).
    pub async fn scrape(&self, scrape_timeout: Option<Duration>) -> Exposition {
        let generation = self.current();
        let budget = self.budget(&generation, scrape_timeout);
        self.scraped.store(true, Ordering::Relaxed);
        let results = self.collector.scrape(&generation.plan, budget).await;
        let plan = &generation.plan;
        let text = self.text_cache.text(
            results,
            SystemTime::now(),
            plan.keeps_answers(),
            generation.families,
        );
        tracing::debug!(
            reused_blocks = text.reused_blocks(),
            "writing the per-repository text"
        );
        Exposition::with_registry(text, &self.registry)
    }

    /// `/probe`: one repository, asked now, within the budget Prometheus' scrape timeout leaves.
    /// A repository neither configured nor discovered is asked only with `probe.allow_unlisted`.
    pub async fn probe(
        &self,
        id: RepositoryId,
        scrape_timeout: Option<Duration>,
    ) -> Result<Exposition, ProbeRefused> {
        let generation = self.current();
        let listed = generation
            .plan
            .repositories
            .iter()
            .find(|r| r.id == id)
            .cloned();
        let repository = match listed {
            Some(repository) => repository,
            None if generation.config.probe.allow_unlisted => Repository::new(id, None),
            None => return Err(ProbeRefused(id)),
        };
        let budget = self.budget(&generation, scrape_timeout);
        let result = Collector::probe(&generation.plan, repository, budget).await;
        let text = RepositoryText::new(vec![result], SystemTime::now(), generation.families);
        Ok(Exposition::repositories_only(text))
    }

    fn budget(&self, generation: &Generation, scrape_timeout: Option<Duration>) -> Duration {
        let scrape = &generation.config.scrape;
        scrape_budget(scrape_timeout, scrape.timeout_offset, scrape.max_duration)
    }

    /// What the landing page shows: the configuration, the credential, discovery, and each
    /// watched repository's latest result (never waits for a request).
    pub fn landing(&self) -> Landing {
        let generation = self.current();
        let discovery = generation.config.discovery.as_ref().map(|_| {
            let state = self.collector.discovery_state();
            DiscoveryView {
                repositories: state.repositories.len(),
                last_success: state.last_success,
                last_error: state.last_error,
            }
        });
        Landing {
            summary: generation
                .config
                .summary_watching(generation.plan.statics, generation.plan.discovered),
            credential_expiry: generation
                .auth
                .expiry()
                .map(|at| (generation.auth.expiring_credential(), at)),
            discovery,
            scraped: self.scraped.load(Ordering::Relaxed),
            repositories: self.collector.latest(&generation.plan),
        }
    }

    /// `Ok` when scrapes can succeed; the reason otherwise (for `/readyz`).
    pub fn readiness(&self) -> Result<(), AuthError> {
        self.current().auth.readiness()
    }

    /// Obtains the first credential of the current generation (IAM) without waiting for a
    /// scrape.
    pub async fn warm_up(&self) {
        self.current().auth.warm_up().await;
    }

    /// (Re)starts the loop of full listings for the current generation (discovery, and the
    /// safety net of change-driven refresh); stops it when neither is on.
    fn restart_discovery(self: &Arc<Self>) {
        let mut task = self
            .discovery_task
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(task) = task.take() {
            task.abort();
        }
        let generation = self.current();
        let Some(interval) = generation.config.full_listing_interval() else {
            return;
        };
        let app = Arc::clone(self);
        let handle = tokio::spawn(async move {
            loop {
                // A listing made just before (at start, or before a reload) counts as this
                // round's.
                let fresh = app
                    .collector
                    .last_full_listing()
                    .is_some_and(|at| at.elapsed() < interval / 2)
                    || app
                        .collector
                        .discovery_state()
                        .last_success
                        .and_then(|at| at.elapsed().ok())
                        .is_some_and(|age| age < interval / 2);
                if !fresh {
                    app.refresh_discovery().await;
                }
                tokio::time::sleep(interval).await;
            }
        });
        *task = Some(handle.abort_handle());
    }

    /// One full listing: with discovery on, the watch list changes; with change-driven refresh,
    /// every repository's listed times are renewed. On failure the last good list and times
    /// stay, and the error is logged, counted and shown on the landing page.
    pub async fn refresh_discovery(&self) {
        let generation = self.current();
        let config = &generation.config;
        let change_driven = config.refresh.change_driven().is_some();
        if config.full_listing_interval().is_none() {
            return;
        }
        let budget = config.scrape.request_timeout.max(Duration::from_secs(1)) * 2;
        let started = std::time::Instant::now();
        let outcome = discovery::list_all(
            &generation.client,
            config.discovery.as_ref(),
            change_driven,
            budget,
        )
        .await;
        match &outcome {
            Ok(found) => tracing::info!(
                repositories = found.repositories.as_ref().map(Vec::len),
                listed = found.times.as_ref().map(|t| t.len()),
                "read the whole repository list"
            ),
            Err(err) => {
                tracing::warn!(error = %err, "reading the repository list failed; keeping the last good list")
            }
        }
        let found = outcome.as_ref().is_ok_and(|f| f.repositories.is_some());
        self.collector
            .record_full_listing(outcome, started.elapsed());
        // Swap in a plan with the new list, unless a reload replaced the generation meanwhile.
        let current = self.current();
        if found && Arc::ptr_eq(&current.config, &generation.config) {
            self.current
                .store(Arc::new(current.replanned(&self.collector)));
        }
    }

    /// Re-reads the config file and swaps it in. On any error the running generation stays
    /// (config, cache, credentials) and the error says which key is wrong.
    pub async fn reload(self: &Arc<Self>) -> Result<(), ReloadError> {
        let _guard = self.reload_lock.lock().await;
        let Some(path) = &self.config_path else {
            return Err(ReloadError::NoConfigFile);
        };
        let previous = self.current();
        let result = Config::load(path).and_then(|config| {
            Generation::build(
                config,
                self.shard_override,
                &Parts {
                    upstream_metrics: &self.upstream_metrics,
                    auth_metrics: &self.auth_metrics,
                    collector: &self.collector,
                },
                Some(&previous),
            )
        });
        // Swapped in or refused, the parse's YAML tree is garbage now.
        crate::heap::release_free_memory();
        match result {
            Ok(generation) => {
                crate::logging::set_config_level(generation.config.log.level);
                tracing::info!(summary = %generation.config.summary(), "configuration reloaded");
                self.current.store(Arc::new(generation));
                self.metrics.observe_reload(true, now_unix());
                self.restart_discovery();
                self.warm_up().await;
                Ok(())
            }
            Err(err) => {
                tracing::error!(error = %err, "configuration reload failed; keeping the running configuration");
                self.metrics.observe_reload(false, now_unix());
                Err(err.into())
            }
        }
    }
}
