//! The exporter's own, long-lived metrics: upstream request counters and latency, scrape
//! timing, reload status, build info and `process_*`.

use prometheus::{
    Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry,
};

use super::names::{self, Spec};
use crate::client::error_class::ErrorClass;
use crate::client::transport::Endpoint;

/// The per-request handles of one endpoint, looked up once: `with_label_values` hashes and
/// locks, which the hot path of a 10,000-repository fan-out should not pay four times a request.
#[derive(Clone)]
pub struct EndpointMetrics {
    pub requests: IntCounter,
    pub in_flight: IntGauge,
    pub duration: prometheus::Histogram,
    pub retries: IntCounter,
    /// Indexed like [`ErrorClass::ALL`].
    errors: [IntCounter; ErrorClass::ALL.len()],
}

impl EndpointMetrics {
    fn new(metrics: &ExporterMetricVecs, endpoint: Endpoint) -> Self {
        let label = endpoint.as_label();
        Self {
            requests: metrics.requests.with_label_values(&[label]),
            in_flight: metrics.in_flight.with_label_values(&[label]),
            duration: metrics.duration.with_label_values(&[label]),
            retries: metrics.retries.with_label_values(&[label]),
            errors: ErrorClass::ALL
                .map(|class| metrics.errors.with_label_values(&[label, class.as_label()])),
        }
    }

    pub fn errors(&self, class: ErrorClass) -> &IntCounter {
        &self.errors[class as usize]
    }
}

/// The labelled request metrics, from which each endpoint's handles are taken.
struct ExporterMetricVecs {
    requests: IntCounterVec,
    errors: IntCounterVec,
    duration: HistogramVec,
    retries: IntCounterVec,
    in_flight: IntGaugeVec,
}

/// Handles to the self metrics, registered in one [`Registry`].
pub struct ExporterMetrics {
    registry: Registry,
    scrape_duration: Gauge,
    scrape_timeout: Gauge,
    repositories: IntGaugeVec,
    cache_hits: IntCounter,
    reload_success: Gauge,
    reload_timestamp: Gauge,
    discovery_success: Gauge,
    /// Indexed like [`Endpoint::ALL`].
    endpoints: [EndpointMetrics; Endpoint::ALL.len()],
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
        let vecs = ExporterMetricVecs {
            requests: IntCounterVec::new(opts(&names::API_REQUESTS), &[names::LABEL_ENDPOINT])?,
            errors: IntCounterVec::new(
                opts(&names::API_ERRORS),
                &[names::LABEL_ENDPOINT, names::LABEL_CLASS],
            )?,
            duration: HistogramVec::new(
                HistogramOpts::new(names::API_DURATION.name, names::API_DURATION.help)
                    .buckets(vec![0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
                &[names::LABEL_ENDPOINT],
            )?,
            retries: IntCounterVec::new(opts(&names::API_RETRIES), &[names::LABEL_ENDPOINT])?,
            in_flight: IntGaugeVec::new(opts(&names::API_IN_FLIGHT), &[names::LABEL_ENDPOINT])?,
        };
        // Taking every endpoint's and class's handle now also makes their series exist (at 0)
        // from the first scrape, so rates and alerts work at once.
        let endpoints = Endpoint::ALL.map(|endpoint| EndpointMetrics::new(&vecs, endpoint));
        let metrics = Self {
            scrape_duration: Gauge::with_opts(opts(&names::SCRAPE_DURATION))?,
            scrape_timeout: Gauge::with_opts(opts(&names::SCRAPE_TIMEOUT))?,
            repositories: IntGaugeVec::new(opts(&names::REPOSITORIES), &[names::LABEL_SOURCE])?,
            cache_hits: IntCounter::with_opts(opts(&names::CACHE_HITS))?,
            reload_success: Gauge::with_opts(opts(&names::RELOAD_SUCCESS))?,
            reload_timestamp: Gauge::with_opts(opts(&names::RELOAD_TIMESTAMP))?,
            discovery_success: Gauge::with_opts(opts(&names::DISCOVERY_SUCCESS))?,
            endpoints,
            registry,
        };
        let r = &metrics.registry;
        r.register(Box::new(build_info))?;
        r.register(Box::new(metrics.scrape_duration.clone()))?;
        r.register(Box::new(metrics.scrape_timeout.clone()))?;
        r.register(Box::new(metrics.repositories.clone()))?;
        r.register(Box::new(vecs.requests))?;
        r.register(Box::new(vecs.errors))?;
        r.register(Box::new(vecs.duration))?;
        r.register(Box::new(vecs.retries))?;
        r.register(Box::new(vecs.in_flight))?;
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
        Ok(metrics)
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The request metrics of `endpoint`.
    pub fn endpoint(&self, endpoint: Endpoint) -> &EndpointMetrics {
        &self.endpoints[endpoint as usize]
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
