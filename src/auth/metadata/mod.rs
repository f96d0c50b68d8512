//! The `ecs_agency` mode's credentials: the temporary AK/SK and security token of the ECS's (or
//! CCE node's) agency, from the metadata service, following the official SDK's
//! `MetadataAccessor` (docs/authentication.md):
//!
//! 1. a session token ([`session`]); a 404, 405 or 503 there means the service hands out none,
//!    and the flow goes on without;
//! 2. the credential ([`security_key`]), with the session token when there is one; a 401 that
//!    does not say "Please configure Cloud Service Agency first" means the session token is
//!    stale: a new one, and one more try;
//! 3. `{"credential": {"access", "secret", "securitytoken", "expires_at"}}`, or the other names
//!    the SDK accepts.
//!
//! The credential is held and renewed by [`Renewing`]: ahead of `expires_at` ([`renew_at`]),
//! single flight, a failed fetch backing off (5 s doubling to 5 min; the metadata service is
//! local and cheap to ask), and dropped for a new one when the gateway says it died.

mod security_key;
mod service;
mod session;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use url::Url;

use super::aksk::Keys;
use super::backoff::Failures;
use super::error::AuthError;
use super::metrics::Expiry;
use super::renewing::{Failed, Fresh, Renewing, Source};
use crate::upstream::{Failure, Transport};
use security_key::{mentions_no_agency, parse_credential, SecurityKey, NO_AGENCY};
use service::{FetchError, MetadataService};
use session::SessionTokens;

/// The SDK renews when less than 40 minutes are left (`_DEFAULT_EXPIRATION_THRESHOLD_SECONDS`).
const RENEW_MARGIN_MAX: Duration = Duration::from_secs(40 * 60);
/// A credential this close to expiry is not used any more: the request could outlive it.
const EXPIRY_SAFETY_MAX: Duration = Duration::from_secs(10);
/// A credential with less life than this left is refused as already expired (a stale answer,
/// or a clock far off).
const MIN_LIFE: Duration = Duration::from_secs(1);
/// Backoff after a failed fetch: the metadata service is local and cheap to ask.
const FAILURE_BACKOFF: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(300));

/// The moment to renew a credential obtained at `now` that expires at `expires_at`: 40 minutes
/// before expiry, as the SDK does, but never before half of the remaining life has passed, so
/// a short-lived credential is not fetched again on every request.
pub(crate) fn renew_at(now: SystemTime, expires_at: SystemTime) -> SystemTime {
    let left = expires_at.duration_since(now).unwrap_or_default();
    expires_at - (left / 2).min(RENEW_MARGIN_MAX)
}

/// How long before expiry a credential stops being used: 10 s, or a tenth of its remaining
/// life for very short ones.
fn expiry_safety(now: SystemTime, expires_at: SystemTime) -> Duration {
    (expires_at.duration_since(now).unwrap_or_default() / 10).min(EXPIRY_SAFETY_MAX)
}

/// The temporary credential of the `ecs_agency` mode.
pub(crate) struct AgencyCredentials(Renewing<MetadataFetch>);

/// One fetch from the metadata service: a session token, then the security key.
pub(crate) struct MetadataFetch {
    service: MetadataService,
    session: SessionTokens,
    security_key: SecurityKey,
}

impl AgencyCredentials {
    pub(crate) fn new(
        metadata_endpoint: &Url,
        transport: Arc<Transport>,
        expiry: Arc<Expiry>,
    ) -> Self {
        let service = MetadataService::new(metadata_endpoint, transport);
        let fetch = MetadataFetch {
            session: SessionTokens::new(&service),
            security_key: SecurityKey::new(&service),
            service,
        };
        Self(Renewing::new(fetch, expiry))
    }

    /// The keys to sign with now; waits (single flight, until `deadline` at most) only when
    /// there is no usable credential.
    pub(crate) async fn keys(&self, deadline: Instant) -> Result<Arc<Keys>, AuthError> {
        self.0.get(deadline).await
    }

    /// Forgets `sent` after the gateway said it is expired or invalid. Returns whether a fresh
    /// credential may be fetched now (so one retry is worth it).
    pub(crate) fn invalidate(&self, sent: &Keys) -> bool {
        self.0.invalidate(sent)
    }

    /// The request retried after [`AgencyCredentials::invalidate`] went through.
    pub(crate) fn renewal_worked(&self) {
        self.0.renewal_worked();
    }

    pub(crate) fn readiness(&self) -> Result<(), AuthError> {
        let held = self.0.held();
        if held
            .credential
            .as_ref()
            .is_some_and(|credential| credential.usable_at(SystemTime::now()))
        {
            return Ok(());
        }
        match held.failures.last_error() {
            Some(_) => Err(AuthError::Unavailable(format!(
                "no valid temporary credential from the metadata service ({}): {}",
                self.0.source().service.origin(),
                held.failures.reason()
            ))),
            None => Err(AuthError::NotYet(
                "no temporary credential obtained from the metadata service yet".to_owned(),
            )),
        }
    }
}

impl Source for MetadataFetch {
    type Credential = Arc<Keys>;

    async fn fetch(&self, deadline: Instant) -> Result<Fresh<Arc<Keys>>, Failed> {
        self.fetch_credential(deadline)
            .await
            .map_err(|message| Failed {
                message,
                backoff: FAILURE_BACKOFF,
            })
    }

    fn log_obtained(&self, fresh: &Fresh<Arc<Keys>>, held: Option<&Arc<Keys>>) {
        if held.is_some_and(|old| **old == *fresh.value) {
            tracing::debug!(
                expires_at = %humantime::format_rfc3339_seconds(fresh.expires_at),
                "the metadata service handed out the credential already held"
            );
        } else {
            tracing::info!(
                expires_at = %humantime::format_rfc3339_seconds(fresh.expires_at),
                renew_at = %humantime::format_rfc3339_seconds(fresh.renew_at),
                "obtained a temporary credential from the metadata service"
            );
        }
    }

    fn log_failed(
        &self,
        message: &str,
        failures: u32,
        wait: Duration,
        keeping: Option<SystemTime>,
    ) {
        let keeping = keeping.map(|at| humantime::format_rfc3339_seconds(at).to_string());
        tracing::warn!(
            error = %message,
            failures,
            retry_in_seconds = wait.as_secs(),
            still_using_until = keeping.as_deref().unwrap_or("none held"),
            "cannot get a temporary credential from the metadata service"
        );
    }

    fn log_dropped(&self) {
        tracing::warn!(
            "the gateway refused the temporary credential (security token) as expired or invalid; fetching a new one from the metadata service"
        );
    }

    fn still_fetching(&self) -> String {
        "the temporary credential is still being fetched from the metadata service".to_owned()
    }

    fn backing_off(&self, failures: &Failures) -> String {
        format!("the metadata service {}", failures.reason())
    }
}

impl MetadataFetch {
    /// The session token, then the security key, with the SDK's one retry after a 401.
    async fn fetch_credential(&self, deadline: Instant) -> Result<Fresh<Arc<Keys>>, FetchError> {
        let service = &self.service;
        let session = self.session.get(service, deadline).await?;
        let answer = self
            .security_key
            .request(service, session.as_ref(), deadline)
            .await?;
        let answer = if answer.status == 401 && !mentions_no_agency(&answer.body) {
            tracing::debug!("the metadata service refused the session token; getting a new one");
            service.record(&Failure::Status {
                status: 401,
                error_code: None,
            });
            self.session.forget();
            let session = self.session.get(service, deadline).await?;
            self.security_key
                .request(service, session.as_ref(), deadline)
                .await?
        } else {
            answer
        };
        if answer.status == 401 && mentions_no_agency(&answer.body) {
            service.record(&Failure::Status {
                status: 401,
                error_code: None,
            });
            return Err(format!(
                "the metadata service answered 401 \"{NO_AGENCY}\": this ECS (or CCE node) has no agency; attach one with CodeArts Repo read access"
            ));
        }
        if !(200..300).contains(&answer.status) {
            return Err(service.status_error("securitykey", &answer));
        }
        let now = SystemTime::now();
        let credential = parse_credential(&answer.body).inspect_err(|_| {
            service.record(&Failure::InvalidBody);
        })?;
        if credential.expires_at <= now + MIN_LIFE {
            service.record(&Failure::InvalidBody);
            return Err(format!(
                "the metadata service handed out a credential that expires at {}, now or in the past (check the clock)",
                humantime::format_rfc3339_seconds(credential.expires_at)
            ));
        }
        Ok(Fresh {
            renew_at: renew_at(now, credential.expires_at),
            usable_until: credential.expires_at - expiry_safety(now, credential.expires_at),
            value: Arc::new(credential.keys),
            expires_at: credential.expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_day_long_credential_renews_forty_minutes_before_expiry() {
        let now = SystemTime::UNIX_EPOCH;
        let expires = now + 24 * HOUR;
        assert_eq!(
            renew_at(now, expires),
            expires - Duration::from_secs(40 * 60)
        );
    }

    #[test]
    fn a_short_credential_renews_when_half_its_remaining_life_is_left() {
        let now = SystemTime::UNIX_EPOCH;
        let expires = now + Duration::from_secs(30 * 60);
        assert_eq!(
            renew_at(now, expires),
            expires - Duration::from_secs(15 * 60)
        );
        assert_eq!(
            expiry_safety(now, now + Duration::from_secs(6)),
            Duration::from_millis(600)
        );
        assert_eq!(expiry_safety(now, expires), EXPIRY_SAFETY_MAX);
    }
}
