//! The upstream request metrics: requests sent, failed (by class), retried and in flight, and
//! their latency, per [`Endpoint`]. Registered once per process; every [`super::Transport`]
//! built on reload counts into the same series.

use std::sync::Arc;

use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use super::endpoint::Endpoint;
use super::error_class::ErrorClass;

const LABEL_ENDPOINT: &str = "endpoint";
const LABEL_CLASS: &str = "class";

const REQUESTS: (&str, &str) = (
    "codearts_repo_exporter_api_requests_total",
    "Upstream API requests sent, by endpoint.",
);
const ERRORS: (&str, &str) = (
    "codearts_repo_exporter_api_request_errors_total",
    "Upstream API requests that failed, by endpoint and error class (retried attempts included).",
);
const DURATION: (&str, &str) = (
    "codearts_repo_exporter_api_request_duration_seconds",
    "Upstream API request latency, by endpoint.",
);
const RETRIES: (&str, &str) = (
    "codearts_repo_exporter_api_request_retries_total",
    "Upstream API requests retried after a throttled, 5xx or connection failure, by endpoint.",
);
const IN_FLIGHT: (&str, &str) = (
    "codearts_repo_exporter_api_requests_in_flight",
    "Upstream API requests in flight now, by endpoint.",
);

/// Latency buckets: CodeArts answers in tens of milliseconds; a request may take up to the
/// request timeout (5 s by default).
const BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

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
    pub fn errors(&self, class: ErrorClass) -> &IntCounter {
        &self.errors[class as usize]
    }
}

/// The request metrics of every endpoint.
pub struct UpstreamMetrics {
    /// Indexed like [`Endpoint::ALL`].
    endpoints: [EndpointMetrics; Endpoint::ALL.len()],
}

impl UpstreamMetrics {
    /// Registers the request metrics in `registry`. Every endpoint's and class's series exists
    /// (at 0) from the first scrape, so rates and alerts work at once.
    pub fn register(registry: &Registry) -> Result<Arc<Self>, prometheus::Error> {
        let opts = |(name, help): (&str, &str)| Opts::new(name, help);
        let requests = IntCounterVec::new(opts(REQUESTS), &[LABEL_ENDPOINT])?;
        let errors = IntCounterVec::new(opts(ERRORS), &[LABEL_ENDPOINT, LABEL_CLASS])?;
        let duration = HistogramVec::new(
            HistogramOpts::new(DURATION.0, DURATION.1).buckets(BUCKETS.to_vec()),
            &[LABEL_ENDPOINT],
        )?;
        let retries = IntCounterVec::new(opts(RETRIES), &[LABEL_ENDPOINT])?;
        let in_flight = IntGaugeVec::new(opts(IN_FLIGHT), &[LABEL_ENDPOINT])?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(retries.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        let endpoints = Endpoint::ALL.map(|endpoint| {
            let label = endpoint.as_label();
            EndpointMetrics {
                requests: requests.with_label_values(&[label]),
                in_flight: in_flight.with_label_values(&[label]),
                duration: duration.with_label_values(&[label]),
                retries: retries.with_label_values(&[label]),
                errors: ErrorClass::ALL
                    .map(|class| errors.with_label_values(&[label, class.as_label()])),
            }
        });
        Ok(Arc::new(Self { endpoints }))
    }

    /// The request metrics of `endpoint`.
    pub fn endpoint(&self, endpoint: Endpoint) -> &EndpointMetrics {
        &self.endpoints[endpoint as usize]
    }
}
