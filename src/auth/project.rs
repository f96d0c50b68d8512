//! The `X-Project-Id` of signed requests: none, the configured `project_id`, or the id of a
//! project name looked up once through IAM `GET {iam}/v3/projects?name=` (KeystoneListProjects),
//! signed with the same credentials, as the official SDK's `BasicCredentials` does.
//!
//! The id found is kept for the life of the credentials. A failed lookup backs off — 1 min
//! doubling to 30 min when IAM answered (a name it does not know, several projects of that name,
//! a refused signature: five bad signatures lock the key), 5 s doubling to 5 min when it did not
//! (timeout, connection, 5xx) — and until it succeeds every request fails without being sent,
//! with the reason in `/readyz` and one log line per attempt.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;
use url::Url;

use super::aksk::{sign, Keys};
use super::backoff::Failures;
use super::error::AuthError;
use crate::config::ProjectIdSource;
use crate::upstream::{classify, ApiErrorBody, Endpoint, Failure, Transport};

/// Backoff once IAM has answered: its answer will not change by itself soon.
const ANSWERED_BACKOFF: (Duration, Duration) = (Duration::from_secs(60), Duration::from_secs(1800));
/// Backoff when IAM could not be reached or failed.
const TRANSIENT_BACKOFF: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(300));
/// How long one lookup may take at most.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the `X-Project-Id` comes from.
pub(crate) enum ProjectId {
    None,
    Fixed(Arc<str>),
    Lookup(Box<ProjectLookup>),
}

impl ProjectId {
    /// `section` is the config section of the mode (`codearts.auth.aksk`), for messages.
    pub(crate) fn new(source: &ProjectIdSource, section: &str, transport: Arc<Transport>) -> Self {
        match source {
            ProjectIdSource::None => Self::None,
            ProjectIdSource::Id(id) => Self::Fixed(Arc::from(id.as_str())),
            ProjectIdSource::Lookup { name, iam_endpoint } => {
                Self::Lookup(Box::new(ProjectLookup {
                    name: name.clone(),
                    url: projects_url(iam_endpoint, name),
                    key: format!("{section}.project"),
                    transport,
                    found: OnceLock::new(),
                    failures: Mutex::new(Failures::default()),
                    looking: tokio::sync::Mutex::new(()),
                }))
            }
        }
    }

    /// The id to send, looking it up first if needed (signed with `keys`).
    pub(crate) async fn get(
        &self,
        keys: &Keys,
        deadline: Instant,
    ) -> Result<Option<Arc<str>>, AuthError> {
        match self {
            Self::None => Ok(None),
            Self::Fixed(id) => Ok(Some(id.clone())),
            Self::Lookup(lookup) => lookup.get(keys, deadline).await.map(Some),
        }
    }

    /// `Ok` once an id is known (or none is needed); the reason otherwise.
    pub(crate) fn readiness(&self) -> Result<(), AuthError> {
        match self {
            Self::None | Self::Fixed(_) => Ok(()),
            Self::Lookup(lookup) => lookup.readiness(),
        }
    }
}

/// `{iam}/v3/projects?name={name}`, the name query-encoded.
fn projects_url(iam_endpoint: &Url, name: &str) -> Url {
    let mut url = iam_endpoint.clone();
    let path = format!("{}/v3/projects", iam_endpoint.path().trim_end_matches('/'));
    url.set_path(&path);
    url.set_query(None);
    url.query_pairs_mut().append_pair("name", name);
    url
}

pub(crate) struct ProjectLookup {
    name: String,
    url: Url,
    /// The config key naming the project, for messages.
    key: String,
    transport: Arc<Transport>,
    found: OnceLock<Arc<str>>,
    failures: Mutex<Failures>,
    /// Held while a lookup is in flight: one request, however many callers.
    looking: tokio::sync::Mutex<()>,
}

impl ProjectLookup {
    fn failures(&self) -> std::sync::MutexGuard<'_, Failures> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn get(&self, keys: &Keys, deadline: Instant) -> Result<Arc<str>, AuthError> {
        if let Some(id) = self.found.get() {
            return Ok(id.clone());
        }
        let Ok(_guard) = tokio::time::timeout_at(deadline, self.looking.lock()).await else {
            return Err(AuthError::StillFetching(format!(
                "the project id of {:?} is still being looked up",
                self.name
            )));
        };
        if let Some(id) = self.found.get() {
            return Ok(id.clone());
        }
        if !self.failures().may_try() {
            return Err(AuthError::Unavailable(self.reason()));
        }
        match self.lookup(keys, deadline).await {
            Ok(id) => {
                tracing::info!(project = %self.name, iam = %self.url.origin().ascii_serialization(), "found the project id through IAM");
                self.failures().succeeded();
                let id = self.found.get_or_init(|| Arc::from(id.as_str()));
                Ok(id.clone())
            }
            Err((message, answered)) => {
                let backoff = if answered {
                    ANSWERED_BACKOFF
                } else {
                    TRANSIENT_BACKOFF
                };
                let mut failures = self.failures();
                let wait = failures.failed(message.clone(), backoff);
                tracing::warn!(
                    key = %self.key,
                    project = %self.name,
                    error = %message,
                    failures = failures.count(),
                    retry_in_seconds = wait.as_secs(),
                    "cannot find the project id; requests fail until it is found"
                );
                Err(AuthError::Unavailable(format!(
                    "no project id for {:?}: {message}",
                    self.name
                )))
            }
        }
    }

    fn reason(&self) -> String {
        format!(
            "no project id for {} {:?}: the IAM lookup {}",
            self.key,
            self.name,
            self.failures().reason()
        )
    }

    fn readiness(&self) -> Result<(), AuthError> {
        if self.found.get().is_some() {
            return Ok(());
        }
        if self.failures().last_error().is_some() {
            return Err(AuthError::Unavailable(self.reason()));
        }
        Err(AuthError::NotYet(format!(
            "the project id of {:?} ({}) has not been looked up yet",
            self.name, self.key
        )))
    }

    /// One lookup. Errors carry whether IAM answered (the longer backoff).
    async fn lookup(&self, keys: &Keys, deadline: Instant) -> Result<String, (String, bool)> {
        let deadline = deadline.min(Instant::now() + LOOKUP_TIMEOUT);
        let mut request = self
            .transport
            .http()
            .get(self.url.clone())
            .timeout(deadline.saturating_duration_since(Instant::now()))
            .build()
            .map_err(|_| ("cannot build the IAM request".to_owned(), false))?;
        sign(&mut request, keys, None, time::OffsetDateTime::now_utc())
            .map_err(|err| (err.to_string(), false))?;
        let answer = self
            .transport
            .send(Endpoint::IamProjects, request, deadline)
            .await
            .map_err(|failure| (format!("IAM request failed: {}", classify(&failure)), false))?;
        if !(200..300).contains(&answer.status) {
            let error = ApiErrorBody::parse(&answer.body);
            self.transport.record(
                Endpoint::IamProjects,
                &Failure::Status {
                    status: answer.status,
                    error_code: error.error_code.clone(),
                },
            );
            let answered = (400..500).contains(&answer.status) && answer.status != 429;
            return Err((
                format!(
                    "IAM answered {} ({}: {}){}",
                    answer.status,
                    error.error_code.as_deref().unwrap_or("no code"),
                    error.error_msg.as_deref().unwrap_or("no message"),
                    if matches!(answer.status, 401 | 403) {
                        "; the credentials need IAM's iam:projects:listProjects permission"
                    } else {
                        ""
                    }
                ),
                answered,
            ));
        }
        #[derive(Deserialize)]
        struct Body {
            projects: Vec<Project>,
        }
        #[derive(Deserialize)]
        struct Project {
            id: String,
        }
        let Ok(body) = serde_json::from_slice::<Body>(&answer.body) else {
            self.transport
                .record(Endpoint::IamProjects, &Failure::InvalidBody);
            return Err((
                format!("IAM answered {} without a list of projects", answer.status),
                false,
            ));
        };
        match body.projects.as_slice() {
            [] => Err((
                format!(
                    "IAM knows no project named {:?}: set {} to a project of the account (or set project_id)",
                    self.name, self.key
                ),
                true,
            )),
            [project] if valid_id(&project.id) => Ok(project.id.clone()),
            [_] => {
                self.transport
                    .record(Endpoint::IamProjects, &Failure::InvalidBody);
                Err(("IAM answered a project id that is not one".to_owned(), false))
            }
            several => Err((
                format!(
                    "IAM lists {} projects named {:?} ({}): set project_id to one of them",
                    several.len(),
                    self.name,
                    several
                        .iter()
                        .map(|p| p.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                true,
            )),
        }
    }
}

/// A project id fit for a header: letters, digits and `-`, as the config accepts for
/// `project_id`.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lookup_url_encodes_the_name() {
        let iam = Url::parse("https://iam.eu-west-101.myhuaweicloud.eu").unwrap();
        assert_eq!(
            projects_url(&iam, "eu-west-101").as_str(),
            "https://iam.eu-west-101.myhuaweicloud.eu/v3/projects?name=eu-west-101"
        );
        let iam = Url::parse("http://127.0.0.1:8080/base/").unwrap();
        assert_eq!(
            projects_url(&iam, "cn-north-4_dev team").as_str(),
            "http://127.0.0.1:8080/base/v3/projects?name=cn-north-4_dev+team"
        );
    }

    #[test]
    fn project_ids_must_fit_a_header() {
        assert!(valid_id("0123456789abcdef0123456789abcdef"));
        assert!(!valid_id(""));
        assert!(!valid_id("a b"));
        assert!(!valid_id("x\r\ny"));
    }
}
