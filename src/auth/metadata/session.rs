//! The metadata service's session tokens, as the official SDK's `MetadataAccessor` asks for
//! them: `PUT /meta-data/latest/api/token` with `X-Metadata-Token-Ttl-Seconds`, the answer's
//! body sent back as `X-Metadata-Token`. A 404, 405 or 503 means the service hands out none, and
//! requests go on without one (asked again a day later).

use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderValue;
use tokio::time::Instant;
use url::Url;

use super::service::{FetchError, MetadataService};
use crate::config::Secret;
use crate::upstream::Failure;

const TOKEN_PATH: &str = "/meta-data/latest/api/token";
/// The session token's life, as the SDK asks for it (six hours, the most the service gives).
const SESSION_TTL: Duration = Duration::from_secs(6 * 3600);
/// A session token is replaced this long before its TTL ends, saving the 401 round trip.
const SESSION_MARGIN: Duration = Duration::from_secs(10 * 60);
/// After the service said it hands out no session tokens, ask again only after this long (the
/// SDK's `_DEFAULT_CHECK_TOKEN_DURATION_SECONDS`).
const SESSION_RECHECK: Duration = Duration::from_secs(24 * 3600);

/// What is known of the session token.
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

/// The session token of one metadata service.
pub(crate) struct SessionTokens {
    url: Url,
    session: Mutex<Session>,
}

impl SessionTokens {
    pub(crate) fn new(service: &MetadataService) -> Self {
        Self {
            url: service.url(TOKEN_PATH),
            session: Mutex::new(Session::Unknown),
        }
    }

    fn session(&self) -> std::sync::MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops the token held, after the service refused it: the next [`SessionTokens::get`]
    /// asks for a new one.
    pub(crate) fn forget(&self) {
        *self.session() = Session::Unknown;
    }

    /// A session token to send, asking `service` for one when needed; `None` when the service
    /// hands out none.
    pub(crate) async fn get(
        &self,
        service: &MetadataService,
        deadline: Instant,
    ) -> Result<Option<Secret>, FetchError> {
        match &*self.session() {
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
        let request = service
            .http()
            .put(self.url.clone())
            .header(
                "x-metadata-token-ttl-seconds",
                HeaderValue::from(SESSION_TTL.as_secs()),
            )
            .build()
            .map_err(|_| "cannot build the metadata request".to_owned())?;
        let answer = service.send(request, deadline).await?;
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
                    service.record(&Failure::InvalidBody);
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
            _ => return Err(service.status_error("session token", &answer)),
        };
        let token = match &session {
            Session::Token { value, .. } => Some(value.clone()),
            _ => None,
        };
        *self.session() = session;
        Ok(token)
    }
}
