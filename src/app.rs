//! The running exporter's state: the current config generation and the parts built from it,
//! swapped as a whole on reload so a scrape always sees one consistent generation.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;

use crate::auth::Auth;
use crate::client::transport::Transport;
use crate::client::CodeArtsClient;
use crate::collect::discovery;
use crate::collect::{Collector, Plan};
use crate::config::{Config, ConfigError, Repository, Shard};
use crate::metrics::exporter::ExporterMetrics;
use crate::metrics::TextCache;

/// One config generation and what was built from it.
pub struct Generation {
    pub config: Arc<Config>,
    pub plan: Arc<Plan>,
}

/// Shared by every HTTP handler and the signal loop.
pub struct App {
    pub metrics: Arc<ExporterMetrics>,
    pub collector: Arc<Collector>,
    /// The last scrape's per-repository text, reused where answers did not change.
    pub text_cache: Arc<TextCache>,
    current: ArcSwap<Generation>,
    /// Where reloads read the config from; `None` when it did not come from a file (`--demo`).
    config_path: Option<PathBuf>,
    /// `--shard` from the command line, which wins over the file's `shard`.
    shard_override: Option<Shard>,
    /// Serialises reloads (SIGHUP and `POST /-/reload` at once).
    reload_lock: tokio::sync::Mutex<()>,
    discovery: Mutex<DiscoveryState>,
}

/// What discovery found last, kept across failed refreshes and reloads.
#[derive(Default, Clone)]
pub struct DiscoveryState {
    /// The last good list (before sharding).
    pub repositories: Arc<[Repository]>,
    pub last_success: Option<SystemTime>,
    pub last_error: Option<String>,
    task: Option<Arc<tokio::task::AbortHandle>>,
}

/// Why the app could not be (re)built from a config. The message names the key.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Config(#[from] ConfigError),
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl App {
    /// Builds the app from a validated config.
    pub fn new(
        config: Config,
        config_path: Option<PathBuf>,
        shard_override: Option<Shard>,
        metrics: Arc<ExporterMetrics>,
    ) -> Result<Arc<Self>, BuildError> {
        let generation = build(config, shard_override, &metrics, None, &[])?;
        // The config's parse is garbage by now; at 10,000 repositories it is a third of the
        // idle memory unless given back.
        crate::heap::release_free_memory();
        metrics.observe_reload(true, now_unix());
        Ok(Arc::new(Self {
            collector: Collector::new(metrics.clone()),
            text_cache: Arc::default(),
            metrics,
            current: ArcSwap::from_pointee(generation),
            config_path,
            shard_override,
            reload_lock: tokio::sync::Mutex::new(()),
            discovery: Mutex::new(DiscoveryState::default()),
        }))
    }

    /// Starts the background work of the current generation: the first credential (IAM) and
    /// repository discovery.
    pub fn start(self: &Arc<Self>) {
        let app = Arc::clone(self);
        tokio::spawn(async move { app.warm_up().await });
        self.restart_discovery();
    }

    /// What discovery found and when, for the landing page.
    pub fn discovery_state(&self) -> DiscoveryState {
        self.discovery
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// (Re)starts the discovery loop for the current generation; stops it when discovery is off.
    fn restart_discovery(self: &Arc<Self>) {
        let mut state = self.discovery.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(task) = state.task.take() {
            task.abort();
        }
        let generation = self.current();
        let Some(config) = generation.config.discovery.clone() else {
            return;
        };
        let app = Arc::clone(self);
        let handle = tokio::spawn(async move {
            loop {
                // A refresh made just before (at start) counts as this round's.
                let fresh = app
                    .discovery_state()
                    .last_success
                    .and_then(|at| at.elapsed().ok())
                    .is_some_and(|age| age < config.interval / 2);
                if !fresh {
                    app.refresh_discovery().await;
                }
                tokio::time::sleep(config.interval).await;
            }
        });
        state.task = Some(Arc::new(handle.abort_handle()));
    }

    /// One discovery refresh: on success the watch list changes; on failure the last good list
    /// stays, and the error is logged, counted and shown on the landing page.
    pub async fn refresh_discovery(&self) {
        let generation = self.current();
        let Some(config) = &generation.config.discovery else {
            return;
        };
        let budget = generation
            .config
            .scrape
            .request_timeout
            .max(Duration::from_secs(1))
            * 2;
        match discovery::discover(&generation.plan.client, config, budget).await {
            Ok(found) => {
                tracing::info!(
                    repositories = found.len(),
                    "discovery refreshed the repository list"
                );
                let found: Arc<[Repository]> = found.into();
                {
                    let mut state = self.discovery.lock().unwrap_or_else(|e| e.into_inner());
                    state.repositories = found.clone();
                    state.last_success = Some(SystemTime::now());
                    state.last_error = None;
                }
                self.metrics.observe_discovery_success(now_unix());
                // Swap in a plan with the new list, unless a reload replaced the generation meanwhile.
                let current = self.current();
                if Arc::ptr_eq(&current.config, &generation.config) {
                    self.current.store(Arc::new(with_repositories(
                        &current,
                        &found,
                        &self.metrics,
                    )));
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "discovery failed; keeping the last good repository list");
                self.discovery
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .last_error = Some(err);
            }
        }
    }

    /// The config generation in force.
    pub fn current(&self) -> Arc<Generation> {
        self.current.load_full()
    }

    /// Re-reads the config file and swaps it in. On any error the running generation stays
    /// (config, cache, credentials) and the error says which key is wrong.
    pub async fn reload(self: &Arc<Self>) -> Result<(), String> {
        let _guard = self.reload_lock.lock().await;
        let Some(path) = &self.config_path else {
            return Err("no config file to reload (the exporter runs with --demo)".to_owned());
        };
        let previous = self.current();
        let discovered = self.discovery_state().repositories;
        let result = Config::load(path)
            .map_err(BuildError::from)
            .and_then(|config| {
                build(
                    config,
                    self.shard_override,
                    &self.metrics,
                    Some(&previous),
                    &discovered,
                )
            });
        // Swapped in or refused, the parse's YAML tree is garbage now.
        crate::heap::release_free_memory();
        match result {
            Ok(generation) => {
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
                Err(err.to_string())
            }
        }
    }

    /// Obtains the first credential of the current generation (IAM) without waiting for a
    /// scrape.
    pub async fn warm_up(&self) {
        self.current().plan.client.auth().warm_up().await;
    }

    /// `Ok` when scrapes can succeed; the reason otherwise (for `/readyz`).
    pub fn readiness(&self) -> Result<(), String> {
        self.current().plan.client.auth().readiness()
    }
}

/// Builds the parts of one generation: HTTP client, credentials, repository plan.
///
/// On a reload whose connection and credential settings are unchanged, the previous
/// generation's client and credentials are kept: an IAM token, the rate limit's state and the
/// connection pool survive a change of the repository list.
fn build(
    mut config: Config,
    shard_override: Option<Shard>,
    metrics: &Arc<ExporterMetrics>,
    previous: Option<&Generation>,
    discovered: &[Repository],
) -> Result<Generation, BuildError> {
    if let Some(shard) = shard_override {
        config.shard = shard;
    }
    let reusable = previous.filter(|old| {
        let (a, b) = (&old.config, &config);
        a.codearts.auth == b.codearts.auth
            && a.codearts.tls == b.codearts.tls
            && a.scrape.rate_limit == b.scrape.rate_limit
            && a.scrape.concurrency == b.scrape.concurrency
    });
    let (transport, auth) = match reusable {
        Some(old) => (
            old.plan.client.transport().clone(),
            old.plan.client.auth().clone(),
        ),
        None => {
            let transport = Arc::new(Transport::new(
                &config.codearts.tls,
                config.scrape.concurrency.get(),
                config.scrape.rate_limit,
                metrics.clone(),
            )?);
            let auth = Arc::new(Auth::new(&config.codearts.auth, transport.clone()));
            (transport, auth)
        }
    };
    let client = Arc::new(CodeArtsClient::new(
        transport,
        auth,
        &config.codearts.endpoint,
        config.scrape.request_timeout,
        config.scrape.retries,
    ));
    let discovered = if config.discovery.is_some() {
        discovered
    } else {
        &[]
    };
    let plan = plan_for(&config, client, discovered, metrics);
    Ok(Generation {
        config: Arc::new(config),
        plan,
    })
}

/// The same generation watching the static list plus `discovered`.
fn with_repositories(
    generation: &Generation,
    discovered: &[Repository],
    metrics: &ExporterMetrics,
) -> Generation {
    let config = &generation.config;
    Generation {
        config: config.clone(),
        plan: plan_for(config, generation.plan.client.clone(), discovered, metrics),
    }
}

/// The plan of `config`: its static repositories plus `discovered`, cut to its shard; the
/// repositories gauge follows.
fn plan_for(
    config: &Config,
    client: Arc<CodeArtsClient>,
    discovered: &[Repository],
    metrics: &ExporterMetrics,
) -> Arc<Plan> {
    let (repositories, statics, found) =
        discovery::merge(&config.repositories, discovered, config.shard);
    metrics.set_repositories(statics, found);
    Arc::new(Plan {
        client,
        repositories: repositories.into(),
        scrape: config.scrape.clone(),
    })
}
