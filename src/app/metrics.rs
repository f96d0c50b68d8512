//! The application's own metrics: build info, the result of the last config (re)load, and the
//! `process_*` collector.

use prometheus::{Gauge, GaugeVec, Opts, Registry};

const BUILD_INFO: (&str, &str) = (
    "codearts_repo_exporter_build_info",
    "Always 1; labels carry the exporter's version and git revision.",
);
const RELOAD_SUCCESS: (&str, &str) = (
    "codearts_repo_exporter_config_last_reload_successful",
    "1 if the last configuration reload succeeded, else 0.",
);
const RELOAD_TIMESTAMP: (&str, &str) = (
    "codearts_repo_exporter_config_last_reload_success_timestamp_seconds",
    "Unix time of the last successful configuration load.",
);

pub(super) struct AppMetrics {
    reload_success: Gauge,
    reload_timestamp: Gauge,
}

impl AppMetrics {
    pub(super) fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let opts = |(name, help): (&str, &str)| Opts::new(name, help);
        let build_info = GaugeVec::new(opts(BUILD_INFO), &["version", "revision"])?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), revision()])
            .set(1.0);
        let metrics = Self {
            reload_success: Gauge::with_opts(opts(RELOAD_SUCCESS))?,
            reload_timestamp: Gauge::with_opts(opts(RELOAD_TIMESTAMP))?,
        };
        registry.register(Box::new(build_info))?;
        registry.register(Box::new(metrics.reload_success.clone()))?;
        registry.register(Box::new(metrics.reload_timestamp.clone()))?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(metrics)
    }

    /// Records a config load or reload; `now` in Unix seconds.
    pub(super) fn observe_reload(&self, ok: bool, now: f64) {
        self.reload_success.set(if ok { 1.0 } else { 0.0 });
        if ok {
            self.reload_timestamp.set(now);
        }
    }
}

/// The git revision baked in at build time (`CODEARTS_EXPORTER_REVISION`), or "unknown".
pub(crate) fn revision() -> &'static str {
    option_env!("CODEARTS_EXPORTER_REVISION").unwrap_or("unknown")
}
