//! IAM user tokens obtained with the password method (docs/authentication.md), held and
//! renewed by [`Renewing`]: renewed ahead of expiry, fetched single-flight, renewed once on a 401
//! that says the token died (as often as [`super::rejection::Rejections`] allows).
//!
//! A failed request backs off exponentially (long after a 401/403: repeated wrong passwords lock
//! the account) and the old token keeps being used while it is still valid.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderValue, CONTENT_TYPE};
use serde::Deserialize;
use tokio::time::Instant;

use super::backoff::Failures;
use super::error::AuthError;
use super::metrics::Expiry;
use super::renewing::{Failed, Fresh, Renewing, Source};
use super::secret_file::SecretReader;
use crate::config::{IamConfig, ProjectScope, Secret};
use crate::upstream::{classify, parse_time, ApiErrorBody, Endpoint, Failure, Transport};

/// Never renew later than this before expiry, whatever the token's life (IAM's tokens live
/// 24 h; docs/authentication.md).
const RENEW_MARGIN_MAX: Duration = Duration::from_secs(3600);
/// A token this close to expiry is not used any more: the request could outlive it.
const EXPIRY_SAFETY: Duration = Duration::from_secs(10);
/// Backoff after a refused password (401/403): doubling from 1 min to 30 min.
const REFUSED_BACKOFF: (Duration, Duration) = (Duration::from_secs(60), Duration::from_secs(1800));
/// Backoff after any other failure: doubling from 5 s to 5 min.
const TRANSIENT_BACKOFF: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(300));
/// How long an IAM request may take at most.
const IAM_TIMEOUT: Duration = Duration::from_secs(10);

/// The IAM token of the `iam` mode.
pub(crate) struct IamTokens(Renewing<PasswordGrant>);

/// The token request: `POST /v3/auth/tokens` with the user's password.
pub(crate) struct PasswordGrant {
    url: String,
    domain: String,
    user: String,
    project: ProjectScope,
    password: SecretReader,
    transport: Arc<Transport>,
}

/// The moment to renew: when less than 10 % of the token's life or 1 h is left, whichever
/// comes later (so a short-lived token is not renewed the moment it arrives).
pub(crate) fn renew_at(issued_at: SystemTime, expires_at: SystemTime) -> SystemTime {
    let life = expires_at.duration_since(issued_at).unwrap_or_default();
    expires_at - (life / 10).min(RENEW_MARGIN_MAX)
}

impl IamTokens {
    pub(crate) fn new(config: &IamConfig, transport: Arc<Transport>, expiry: Arc<Expiry>) -> Self {
        let grant = PasswordGrant {
            url: format!(
                "{}/v3/auth/tokens?nocatalog=true",
                config.endpoint.as_str().trim_end_matches('/')
            ),
            domain: config.domain.clone(),
            user: config.user.clone(),
            project: config.project.clone(),
            password: SecretReader::new(&config.password),
            transport,
        };
        Self(Renewing::new(grant, expiry))
    }

    /// A token to send now; waits (single flight, until `deadline`) only when there is no
    /// usable token.
    pub(crate) async fn token(&self, deadline: Instant) -> Result<Secret, AuthError> {
        self.0.get(deadline).await
    }

    /// Forgets `token` after the API said it expired or is invalid. Returns whether a fresh
    /// token may be fetched now (so one retry is worth it).
    pub(crate) fn invalidate(&self, token: &Secret) -> bool {
        self.0.invalidate(token)
    }

    /// The request retried with a renewed token went through.
    pub(crate) fn renewal_worked(&self) {
        self.0.renewal_worked();
    }

    pub(crate) fn readiness(&self) -> Result<(), AuthError> {
        let held = self.0.held();
        match (&held.credential, held.failures.last_error()) {
            (Some(token), _) if token.expires_at > SystemTime::now() => Ok(()),
            (_, Some(err)) => Err(AuthError::Unavailable(format!("no valid IAM token: {err}"))),
            _ => Err(AuthError::NotYet("no IAM token obtained yet".to_owned())),
        }
    }
}

impl Source for PasswordGrant {
    type Credential = Secret;

    async fn fetch(&self, deadline: Instant) -> Result<Fresh<Secret>, Failed> {
        self.request(deadline)
            .await
            .map_err(|(message, refused)| Failed {
                message,
                backoff: if refused {
                    REFUSED_BACKOFF
                } else {
                    TRANSIENT_BACKOFF
                },
            })
    }

    fn log_obtained(&self, fresh: &Fresh<Secret>, _held: Option<&Secret>) {
        tracing::info!(
            expires_at = %humantime::format_rfc3339_seconds(fresh.expires_at),
            "obtained an IAM token"
        );
    }

    fn log_failed(&self, message: &str, failures: u32, wait: Duration, _: Option<SystemTime>) {
        tracing::warn!(
            error = %message,
            failures,
            retry_in_seconds = wait.as_secs(),
            "IAM token request failed"
        );
    }

    fn log_dropped(&self) {
        tracing::info!("the API refused the IAM token as expired or invalid; renewing it");
    }

    fn still_fetching(&self) -> String {
        "the IAM token is still being requested".to_owned()
    }

    fn backing_off(&self, failures: &Failures) -> String {
        format!("IAM token request {}", failures.reason())
    }
}

impl PasswordGrant {
    /// Sends the password request. Errors carry whether IAM refused the credentials.
    async fn request(&self, deadline: Instant) -> Result<Fresh<Secret>, (String, bool)> {
        let password = self
            .password
            .current()
            .map_err(|err| (err.to_string(), false))?;
        let scope = match &self.project {
            ProjectScope::Name(name) => serde_json::json!({ "project": { "name": name } }),
            ProjectScope::Id(id) => serde_json::json!({ "project": { "id": id } }),
        };
        let body = serde_json::json!({
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": { "user": {
                        "name": self.user,
                        "password": password.expose(),
                        "domain": { "name": self.domain }
                    } }
                },
                "scope": scope
            }
        });
        let body = serde_json::to_vec(&body).map_err(|err| (err.to_string(), false))?;
        let deadline = deadline.min(Instant::now() + IAM_TIMEOUT);
        let request = self
            .transport
            .http()
            .post(&self.url)
            .timeout(deadline.saturating_duration_since(Instant::now()))
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/json;charset=utf8"),
            )
            .body(body)
            .build()
            .map_err(|_| ("cannot build the IAM request".to_owned(), false))?;
        let answer = self
            .transport
            .send(Endpoint::IamToken, request, deadline)
            .await
            .map_err(|failure| (format!("IAM request failed: {}", classify(&failure)), false))?;
        if !(200..300).contains(&answer.status) {
            let error = ApiErrorBody::parse(&answer.body);
            self.transport.record(
                Endpoint::IamToken,
                &Failure::Status {
                    status: answer.status,
                    error_code: error.error_code.clone(),
                },
            );
            let refused = matches!(answer.status, 401 | 403);
            return Err((
                format!(
                    "IAM answered {} ({}: {})",
                    answer.status,
                    error.error_code.as_deref().unwrap_or("no code"),
                    error.error_msg.as_deref().unwrap_or("no message")
                ),
                refused,
            ));
        }
        let invalid = |why: &str| {
            self.transport
                .record(Endpoint::IamToken, &Failure::InvalidBody);
            (format!("IAM answered {} but {why}", answer.status), false)
        };
        let value = answer
            .headers
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid("without an X-Subject-Token header"))?;
        #[derive(Deserialize)]
        struct Body {
            token: TokenBody,
        }
        #[derive(Deserialize)]
        struct TokenBody {
            expires_at: String,
            issued_at: Option<String>,
        }
        let body: Body = serde_json::from_slice(&answer.body)
            .map_err(|_| invalid("its body has no token.expires_at"))?;
        let expires_at = parse_time(&body.token.expires_at)
            .map(SystemTime::from)
            .ok_or_else(|| invalid("token.expires_at is not an RFC 3339 time"))?;
        let issued_at = body
            .token
            .issued_at
            .as_deref()
            .and_then(parse_time)
            .map(SystemTime::from)
            .unwrap_or_else(SystemTime::now);
        Ok(Fresh {
            value: Secret::new(value),
            expires_at,
            renew_at: renew_at(issued_at, expires_at),
            usable_until: expires_at - EXPIRY_SAFETY,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_long_token_renews_one_hour_before_expiry() {
        let issued = SystemTime::UNIX_EPOCH;
        let expires = issued + Duration::from_secs(24 * 3600);
        assert_eq!(
            renew_at(issued, expires),
            expires - Duration::from_secs(3600)
        );
    }

    #[test]
    fn a_short_token_renews_when_a_tenth_of_its_life_is_left() {
        let issued = SystemTime::UNIX_EPOCH;
        let expires = issued + Duration::from_secs(300);
        assert_eq!(renew_at(issued, expires), expires - Duration::from_secs(30));
    }
}
