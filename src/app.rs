//! The running exporter's state: the current config generation and the parts built from it,
//! swapped as a whole on reload so a scrape always sees one consistent generation.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;

use crate::auth::Auth;
use crate::client::transport::Transport;
use crate::client::CodeArtsClient;
use crate::collect::{Collector, Plan};
use crate::config::{Config, ConfigError, Shard};
use crate::metrics::exporter::ExporterMetrics;

/// One config generation and what was built from it.
pub struct Generation {
    pub config: Arc<Config>,
    pub plan: Arc<Plan>,
}

/// Shared by every HTTP handler and the signal loop.
pub struct App {
    pub metrics: Arc<ExporterMetrics>,
    pub collector: Arc<Collector>,
    current: ArcSwap<Generation>,
    /// Where reloads read the config from; `None` when it did not come from a file (`--demo`).
    config_path: Option<PathBuf>,
    /// `--shard` from the command line, which wins over the file's `shard`.
    shard_override: Option<Shard>,
    /// Serialises reloads (SIGHUP and `POST /-/reload` at once).
    reload_lock: tokio::sync::Mutex<()>,
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
        let generation = build(config, shard_override, &metrics, None)?;
        metrics.observe_reload(true, now_unix());
        Ok(Arc::new(Self {
            collector: Collector::new(metrics.clone()),
            metrics,
            current: ArcSwap::from_pointee(generation),
            config_path,
            shard_override,
            reload_lock: tokio::sync::Mutex::new(()),
        }))
    }

    /// The config generation in force.
    pub fn current(&self) -> Arc<Generation> {
        self.current.load_full()
    }

    /// Re-reads the config file and swaps it in. On any error the running generation stays
    /// (config, cache, credentials) and the error says which key is wrong.
    pub async fn reload(&self) -> Result<(), String> {
        let _guard = self.reload_lock.lock().await;
        let Some(path) = &self.config_path else {
            return Err("no config file to reload (the exporter runs with --demo)".to_owned());
        };
        let previous = self.current();
        let result = Config::load(path)
            .map_err(BuildError::from)
            .and_then(|config| build(config, self.shard_override, &self.metrics, Some(&previous)));
        match result {
            Ok(generation) => {
                tracing::info!(summary = %generation.config.summary(), "configuration reloaded");
                self.current.store(Arc::new(generation));
                self.metrics.observe_reload(true, now_unix());
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
    let repositories: Arc<[_]> = config.repositories.clone().into();
    metrics.set_repositories(repositories.len(), 0);
    let plan = Arc::new(Plan {
        client,
        repositories,
        scrape: config.scrape.clone(),
    });
    Ok(Generation {
        config: Arc::new(config),
        plan,
    })
}
