//! One config generation and what was built from it: the HTTP client, the credentials, the
//! CodeArts client and the plan of repositories. A reload builds a new one and swaps it in
//! whole, so a scrape always sees one consistent generation.

use std::sync::Arc;

use crate::auth::{Auth, AuthMetrics};
use crate::client::CodeArtsClient;
use crate::collect::{Collector, Plan};
use crate::config::{Config, ConfigError, Shard};
use crate::metrics::Families;
use crate::upstream::{Transport, UpstreamMetrics};

/// One config generation and what was built from it.
pub struct Generation {
    pub config: Arc<Config>,
    pub transport: Arc<Transport>,
    pub auth: Arc<Auth>,
    pub client: Arc<CodeArtsClient>,
    pub plan: Arc<Plan>,
    /// The per-repository families written (all but `metrics.disable`).
    pub families: Families,
}

/// The long-lived parts a generation is built into: they outlive generations.
pub(super) struct Parts<'a> {
    pub upstream_metrics: &'a Arc<UpstreamMetrics>,
    pub auth_metrics: &'a AuthMetrics,
    pub collector: &'a Collector,
}

impl Generation {
    /// Builds the generation of `config` (with `--shard` overriding the file's `shard`).
    ///
    /// On a reload whose connection and credential settings are unchanged, the `previous`
    /// generation's transport and credentials are kept: an IAM token, the rate limit's state and
    /// the connection pool survive a change of the repository list.
    pub(super) fn build(
        mut config: Config,
        shard_override: Option<Shard>,
        parts: &Parts<'_>,
        previous: Option<&Generation>,
    ) -> Result<Self, ConfigError> {
        if let Some(shard) = shard_override {
            config.shard = shard;
        }
        let families = Families::without(&config.disabled_metrics)?;
        let reusable = previous.filter(|old| {
            let (a, b) = (&old.config, &config);
            a.codearts.auth == b.codearts.auth
                && a.codearts.tls == b.codearts.tls
                && a.scrape.rate_limit == b.scrape.rate_limit
                && a.scrape.concurrency == b.scrape.concurrency
        });
        let (transport, auth) = match reusable {
            Some(old) => (old.transport.clone(), old.auth.clone()),
            None => {
                let transport = Arc::new(Transport::new(
                    &config.codearts.tls,
                    config.scrape.concurrency.get(),
                    config.scrape.rate_limit,
                    parts.upstream_metrics.clone(),
                )?);
                // Built last: making it the credential the metrics show cannot be undone.
                let auth = Arc::new(Auth::new(
                    &config.codearts.auth,
                    transport.clone(),
                    parts.auth_metrics,
                ));
                (transport, auth)
            }
        };
        let client = Arc::new(CodeArtsClient::new(
            transport.clone(),
            auth.clone(),
            &config.codearts.endpoint,
            config.scrape.request_timeout,
            config.scrape.retries,
        ));
        let plan = parts.collector.plan(&config, client.clone());
        Ok(Self {
            config: Arc::new(config),
            transport,
            auth,
            client,
            plan,
            families,
        })
    }

    /// The same generation watching the latest discovered list.
    pub(super) fn replanned(&self, collector: &Collector) -> Self {
        Self {
            config: self.config.clone(),
            transport: self.transport.clone(),
            auth: self.auth.clone(),
            client: self.client.clone(),
            plan: collector.plan(&self.config, self.client.clone()),
            families: self.families,
        }
    }
}
