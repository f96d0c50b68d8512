//! The exporter's own, long-lived metrics: upstream request counters and latency, scrape
//! timing, reload status, build info and `process_*`.

use prometheus::{
    Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry,
};

use super::names::{self, Spec};
use crate::client::error_class::ErrorClass;
use crate::client::transport::Endpoint;

/// Handles to the self metrics, registered in one [`Registry`].
pub struct ExporterMetrics {
    registry: Registry,
    scrape_duration: Gauge,
    scrape_timeout: Gauge,
    repositories: IntGaugeVec,
    api_requests: IntCounterVec,
    api_errors: IntCounterVec,
    api_duration: HistogramVec,
    api_retries: IntCounterVec,
    api_in_flight: IntGaugeVec,
    cache_hits: IntCounter,
    reload_success: Gauge,
    reload_timestamp: Gauge,
    discovery_success: Gauge,
}

fn opts(spec: &Spec) -> Opts {
    Opts::new(spec.name, spec.help)
}

impl ExporterMetrics {
    /// Registers everything, `process_*` included, and sets every series that is known to exist
    /// to 0 so that rates and alerts work from the first scrape.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let build_info = GaugeVec::new(opts(&names::BUILD_INFO), &["version", "revision"])?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), revision()])
            .set(1.0);
        let metrics = Self {
            scrape_duration: Gauge::with_opts(opts(&names::SCRAPE_DURATION))?,
            scrape_timeout: Gauge::with_opts(opts(&names::SCRAPE_TIMEOUT))?,
            repositories: IntGaugeVec::new(opts(&names::REPOSITORIES), &[names::LABEL_SOURCE])?,
            api_requests: IntCounterVec::new(opts(&names::API_REQUESTS), &[names::LABEL_ENDPOINT])?,
            api_errors: IntCounterVec::new(
                opts(&names::API_ERRORS),
                &[names::LABEL_ENDPOINT, names::LABEL_CLASS],
            )?,
            api_duration: HistogramVec::new(
                HistogramOpts::new(names::API_DURATION.name, names::API_DURATION.help)
                    .buckets(vec![0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
                &[names::LABEL_ENDPOINT],
            )?,
            api_retries: IntCounterVec::new(opts(&names::API_RETRIES), &[names::LABEL_ENDPOINT])?,
            api_in_flight: IntGaugeVec::new(opts(&names::API_IN_FLIGHT), &[names::LABEL_ENDPOINT])?,
            cache_hits: IntCounter::with_opts(opts(&names::CACHE_HITS))?,
            reload_success: Gauge::with_opts(opts(&names::RELOAD_SUCCESS))?,
            reload_timestamp: Gauge::with_opts(opts(&names::RELOAD_TIMESTAMP))?,
            discovery_success: Gauge::with_opts(opts(&names::DISCOVERY_SUCCESS))?,
            registry,
        };
        let r = &metrics.registry;
        r.register(Box::new(build_info))?;
        r.register(Box::new(metrics.scrape_duration.clone()))?;
        r.register(Box::new(metrics.scrape_timeout.clone()))?;
        r.register(Box::new(metrics.repositories.clone()))?;
        r.register(Box::new(metrics.api_requests.clone()))?;
        r.register(Box::new(metrics.api_errors.clone()))?;
        r.register(Box::new(metrics.api_duration.clone()))?;
        r.register(Box::new(metrics.api_retries.clone()))?;
        r.register(Box::new(metrics.api_in_flight.clone()))?;
        r.register(Box::new(metrics.cache_hits.clone()))?;
        r.register(Box::new(metrics.reload_success.clone()))?;
        r.register(Box::new(metrics.reload_timestamp.clone()))?;
        #[cfg(target_os = "linux")]
        r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;

        for source in ["static", "discovered"] {
            metrics.repositories.with_label_values(&[source]).set(0);
        }
        for endpoint in Endpoint::ALL {
            let label = endpoint.as_label();
            metrics.api_requests.with_label_values(&[label]);
            metrics.api_retries.with_label_values(&[label]);
            metrics.api_in_flight.with_label_values(&[label]);
            metrics.api_duration.with_label_values(&[label]);
            for class in ErrorClass::ALL {
                metrics
                    .api_errors
                    .with_label_values(&[label, class.as_label()]);
            }
        }
        Ok(metrics)
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn requests_total(&self, endpoint: Endpoint) -> IntCounter {
        self.api_requests.with_label_values(&[endpoint.as_label()])
    }

    pub fn request_errors(&self, endpoint: Endpoint, class: ErrorClass) -> IntCounter {
        self.api_errors
            .with_label_values(&[endpoint.as_label(), class.as_label()])
    }

    pub fn request_duration(&self, endpoint: Endpoint) -> prometheus::Histogram {
        self.api_duration.with_label_values(&[endpoint.as_label()])
    }

    pub fn retries(&self, endpoint: Endpoint) -> IntCounter {
        self.api_retries.with_label_values(&[endpoint.as_label()])
    }

    pub fn in_flight(&self, endpoint: Endpoint) -> IntGauge {
        self.api_in_flight.with_label_values(&[endpoint.as_label()])
    }

    pub fn cache_hits(&self) -> &IntCounter {
        &self.cache_hits
    }

    /// Records one finished scrape: how long it took and the budget it had.
    pub fn observe_scrape(&self, duration_seconds: f64, budget_seconds: f64) {
        self.scrape_duration.set(duration_seconds);
        self.scrape_timeout.set(budget_seconds);
    }

    pub fn set_repositories(&self, statics: usize, discovered: usize) {
        self.repositories
            .with_label_values(&["static"])
            .set(statics as i64);
        self.repositories
            .with_label_values(&["discovered"])
            .set(discovered as i64);
    }

    /// Records a config load or reload; `now` in Unix seconds.
    pub fn observe_reload(&self, ok: bool, now: f64) {
        self.reload_success.set(if ok { 1.0 } else { 0.0 });
        if ok {
            self.reload_timestamp.set(now);
        }
    }

    /// Registers the discovery gauge on first use, so it only appears when discovery runs.
    pub fn observe_discovery_success(&self, now: f64) {
        if self.discovery_success.get() == 0.0 {
            let _ = self
                .registry
                .register(Box::new(self.discovery_success.clone()));
        }
        self.discovery_success.set(now);
    }
}

/// The git revision baked in at build time (`CODEARTS_EXPORTER_REVISION`), or "unknown".
pub fn revision() -> &'static str {
    option_env!("CODEARTS_EXPORTER_REVISION").unwrap_or("unknown")
}
