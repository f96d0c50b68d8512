//! IAM user tokens obtained with the password method (docs/authentication.md), cached, renewed
//! ahead of expiry, renewed once on a 401 that says the token died (as often as
//! [`Rejections`] allows), and fetched single-flight.
//!
//! A failed fetch backs off exponentially (long after a 401/403: repeated wrong passwords lock
//! the account) and the old token keeps being used while it is still valid.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderValue, CONTENT_TYPE};
use serde::Deserialize;
use tokio::time::Instant;

use super::error::AuthError;
use super::metrics::Expiry;
use super::rejection::Rejections;
use super::secret_file::SecretReader;
use crate::config::{IamConfig, ProjectScope, Secret};
use crate::upstream::{classify, parse_time, ApiErrorBody, Endpoint, Failure, Transport};

/// Never renew later than this before expiry, whatever the token's life (reference: 1 h).
const RENEW_MARGIN_MAX: Duration = Duration::from_secs(3600);
/// A token this close to expiry is not used any more: the request could outlive it.
const EXPIRY_SAFETY: Duration = Duration::from_secs(10);
/// Backoff after a refused password (401/403): doubling from 1 min to 30 min.
const REFUSED_BACKOFF: (Duration, Duration) = (Duration::from_secs(60), Duration::from_secs(1800));
/// Backoff after any other failure: doubling from 5 s to 5 min.
const TRANSIENT_BACKOFF: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(300));
/// How long an IAM request may take at most.
const IAM_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct IamToken {
    value: Secret,
    expires_at: SystemTime,
    renew_at: SystemTime,
}

#[derive(Default)]
struct State {
    token: Option<IamToken>,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<String>,
}

pub struct IamTokens {
    url: String,
    domain: String,
    user: String,
    project: ProjectScope,
    password: SecretReader,
    transport: Arc<Transport>,
    state: Mutex<State>,
    /// The expiry of the token held, for the metric and the landing page.
    expiry: Arc<Expiry>,
    /// Held while a token request is in flight: one request, however many callers.
    fetching: tokio::sync::Mutex<()>,
    /// How soon a refused token may be dropped again.
    rejections: Rejections,
}

/// The moment to renew: when less than 10 % of the token's life or 1 h is left, whichever
/// comes later (so a short-lived token is not renewed the moment it arrives).
pub fn renew_at(issued_at: SystemTime, expires_at: SystemTime) -> SystemTime {
    let life = expires_at.duration_since(issued_at).unwrap_or_default();
    expires_at - (life / 10).min(RENEW_MARGIN_MAX)
}

impl IamTokens {
    pub fn new(config: &IamConfig, transport: Arc<Transport>, expiry: Arc<Expiry>) -> Self {
        Self {
            url: format!(
                "{}/v3/auth/tokens?nocatalog=true",
                config.endpoint.as_str().trim_end_matches('/')
            ),
            domain: config.domain.clone(),
            user: config.user.clone(),
            project: config.project.clone(),
            password: SecretReader::new(&config.password),
            transport,
            state: Mutex::new(State::default()),
            expiry,
            fetching: tokio::sync::Mutex::new(()),
            rejections: Rejections::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A token to send now. Renews ahead of expiry without making callers wait while the old
    /// token is still good; waits (single-flight) only when there is no usable token.
    pub async fn token(&self, deadline: Instant) -> Result<Secret, AuthError> {
        let now = SystemTime::now();
        let usable = self
            .state()
            .token
            .clone()
            .filter(|t| t.expires_at > now + EXPIRY_SAFETY);
        if let Some(token) = usable {
            if now < token.renew_at {
                return Ok(token.value);
            }
            // Due for renewal: one caller renews, the others go on with the old token.
            if let Ok(_guard) = self.fetching.try_lock() {
                if self.may_fetch() {
                    if let Ok(fresh) = self.fetch(deadline).await {
                        return Ok(fresh);
                    }
                }
            }
            return Ok(token.value);
        }
        let _guard = self.fetching.lock().await;
        // Someone else may have fetched while we waited for the lock.
        let now = SystemTime::now();
        if let Some(token) = self
            .state()
            .token
            .clone()
            .filter(|t| t.expires_at > now + EXPIRY_SAFETY)
        {
            return Ok(token.value);
        }
        if !self.may_fetch() {
            return Err(AuthError(self.backoff_reason()));
        }
        self.fetch(deadline).await
    }

    /// Forgets `token` after the API said it expired or is invalid. Returns whether a fresh
    /// token may be fetched now (so one retry is worth it).
    pub fn invalidate(&self, token: &Secret) -> bool {
        let mut state = self.state();
        let current = state.token.as_ref().is_some_and(|t| &t.value == token);
        let may_fetch = state.retry_at.is_none_or(|at| Instant::now() >= at);
        if !current {
            // Already replaced (or dropped) since this request was sent: a retry gets the new
            // one, or waits for the request under way.
            return state.token.is_some() || may_fetch;
        }
        if !self.rejections.allow_renewal() {
            return false;
        }
        tracing::info!("the API refused the IAM token as expired or invalid; renewing it");
        state.token = None;
        self.expiry.set(None);
        may_fetch
    }

    /// The request retried with a renewed token went through.
    pub fn renewal_worked(&self) {
        self.rejections.renewal_worked();
    }

    pub fn readiness(&self) -> Result<(), String> {
        let state = self.state();
        match (&state.token, &state.last_error) {
            (Some(t), _) if t.expires_at > SystemTime::now() => Ok(()),
            (_, Some(err)) => Err(format!("no valid IAM token: {err}")),
            _ => Err("no IAM token obtained yet".to_owned()),
        }
    }

    fn may_fetch(&self) -> bool {
        self.state().retry_at.is_none_or(|at| Instant::now() >= at)
    }

    fn backoff_reason(&self) -> String {
        let state = self.state();
        let wait = state
            .retry_at
            .map(|at| at.saturating_duration_since(Instant::now()))
            .unwrap_or_default();
        format!(
            "IAM token request failed {} time(s), next try in {}s: {}",
            state.failures,
            wait.as_secs(),
            state.last_error.as_deref().unwrap_or("unknown error")
        )
    }

    /// One token request. Callers hold `fetching`.
    async fn fetch(&self, deadline: Instant) -> Result<Secret, AuthError> {
        match self.request(deadline).await {
            Ok(token) => {
                let value = token.value.clone();
                tracing::info!(
                    expires_at = %humantime::format_rfc3339_seconds(token.expires_at),
                    "obtained an IAM token"
                );
                let mut state = self.state();
                self.expiry.set(Some(token.expires_at));
                state.token = Some(token);
                state.failures = 0;
                state.retry_at = None;
                state.last_error = None;
                Ok(value)
            }
            Err((message, refused)) => {
                let mut state = self.state();
                state.failures += 1;
                let (base, cap) = if refused {
                    REFUSED_BACKOFF
                } else {
                    TRANSIENT_BACKOFF
                };
                let wait = base
                    .saturating_mul(1 << (state.failures - 1).min(16))
                    .min(cap);
                state.retry_at = Some(Instant::now() + wait);
                state.last_error = Some(message.clone());
                tracing::warn!(error = %message, failures = state.failures, retry_in_seconds = wait.as_secs(), "IAM token request failed");
                Err(AuthError(message))
            }
        }
    }

    /// Sends the password request. Errors carry whether IAM refused the credentials.
    async fn request(&self, deadline: Instant) -> Result<IamToken, (String, bool)> {
        let password = self.password.current().map_err(|err| (err, false))?;
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
        Ok(IamToken {
            value: Secret::new(value),
            expires_at,
            renew_at: renew_at(issued_at, expires_at),
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
