//! The collection metrics: how long the last scrape's fan-out took and what budget it had, how
//! many repositories are watched (by source) and served from the cache, when discovery last
//! succeeded, and how change-driven refresh decided: the requests it saved and made, by reason,
//! and what its looks at the repository list cost. Registered once per process.

use std::sync::Arc;
use std::time::Duration;

use prometheus::{Gauge, GaugeVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

use super::refresh::AskReason;
use crate::upstream::Endpoint;

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
const REQUESTS_SAVED: (&str, &str) = (
    "codearts_repo_exporter_requests_saved_total",
    "Upstream requests not made, by endpoint and reason: cache (younger than scrape.min_interval or last_push.min_interval), unchanged (change-driven refresh: settled, listed update time unmoved, not stale), listing (last push read from the repository list).",
);
const REFRESH_REQUESTS: (&str, &str) = (
    "codearts_repo_exporter_refresh_requests_total",
    "Upstream requests change-driven refresh made, by endpoint and why the repository was asked again.",
);
const LISTING_DURATION: (&str, &str) = (
    "codearts_repo_exporter_listing_duration_seconds",
    "How long the last successful reading of the repository list took: a look for changes before a fan-out, or the full listing.",
);
const LISTING_PAGES: (&str, &str) = (
    "codearts_repo_exporter_listing_pages",
    "Pages the last successful reading of the repository list took (a look for changes, or the full listing).",
);
const LISTING_SUCCESS: (&str, &str) = (
    "codearts_repo_exporter_listing_last_success_timestamp_seconds",
    "Unix time of the last successful reading of the repository list for its update times (a look for changes, or the full listing).",
);

const LABEL_SOURCE: &str = "source";
const LABEL_ENDPOINT: &str = "endpoint";
const LABEL_REASON: &str = "reason";
const LABEL_LISTING: &str = "listing";

/// Why a request was not made (label values of `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum SaveReason {
    Cache,
    Unchanged,
    Listing,
}

impl SaveReason {
    fn as_label(self) -> &'static str {
        match self {
            SaveReason::Cache => "cache",
            SaveReason::Unchanged => "unchanged",
            SaveReason::Listing => "listing",
        }
    }
}

/// Which reading of the repository list (label values of `listing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ListingKind {
    /// A look at the most recently updated entries before a change-driven fan-out.
    Changes,
    /// The whole list, every `discovery.interval`.
    Full,
}

impl ListingKind {
    fn as_label(self) -> &'static str {
        match self {
            ListingKind::Changes => "changes",
            ListingKind::Full => "full",
        }
    }
}

pub(crate) struct CollectMetrics {
    scrape_duration: Gauge,
    scrape_timeout: Gauge,
    repositories: IntGaugeVec,
    cache_hits: IntCounter,
    discovery_success: Gauge,
    requests_saved: IntCounterVec,
    refresh_requests: IntCounterVec,
    listing_duration: GaugeVec,
    listing_pages: IntGaugeVec,
    listing_success: GaugeVec,
    /// Where the discovery gauge is registered on its first success, so that it only appears
    /// when discovery runs.
    registry: Registry,
}

impl CollectMetrics {
    pub(crate) fn register(registry: &Registry) -> Result<Arc<Self>, prometheus::Error> {
        let opts = |(name, help): (&str, &str)| Opts::new(name, help);
        let metrics = Self {
            scrape_duration: Gauge::with_opts(opts(SCRAPE_DURATION))?,
            scrape_timeout: Gauge::with_opts(opts(SCRAPE_TIMEOUT))?,
            repositories: IntGaugeVec::new(opts(REPOSITORIES), &[LABEL_SOURCE])?,
            cache_hits: IntCounter::with_opts(opts(CACHE_HITS))?,
            discovery_success: Gauge::with_opts(opts(DISCOVERY_SUCCESS))?,
            requests_saved: IntCounterVec::new(
                opts(REQUESTS_SAVED),
                &[LABEL_ENDPOINT, LABEL_REASON],
            )?,
            refresh_requests: IntCounterVec::new(
                opts(REFRESH_REQUESTS),
                &[LABEL_ENDPOINT, LABEL_REASON],
            )?,
            listing_duration: GaugeVec::new(opts(LISTING_DURATION), &[LABEL_LISTING])?,
            listing_pages: IntGaugeVec::new(opts(LISTING_PAGES), &[LABEL_LISTING])?,
            listing_success: GaugeVec::new(opts(LISTING_SUCCESS), &[LABEL_LISTING])?,
            registry: registry.clone(),
        };
        registry.register(Box::new(metrics.scrape_duration.clone()))?;
        registry.register(Box::new(metrics.scrape_timeout.clone()))?;
        registry.register(Box::new(metrics.repositories.clone()))?;
        registry.register(Box::new(metrics.cache_hits.clone()))?;
        // Labelled families show no series until used: these appear with change-driven
        // refresh or a cache.
        registry.register(Box::new(metrics.requests_saved.clone()))?;
        registry.register(Box::new(metrics.refresh_requests.clone()))?;
        registry.register(Box::new(metrics.listing_duration.clone()))?;
        registry.register(Box::new(metrics.listing_pages.clone()))?;
        registry.register(Box::new(metrics.listing_success.clone()))?;
        metrics.set_repositories(0, 0);
        Ok(Arc::new(metrics))
    }

    /// Records one finished scrape: how long it took and the budget it had.
    pub(super) fn observe_scrape(&self, duration_seconds: f64, budget_seconds: f64) {
        self.scrape_duration.set(duration_seconds);
        self.scrape_timeout.set(budget_seconds);
    }

    pub(super) fn count_saved(&self, endpoint: Endpoint, reason: SaveReason, count: u64) {
        if (endpoint, reason) == (Endpoint::StatisticsStatus, SaveReason::Cache) {
            self.cache_hits.inc_by(count);
        }
        self.requests_saved
            .with_label_values(&[endpoint.as_label(), reason.as_label()])
            .inc_by(count);
    }

    pub(super) fn count_refresh_requests(&self, endpoint: Endpoint, reason: AskReason, count: u64) {
        self.refresh_requests
            .with_label_values(&[endpoint.as_label(), reason.as_label()])
            .inc_by(count);
    }

    /// Records a successful reading of the repository list that took `took` and `pages`
    /// requests, at `now` (Unix seconds).
    pub(super) fn observe_listing(
        &self,
        kind: ListingKind,
        took: Duration,
        pages: usize,
        now: f64,
    ) {
        let label = [kind.as_label()];
        self.listing_duration
            .with_label_values(&label)
            .set(took.as_secs_f64());
        self.listing_pages
            .with_label_values(&label)
            .set(pages as i64);
        self.listing_success.with_label_values(&label).set(now);
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
