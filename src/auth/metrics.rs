//! The credential metric: when the credential in use expires (an IAM token, or the temporary
//! credential of an ECS agency), shown only while the current credential has an expiry.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Gauge, Opts, Registry};

const EXPIRY: (&str, &str) = (
    "codearts_repo_exporter_auth_token_expiry_timestamp_seconds",
    "Unix time at which the credential in use expires: the IAM token (iam auth), or the temporary AK/SK and security token from the metadata service, its expires_at (ecs_agency auth).",
);

/// When one credential expires; each [`super::Auth`] has its own and updates it.
#[derive(Debug, Default)]
pub(crate) struct Expiry(Mutex<Option<SystemTime>>);

impl Expiry {
    pub(crate) fn set(&self, at: Option<SystemTime>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    pub(crate) fn get(&self) -> Option<SystemTime> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The auth metrics of the process. The [`Expiry`] shown is that of the credential built last
/// (see [`AuthMetrics::show`]): an older credential still finishing a scrape cannot overwrite
/// what the current one says.
pub struct AuthMetrics {
    shown: ArcSwapOption<Expiry>,
    gauge: Gauge,
}

impl AuthMetrics {
    pub fn register(registry: &Registry) -> Result<Arc<Self>, prometheus::Error> {
        let metrics = Arc::new(Self {
            shown: ArcSwapOption::empty(),
            gauge: Gauge::with_opts(Opts::new(EXPIRY.0, EXPIRY.1))?,
        });
        registry.register(Box::new(ExpiryCollector(metrics.clone())))?;
        Ok(metrics)
    }

    /// Makes `expiry` the one exported.
    pub(super) fn show(&self, expiry: Arc<Expiry>) {
        self.shown.store(Some(expiry));
    }
}

/// Exports the shown expiry, and nothing while it is unknown or the credential has none.
struct ExpiryCollector(Arc<AuthMetrics>);

impl Collector for ExpiryCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.0.gauge.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let at = self.0.shown.load().as_ref().and_then(|expiry| expiry.get());
        let Some(at) = at else {
            return Vec::new();
        };
        let seconds = at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        self.0.gauge.set(seconds);
        self.0.gauge.collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn exported(registry: &Registry) -> Option<f64> {
        let families = registry.gather();
        let family = families.iter().find(|f| f.name() == EXPIRY.0)?;
        Some(family.get_metric()[0].get_gauge().get_value())
    }

    #[test]
    fn absent_until_a_credential_with_an_expiry_is_shown() {
        let registry = Registry::new();
        let metrics = AuthMetrics::register(&registry).unwrap();
        assert_eq!(exported(&registry), None);
        let expiry = Arc::new(Expiry::default());
        metrics.show(expiry.clone());
        assert_eq!(exported(&registry), None, "no token yet");
        expiry.set(Some(UNIX_EPOCH + Duration::from_secs(1_750_000_000)));
        assert_eq!(exported(&registry), Some(1_750_000_000.0));
    }

    #[test]
    fn a_newer_credential_replaces_the_older_one() {
        let registry = Registry::new();
        let metrics = AuthMetrics::register(&registry).unwrap();
        let old = Arc::new(Expiry::default());
        metrics.show(old.clone());
        old.set(Some(UNIX_EPOCH + Duration::from_secs(10)));
        let new = Arc::new(Expiry::default());
        metrics.show(new.clone());
        old.set(Some(UNIX_EPOCH + Duration::from_secs(20)));
        assert_eq!(
            exported(&registry),
            None,
            "the new credential has no expiry"
        );
    }
}
