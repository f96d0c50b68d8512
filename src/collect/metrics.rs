//! The collection metrics: how long the last scrape's fan-out took and what budget it had, how
//! many repositories are watched (by source) and served from the cache, and when discovery last
//! succeeded. Registered once per process.

use std::sync::Arc;

use prometheus::{Gauge, IntCounter, IntGaugeVec, Opts, Registry};

const SCRAPE_DURATION: (&str, &str) = (
    "codearts_repo_exporter_scrape_duration_seconds",
    "How long the last scrape's fan-out took until its answer was served.",
);
const SCRAPE_TIMEOUT: (&str, &str) = (
    "codearts_repo_exporter_scrape_timeout_seconds",
    "The deadline budget of the last scrape: the scrape-timeout header minus timeout_offset, or max_duration.",
);
const REPOSITORIES: (&str, &str) = (
    "codearts_repo_exporter_repositories",
    "Repositories being watched, by source (static, discovered).",
);
const CACHE_HITS: (&str, &str) = (
    "codearts_repo_exporter_cache_hits_total",
    "Repository statuses served from the cache (younger than scrape.min_interval) instead of a request.",
);
const DISCOVERY_SUCCESS: (&str, &str) = (
    "codearts_repo_exporter_discovery_last_success_timestamp_seconds",
    "Unix time of the last successful repository discovery.",
);

const LABEL_SOURCE: &str = "source";

pub struct CollectMetrics {
    scrape_duration: Gauge,
    scrape_timeout: Gauge,
    repositories: IntGaugeVec,
    cache_hits: IntCounter,
    discovery_success: Gauge,
    /// Where the discovery gauge is registered on its first success, so that it only appears
    /// when discovery runs.
    registry: Registry,
}

impl CollectMetrics {
    pub fn register(registry: &Registry) -> Result<Arc<Self>, prometheus::Error> {
        let opts = |(name, help): (&str, &str)| Opts::new(name, help);
        let metrics = Self {
            scrape_duration: Gauge::with_opts(opts(SCRAPE_DURATION))?,
            scrape_timeout: Gauge::with_opts(opts(SCRAPE_TIMEOUT))?,
            repositories: IntGaugeVec::new(opts(REPOSITORIES), &[LABEL_SOURCE])?,
            cache_hits: IntCounter::with_opts(opts(CACHE_HITS))?,
            discovery_success: Gauge::with_opts(opts(DISCOVERY_SUCCESS))?,
            registry: registry.clone(),
        };
        registry.register(Box::new(metrics.scrape_duration.clone()))?;
        registry.register(Box::new(metrics.scrape_timeout.clone()))?;
        registry.register(Box::new(metrics.repositories.clone()))?;
        registry.register(Box::new(metrics.cache_hits.clone()))?;
        metrics.set_repositories(0, 0);
        Ok(Arc::new(metrics))
    }

    /// Records one finished scrape: how long it took and the budget it had.
    pub(super) fn observe_scrape(&self, duration_seconds: f64, budget_seconds: f64) {
        self.scrape_duration.set(duration_seconds);
        self.scrape_timeout.set(budget_seconds);
    }

    pub(super) fn count_cache_hits(&self, hits: u64) {
        self.cache_hits.inc_by(hits);
    }

    pub(super) fn set_repositories(&self, statics: usize, discovered: usize) {
        self.repositories
            .with_label_values(&["static"])
            .set(statics as i64);
        self.repositories
            .with_label_values(&["discovered"])
            .set(discovered as i64);
    }

    /// Records a successful discovery at `now` (Unix seconds).
    pub(super) fn observe_discovery_success(&self, now: f64) {
        if self.discovery_success.get() == 0.0 {
            // Registered once; a second registration could only fail as a duplicate.
            let _ = self
                .registry
                .register(Box::new(self.discovery_success.clone()));
        }
        self.discovery_success.set(now);
    }
}
