//! The `ecs_agency` mode's credentials: the temporary AK/SK and security token of the ECS's (or
//! CCE node's) agency, from the metadata service, following the official SDK's
//! `MetadataAccessor` (docs/authentication.md):
//!
//! 1. a session token, `PUT /meta-data/latest/api/token` with `X-Metadata-Token-Ttl-Seconds`;
//!    a 404, 405 or 503 there means the service hands out none, and the flow goes on without;
//! 2. `GET /openstack/latest/securitykey`, with `X-Metadata-Token` when there is one; a 401
//!    that does not say "Please configure Cloud Service Agency first" means the session token
//!    is stale: a new one, and one more try;
//! 3. `{"credential": {"access", "secret", "securitytoken", "expires_at"}}`, or the other names
//!    the SDK accepts.
//!
//! The credential is renewed ahead of `expires_at` ([`renew_at`]) by the request that finds it
//! due, while the others go on with the old one; only without a usable credential do requests
//! wait, for one fetch (single-flight) bounded by their deadline. A failed fetch backs off (5 s
//! doubling to 5 min) and the old credential stays in use until it expires. A 401 from the
//! gateway saying the credential died drops it for a new one, at most as often as
//! [`Rejections`] allows.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderValue;
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use super::aksk::Keys;
use super::backoff::Failures;
use super::error::AuthError;
use super::metrics::Expiry;
use super::rejection::Rejections;
use crate::config::Secret;
use crate::upstream::{classify, parse_time, Endpoint, Failure, RawAnswer, Transport};

/// The SDK renews when less than 40 minutes are left (`_DEFAULT_EXPIRATION_THRESHOLD_SECONDS`).
const RENEW_MARGIN_MAX: Duration = Duration::from_secs(40 * 60);
/// A credential this close to expiry is not used any more: the request could outlive it.
const EXPIRY_SAFETY_MAX: Duration = Duration::from_secs(10);
/// A credential with less life than this left is refused as already expired (a stale answer,
/// or a clock far off).
const MIN_LIFE: Duration = Duration::from_secs(1);
/// Backoff after a failed fetch: the metadata service is local and cheap to ask.
const FAILURE_BACKOFF: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(300));
/// One metadata request, as the SDK's `(3, 3)` connect and read timeouts.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// The session token's life, as the SDK asks for it (six hours, the most the service gives).
const SESSION_TTL: Duration = Duration::from_secs(6 * 3600);
/// A session token is replaced this long before its TTL ends, saving the 401 round trip.
const SESSION_MARGIN: Duration = Duration::from_secs(10 * 60);
/// After the service said it hands out no session tokens, ask again only after this long (the
/// SDK's `_DEFAULT_CHECK_TOKEN_DURATION_SECONDS`).
const SESSION_RECHECK: Duration = Duration::from_secs(24 * 3600);

const TOKEN_PATH: &str = "/meta-data/latest/api/token";
const SECURITY_KEY_PATH: &str = "/openstack/latest/securitykey";
/// The 401 of an ECS without an agency: a new session token would not help.
const NO_AGENCY: &str = "Please configure Cloud Service Agency first";

/// The moment to renew a credential obtained at `now` that expires at `expires_at`: 40 minutes
/// before expiry, as the SDK does, but never before half of the remaining life has passed, so
/// a short-lived credential is not fetched again on every request.
pub fn renew_at(now: SystemTime, expires_at: SystemTime) -> SystemTime {
    let left = expires_at.duration_since(now).unwrap_or_default();
    expires_at - (left / 2).min(RENEW_MARGIN_MAX)
}

/// How long before expiry a credential stops being used: 10 s, or a tenth of its remaining
/// life for very short ones.
fn expiry_safety(now: SystemTime, expires_at: SystemTime) -> Duration {
    (expires_at.duration_since(now).unwrap_or_default() / 10).min(EXPIRY_SAFETY_MAX)
}

/// A credential from the metadata service.
#[derive(Clone)]
struct Temporary {
    keys: Arc<Keys>,
    expires_at: SystemTime,
    renew_at: SystemTime,
    usable_until: SystemTime,
}

/// The session token state.
#[derive(Default)]
enum Session {
    /// Not asked yet (or dropped after a 401).
    #[default]
    Unknown,
    Token {
        value: Secret,
        obtained: Instant,
    },
    /// The service answered 404/405/503 to the token request at this moment.
    Unsupported {
        checked: Instant,
    },
}

#[derive(Default)]
struct State {
    credential: Option<Temporary>,
    session: Session,
    failures: Failures,
}

pub struct AgencyCredentials {
    token_url: Url,
    security_key_url: Url,
    transport: Arc<Transport>,
    state: Mutex<State>,
    /// Held while a fetch is in flight: one fetch, however many callers.
    fetching: tokio::sync::Mutex<()>,
    /// The expiry of the credential held, for the metric and the landing page.
    expiry: Arc<Expiry>,
    rejections: Rejections,
}

/// Why a fetch failed: the message for logs and `/readyz`.
type FetchError = String;

impl AgencyCredentials {
    pub fn new(metadata_endpoint: &Url, transport: Arc<Transport>, expiry: Arc<Expiry>) -> Self {
        let url = |path: &str| {
            let mut url = metadata_endpoint.clone();
            url.set_path(&format!(
                "{}{path}",
                metadata_endpoint.path().trim_end_matches('/')
            ));
            url
        };
        Self {
            token_url: url(TOKEN_PATH),
            security_key_url: url(SECURITY_KEY_PATH),
            transport,
            state: Mutex::new(State::default()),
            fetching: tokio::sync::Mutex::new(()),
            expiry,
            rejections: Rejections::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn usable(&self) -> Option<Temporary> {
        let now = SystemTime::now();
        self.state()
            .credential
            .clone()
            .filter(|credential| now < credential.usable_until)
    }

    /// The keys to sign with now. Renews ahead of expiry without making callers wait while the
    /// old credential is still good; waits (single-flight, until `deadline` at most) only when
    /// there is none.
    pub async fn keys(&self, deadline: Instant) -> Result<Arc<Keys>, AuthError> {
        if let Some(credential) = self.usable() {
            if SystemTime::now() < credential.renew_at {
                return Ok(credential.keys);
            }
            // Due for renewal: one caller renews, the others go on with the old credential.
            if let Ok(_guard) = self.fetching.try_lock() {
                if self.state().failures.may_try() {
                    if let Ok(fresh) = self.fetch(deadline).await {
                        return Ok(fresh);
                    }
                }
            }
            return Ok(credential.keys);
        }
        let Ok(_guard) = tokio::time::timeout_at(deadline, self.fetching.lock()).await else {
            return Err(AuthError(
                "the temporary credential is still being fetched from the metadata service"
                    .to_owned(),
            ));
        };
        // Someone else may have fetched while we waited for the lock.
        if let Some(credential) = self.usable() {
            return Ok(credential.keys);
        }
        if !self.state().failures.may_try() {
            return Err(AuthError(self.backoff_reason()));
        }
        self.fetch(deadline).await.map_err(AuthError)
    }

    /// Forgets `sent` after the gateway said it is expired or invalid. Returns whether a fresh
    /// credential may be fetched now (so one retry is worth it).
    pub fn invalidate(&self, sent: &Keys) -> bool {
        let mut state = self.state();
        let current = state
            .credential
            .as_ref()
            .is_some_and(|credential| *credential.keys == *sent);
        if !current {
            // Already replaced (or dropped) since this request was signed: a retry gets the
            // new one, or waits for the fetch under way.
            return state.credential.is_some() || state.failures.may_try();
        }
        if !self.rejections.allow_renewal() {
            return false;
        }
        tracing::warn!(
            "the gateway refused the temporary credential (security token) as expired or invalid; fetching a new one from the metadata service"
        );
        state.credential = None;
        self.expiry.set(None);
        state.failures.may_try()
    }

    /// The request retried after [`AgencyCredentials::invalidate`] went through.
    pub fn renewal_worked(&self) {
        self.rejections.renewal_worked();
    }

    pub fn readiness(&self) -> Result<(), String> {
        if self.usable().is_some() {
            return Ok(());
        }
        let state = self.state();
        match state.failures.last_error() {
            Some(_) => Err(format!(
                "no valid temporary credential from the metadata service ({}): {}",
                self.security_key_url.origin().ascii_serialization(),
                state.failures.reason()
            )),
            None => Err("no temporary credential obtained from the metadata service yet".into()),
        }
    }

    fn backoff_reason(&self) -> String {
        format!("the metadata service {}", self.state().failures.reason())
    }

    /// One fetch. Callers hold `fetching`.
    async fn fetch(&self, deadline: Instant) -> Result<Arc<Keys>, FetchError> {
        match self.fetch_credential(deadline).await {
            Ok(credential) => {
                let keys = credential.keys.clone();
                let mut state = self.state();
                let renewed = state
                    .credential
                    .as_ref()
                    .is_some_and(|old| *old.keys != *credential.keys);
                if renewed || state.credential.is_none() {
                    tracing::info!(
                        expires_at = %humantime::format_rfc3339_seconds(credential.expires_at),
                        renew_at = %humantime::format_rfc3339_seconds(credential.renew_at),
                        "obtained a temporary credential from the metadata service"
                    );
                } else {
                    tracing::debug!(
                        expires_at = %humantime::format_rfc3339_seconds(credential.expires_at),
                        "the metadata service handed out the credential already held"
                    );
                }
                self.expiry.set(Some(credential.expires_at));
                state.credential = Some(credential);
                state.failures.succeeded();
                Ok(keys)
            }
            Err(message) => {
                let mut state = self.state();
                let wait = state.failures.failed(message.clone(), FAILURE_BACKOFF);
                let keeping = state
                    .credential
                    .as_ref()
                    .filter(|c| SystemTime::now() < c.usable_until)
                    .map(|c| humantime::format_rfc3339_seconds(c.expires_at).to_string());
                tracing::warn!(
                    error = %message,
                    failures = state.failures.count(),
                    retry_in_seconds = wait.as_secs(),
                    still_using_until = keeping.as_deref().unwrap_or("none held"),
                    "cannot get a temporary credential from the metadata service"
                );
                Err(message)
            }
        }
    }

    /// The session token, then the security key, with the SDK's one retry after a 401.
    async fn fetch_credential(&self, deadline: Instant) -> Result<Temporary, FetchError> {
        let session = self.session_token(deadline).await?;
        let answer = self.security_key(session.as_ref(), deadline).await?;
        let answer = if answer.status == 401 && !mentions_no_agency(&answer.body) {
            tracing::debug!("the metadata service refused the session token; getting a new one");
            self.record(&Failure::Status {
                status: 401,
                error_code: None,
            });
            self.state().session = Session::Unknown;
            let session = self.session_token(deadline).await?;
            self.security_key(session.as_ref(), deadline).await?
        } else {
            answer
        };
        if answer.status == 401 && mentions_no_agency(&answer.body) {
            self.record(&Failure::Status {
                status: 401,
                error_code: None,
            });
            return Err(format!(
                "the metadata service answered 401 \"{NO_AGENCY}\": this ECS (or CCE node) has no agency; attach one with CodeArts Repo read access"
            ));
        }
        if !(200..300).contains(&answer.status) {
            return Err(self.status_error("securitykey", &answer));
        }
        let now = SystemTime::now();
        let credential = parse_credential(&answer.body).inspect_err(|_| {
            self.record(&Failure::InvalidBody);
        })?;
        if credential.expires_at <= now + MIN_LIFE {
            self.record(&Failure::InvalidBody);
            return Err(format!(
                "the metadata service handed out a credential that expires at {}, now or in the past (check the clock)",
                humantime::format_rfc3339_seconds(credential.expires_at)
            ));
        }
        Ok(Temporary {
            renew_at: renew_at(now, credential.expires_at),
            usable_until: credential.expires_at - expiry_safety(now, credential.expires_at),
            keys: Arc::new(credential.keys),
            expires_at: credential.expires_at,
        })
    }

    /// A session token to send, asking for one when needed; `None` when the service hands out
    /// none.
    async fn session_token(&self, deadline: Instant) -> Result<Option<Secret>, FetchError> {
        match &self.state().session {
            Session::Token { value, obtained }
                if obtained.elapsed() < SESSION_TTL - SESSION_MARGIN =>
            {
                return Ok(Some(value.clone()))
            }
            Session::Unsupported { checked } if checked.elapsed() < SESSION_RECHECK => {
                return Ok(None)
            }
            _ => {}
        }
        let request = self
            .transport
            .http()
            .put(self.token_url.clone())
            .header(
                "x-metadata-token-ttl-seconds",
                HeaderValue::from(SESSION_TTL.as_secs()),
            )
            .build()
            .map_err(|_| "cannot build the metadata request".to_owned())?;
        let answer = self.send(request, deadline).await?;
        let session = match answer.status {
            200..=299 => {
                let text = String::from_utf8_lossy(&answer.body).trim().to_owned();
                if text.is_empty() {
                    // As the SDK: an empty token is no token.
                    tracing::debug!(
                        "the metadata service answered an empty session token; going on without"
                    );
                    Session::Unsupported {
                        checked: Instant::now(),
                    }
                } else if HeaderValue::from_str(&text).is_err() {
                    self.record(&Failure::InvalidBody);
                    return Err(
                        "the metadata service answered a session token that cannot be sent back in a header"
                            .to_owned(),
                    );
                } else {
                    Session::Token {
                        value: Secret::new(text),
                        obtained: Instant::now(),
                    }
                }
            }
            404 | 405 | 503 => {
                // The answer of a service without session tokens, not a failure: not counted
                // as an error (an alert on metadata errors must not fire for it).
                tracing::debug!(
                    status = answer.status,
                    "the metadata service hands out no session tokens; going on without"
                );
                Session::Unsupported {
                    checked: Instant::now(),
                }
            }
            _ => return Err(self.status_error("session token", &answer)),
        };
        let token = match &session {
            Session::Token { value, .. } => Some(value.clone()),
            _ => None,
        };
        self.state().session = session;
        Ok(token)
    }

    async fn security_key(
        &self,
        session: Option<&Secret>,
        deadline: Instant,
    ) -> Result<RawAnswer, FetchError> {
        let mut builder = self.transport.http().get(self.security_key_url.clone());
        if let Some(token) = session {
            let mut value = HeaderValue::from_str(token.expose())
                .map_err(|_| "the session token is not valid in a header".to_owned())?;
            value.set_sensitive(true);
            builder = builder.header("x-metadata-token", value);
        }
        let request = builder
            .build()
            .map_err(|_| "cannot build the metadata request".to_owned())?;
        self.send(request, deadline).await
    }

    /// Sends one metadata request, bounded by [`REQUEST_TIMEOUT`] and `deadline`.
    async fn send(
        &self,
        mut request: reqwest::Request,
        deadline: Instant,
    ) -> Result<RawAnswer, FetchError> {
        let deadline = deadline.min(Instant::now() + REQUEST_TIMEOUT);
        *request.timeout_mut() = Some(deadline.saturating_duration_since(Instant::now()));
        let what = request.url().path().to_owned();
        self.transport
            .send(Endpoint::EcsMetadata, request, deadline)
            .await
            .map_err(|failure| {
                format!(
                    "the metadata service at {} did not answer {what}: {}",
                    self.security_key_url.origin().ascii_serialization(),
                    classify(&failure)
                )
            })
    }

    fn record(&self, failure: &Failure) {
        self.transport.record(Endpoint::EcsMetadata, failure);
    }

    /// Counts an unexpected status and describes it (the body's first line, bounded: the
    /// service answers plain text).
    fn status_error(&self, what: &str, answer: &RawAnswer) -> FetchError {
        self.record(&Failure::Status {
            status: answer.status,
            error_code: None,
        });
        let text = String::from_utf8_lossy(&answer.body);
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        format!(
            "the metadata service answered {} to the {what} request: {}",
            answer.status,
            &line[..line.floor_char_boundary(120)]
        )
    }
}

fn mentions_no_agency(body: &[u8]) -> bool {
    String::from_utf8_lossy(body).contains(NO_AGENCY)
}

struct Parsed {
    keys: Keys,
    expires_at: SystemTime,
}

/// Reads a `securitykey` answer as the SDK's `StsAccessor._process_credential` does: the object
/// under `credential` (or `credentials`, or the top level), each field under any of its names.
/// The error never quotes the body: it holds the secret key.
fn parse_credential(body: &[u8]) -> Result<Parsed, FetchError> {
    let invalid = |why: &str| format!("the metadata service answered a securitykey that {why}");
    let value: Value = serde_json::from_slice(body).map_err(|_| invalid("is not JSON"))?;
    let object = value
        .get("credential")
        .or_else(|| value.get("credentials"))
        .unwrap_or(&value);
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| object.get(*name).and_then(Value::as_str))
            .map(str::trim)
            .filter(|text| !text.is_empty())
    };
    let access = field(&["access", "accessKeyId", "access_key_id"])
        .ok_or_else(|| invalid("has no access key"))?;
    let secret = field(&["secret", "secretAccessKey", "secret_access_key"])
        .ok_or_else(|| invalid("has no secret key"))?;
    let token = field(&["securitytoken", "securityToken", "security_token"])
        .ok_or_else(|| invalid("has no security token"))?;
    let expires_at =
        field(&["expires_at", "expiration"]).ok_or_else(|| invalid("has no expires_at"))?;
    let expires_at = parse_time(expires_at)
        .map(SystemTime::from)
        .ok_or_else(|| invalid("has an expires_at that is not an RFC 3339 time"))?;
    Ok(Parsed {
        keys: Keys {
            access: Secret::new(access),
            secret: Secret::new(secret),
            security_token: Some(Secret::new(token)),
        },
        expires_at,
    })
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

    #[test]
    fn reads_the_sdk_field_names_and_their_alternatives() {
        let parsed = parse_credential(
            br#"{"credential": {"access": "AK", "secret": "SK", "securitytoken": "ST",
                "expires_at": "2030-01-02T03:04:05.000000Z"}}"#,
        )
        .unwrap();
        assert_eq!(parsed.keys.access.expose(), "AK");
        assert_eq!(parsed.keys.secret.expose(), "SK");
        assert_eq!(
            parsed.keys.security_token.as_ref().map(Secret::expose),
            Some("ST")
        );
        let other = parse_credential(
            br#"{"credentials": {"accessKeyId": "AK", "secretAccessKey": "SK",
                "securityToken": "ST", "expiration": "2030-01-02T03:04:05Z"}}"#,
        )
        .unwrap();
        assert_eq!(other.expires_at, parsed.expires_at);
        let flat = parse_credential(
            br#"{"access_key_id": "AK", "secret_access_key": "SK", "security_token": "ST",
                "expires_at": "2030-01-02T03:04:05Z"}"#,
        )
        .unwrap();
        assert_eq!(flat.keys, parsed.keys);
    }

    #[test]
    fn a_broken_answer_is_refused_without_quoting_it() {
        for (body, why) in [
            (&b"<html>metadata</html>"[..], "is not JSON"),
            (br#"{"credential": {"secret": "SK-SECRET"}}"#, "no access key"),
            (
                br#"{"credential": {"access": "AK", "secret": "SK-SECRET", "securitytoken": "ST"}}"#,
                "no expires_at",
            ),
            (
                br#"{"credential": {"access": "AK", "secret": "SK-SECRET", "securitytoken": "ST", "expires_at": "soon"}}"#,
                "not an RFC 3339 time",
            ),
        ] {
            let err = parse_credential(body).err().unwrap();
            assert!(err.contains(why), "{err}");
            assert!(!err.contains("SK-SECRET"), "{err}");
        }
    }
}
