//! The CodeArts Repo API: building requests, retrying what may recover, and turning answers
//! into a [`StatisticsStatus`] or an [`ErrorClass`].
//!
//! It knows nothing of scrapes or metrics families: [`crate::collect`] decides which
//! repositories to ask and when; this module asks one and reports what happened.

mod decode;
pub(crate) mod model;

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use reqwest::header::{HeaderValue, ACCEPT};
use tokio::time::Instant;
use url::Url;

use crate::auth::{Applied, Auth};
use crate::config::RepositoryId;
use crate::upstream::{
    classify, ApiErrorBody, Endpoint, ErrorClass, Failure, RawAnswer, Transport,
};
pub(crate) use model::{LastPushEvent, ListedTimes, RepositorySummary};
pub use model::{StatisticsEvent, StatisticsStatus};

/// The order of a repository listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListOrder {
    /// Oldest first: stable while repositories are added, for walking the whole list.
    Created,
    /// Most recently updated first, for finding what changed since a time.
    RecentlyUpdated,
}

impl ListOrder {
    fn query(self) -> &'static str {
        match self {
            ListOrder::Created => "order_by=created_at&sort=asc",
            ListOrder::RecentlyUpdated => "order_by=updated_at&sort=desc",
        }
    }
}

/// What asking the API for one repository produced: its answer `T` or the class of the failure.
#[derive(Debug, Clone)]
pub struct Fetched<T> {
    pub result: Result<T, ErrorClass>,
    /// Status of the last HTTP answer; 0 when none came.
    pub http_status: u16,
    /// Time from the first attempt to the final answer, retries included.
    pub duration: Duration,
    /// The gateway's `error_code` of a failed answer (bounded), for the log line of a change of
    /// state; `None` on success or when the body had none.
    pub error_code: Option<String>,
    /// The `X-Request-Id` of a failed answer (bounded), which Huawei support asks for; `None` on
    /// success or when no answer came.
    pub request_id: Option<String>,
}

/// The longest `error_code` and request id kept: both are short identifiers, but they come
/// from outside and end up in logs.
const MAX_ID_LEN: usize = 128;

fn bounded_id(text: Option<String>) -> Option<String> {
    text.map(|mut text| {
        text.truncate(text.floor_char_boundary(MAX_ID_LEN));
        text
    })
}

/// Retry pacing. Full jitter spreads retries of many repositories apart; throttling waits at
/// least `THROTTLED_FLOOR` because the gateway's own advice is a pause of 2–5 s.
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const THROTTLED_BASE: Duration = Duration::from_secs(2);
const THROTTLED_FLOOR: Duration = Duration::from_secs(1);
const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// Talks to one CodeArts Repo endpoint with one credential.
pub struct CodeArtsClient {
    transport: Arc<Transport>,
    auth: Arc<Auth>,
    /// The endpoint, parsed once; each request only sets its path (and query).
    base: Url,
    /// The endpoint's own path prefix without a trailing slash (usually empty).
    base_path: String,
    request_timeout: Duration,
    retries: u32,
}

impl CodeArtsClient {
    pub fn new(
        transport: Arc<Transport>,
        auth: Arc<Auth>,
        endpoint: &Url,
        request_timeout: Duration,
        retries: u32,
    ) -> Self {
        Self {
            transport,
            auth,
            base: endpoint.clone(),
            base_path: endpoint.path().trim_end_matches('/').to_owned(),
            request_timeout,
            retries,
        }
    }

    /// Asks for the statistics status of `id`. Each attempt ends by `deadline`; a retry is only
    /// made when its backoff ends before `retry_until` (the deadline of the scrape waiting for
    /// it — a fan-out that runs on after that deadline to fill the cache does not retry).
    /// Never fails as a whole: a failure is a class in the result.
    pub async fn statistics_status(
        &self,
        id: RepositoryId,
        deadline: Instant,
        retry_until: Instant,
    ) -> Fetched<StatisticsStatus> {
        let path = format!("/v4/repositories/{id}/repository/statistics-status");
        self.fetch(
            Endpoint::StatisticsStatus,
            id,
            &path,
            (deadline, retry_until),
            StatisticsStatus::from_body,
        )
        .await
    }

    /// Asks for the last push to `id` (`GET /v4/repositories/{id}/last-push-event`), with the
    /// same deadlines and retries as [`CodeArtsClient::statistics_status`].
    pub async fn last_push(
        &self,
        id: RepositoryId,
        deadline: Instant,
        retry_until: Instant,
    ) -> Fetched<LastPushEvent> {
        let path = format!("/v4/repositories/{id}/last-push-event");
        self.fetch(
            Endpoint::LastPushEvent,
            id,
            &path,
            (deadline, retry_until),
            LastPushEvent::from_body,
        )
        .await
    }

    /// GETs `path` for repository `id` and reports what came of it; a failure is logged at
    /// debug level with everything support would ask for.
    async fn fetch<T>(
        &self,
        endpoint: Endpoint,
        id: RepositoryId,
        path: &str,
        (deadline, retry_until): (Instant, Instant),
        parse: impl Fn(&[u8]) -> Option<T>,
    ) -> Fetched<T> {
        let url = self.url(path, None);
        let started = Instant::now();
        let answer = self
            .get_with_retries(endpoint, &url, deadline, retry_until, parse)
            .await;
        let (result, http_status, error_code, request_id) = match answer {
            Ok((value, http_status)) => (Ok(value), http_status, None, None),
            Err(report) => {
                tracing::debug!(
                    repository_id = %id,
                    endpoint = endpoint.as_label(),
                    class = %report.class,
                    http_status = report.http_status,
                    error_code = report.error.error_code.as_deref().unwrap_or(""),
                    error_msg = report.error.error_msg.as_deref().unwrap_or(""),
                    request_id = report.request_id.as_deref().unwrap_or(""),
                    "request failed"
                );
                (
                    Err(report.class),
                    report.http_status,
                    bounded_id(report.error.error_code),
                    bounded_id(report.request_id),
                )
            }
        };
        Fetched {
            result,
            http_status,
            duration: started.elapsed(),
            error_code,
            request_id,
        }
    }

    /// The endpoint with `path` appended and `query` set.
    fn url(&self, path: &str, query: Option<&str>) -> Url {
        let mut url = self.base.clone();
        url.set_path(&format!("{}{path}", self.base_path));
        url.set_query(query);
        url
    }

    /// One page of the repositories the credential can see (`GET /v4/user/repositories`) in
    /// `order`; archived ones only (`archived=true`) or none of them (the API's default). The
    /// error is one line for logs and the landing page.
    pub async fn user_repositories(
        &self,
        offset: usize,
        limit: usize,
        order: ListOrder,
        archived: bool,
        deadline: Instant,
    ) -> Result<Vec<RepositorySummary>, String> {
        let mut query = format!("offset={offset}&limit={limit}&{}", order.query());
        if archived {
            query.push_str("&archived=true");
        }
        let url = self.url("/v4/user/repositories", Some(&query));
        self.get_with_retries(
            Endpoint::UserRepositories,
            &url,
            deadline,
            deadline,
            RepositorySummary::page_from_body,
        )
        .await
        .map(|(page, _)| page)
        .map_err(|report| {
            format!(
                "listing {}repositories (offset {offset}) failed: {} (HTTP {}{}{})",
                if archived { "archived " } else { "" },
                report.class,
                report.http_status,
                report
                    .error
                    .error_code
                    .as_deref()
                    .map(|c| format!(", {c}"))
                    .unwrap_or_default(),
                report
                    .request_id
                    .as_deref()
                    .map(|r| format!(", request id {r}"))
                    .unwrap_or_default(),
            )
        })
    }

    /// GETs `url`, parses a 2xx body with `parse`, and retries what may recover while the
    /// backoff ends before `retry_until`.
    pub(crate) async fn get_with_retries<T>(
        &self,
        endpoint: Endpoint,
        url: &Url,
        deadline: Instant,
        retry_until: Instant,
        parse: impl Fn(&[u8]) -> Option<T>,
    ) -> Result<(T, u16), FailureReport> {
        let mut retries_left = self.retries;
        let mut attempt = 0u32;
        let mut renewed = false;
        loop {
            let report = match self.attempt(endpoint, url, deadline, &parse).await {
                Ok(ok) => {
                    if renewed {
                        self.auth.renewal_worked();
                    }
                    return Ok(ok);
                }
                Err(report) => report,
            };
            if report.class == ErrorClass::Unauthorized && !renewed {
                if let Some(applied) = &report.applied {
                    if self.auth.rejected(applied, &report.error) {
                        renewed = true;
                        continue;
                    }
                }
            }
            if retries_left == 0 || !report.class.is_retryable() {
                return Err(report);
            }
            let wait = backoff(attempt, report.class, report.retry_after);
            let resume = Instant::now() + wait;
            if resume >= deadline.min(retry_until) {
                return Err(report);
            }
            if report.class == ErrorClass::Throttled {
                self.transport.limiter().pause_until(resume);
            }
            self.transport.metrics(endpoint).retries.inc();
            tokio::time::sleep_until(resume).await;
            retries_left -= 1;
            attempt += 1;
        }
    }

    async fn attempt<T>(
        &self,
        endpoint: Endpoint,
        url: &Url,
        deadline: Instant,
        parse: &impl Fn(&[u8]) -> Option<T>,
    ) -> Result<(T, u16), FailureReport> {
        let timeout = self
            .request_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let mut request = self
            .transport
            .http()
            .get(url.clone())
            .timeout(timeout)
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .build()
            .map_err(|_| FailureReport::new(Failure::InvalidBody))?;
        let applied = match self.auth.apply(&mut request, deadline).await {
            Ok(applied) => applied,
            Err(err) => {
                tracing::debug!(error = %err, "no credential for the request");
                return Err(FailureReport::new(Failure::NoCredential));
            }
        };
        let answer = self
            .transport
            .send(endpoint, request, deadline)
            .await
            .map_err(FailureReport::new)?;
        let http_status = answer.status;
        if (200..300).contains(&http_status) {
            if let Some(value) = parse(&answer.body) {
                return Ok((value, http_status));
            }
            let failure = Failure::InvalidBody;
            self.transport.record(endpoint, &failure);
            return Err(FailureReport::from_answer(failure, &answer, applied));
        }
        let error = ApiErrorBody::parse(&answer.body);
        let failure = Failure::Status {
            status: http_status,
            error_code: error.error_code.clone(),
        };
        self.transport.record(endpoint, &failure);
        let mut report = FailureReport::from_answer(failure, &answer, applied);
        report.error = error;
        Err(report)
    }
}

/// Everything known about a failed attempt, for the retry decision and the log line.
#[derive(Debug)]
pub(crate) struct FailureReport {
    pub class: ErrorClass,
    pub http_status: u16,
    pub error: ApiErrorBody,
    pub request_id: Option<String>,
    pub retry_after: Option<Duration>,
    applied: Option<Applied>,
}

impl FailureReport {
    fn new(failure: Failure) -> Self {
        Self {
            class: classify(&failure),
            http_status: failure.http_status(),
            error: ApiErrorBody::default(),
            request_id: None,
            retry_after: None,
            applied: None,
        }
    }

    fn from_answer(failure: Failure, answer: &RawAnswer, applied: Applied) -> Self {
        Self {
            class: classify(&failure),
            http_status: answer.status,
            error: ApiErrorBody::default(),
            request_id: answer.request_id().map(str::to_owned),
            retry_after: answer.retry_after(),
            applied: Some(applied),
        }
    }
}

/// How long to wait before retry number `attempt + 1`: `Retry-After` when the server gave one,
/// else exponential backoff with full jitter.
pub(crate) fn backoff(attempt: u32, class: ErrorClass, retry_after: Option<Duration>) -> Duration {
    if let Some(wait) = retry_after {
        return wait.min(BACKOFF_CAP);
    }
    let base = if class == ErrorClass::Throttled {
        THROTTLED_BASE
    } else {
        BACKOFF_BASE
    };
    let ceiling = base.saturating_mul(1 << attempt.min(16)).min(BACKOFF_CAP);
    let jittered = ceiling.mul_f64(rand::rng().random::<f64>());
    if class == ErrorClass::Throttled {
        jittered.max(THROTTLED_FLOOR)
    } else {
        jittered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_from_the_answer_are_bounded() {
        assert_eq!(
            bounded_id(Some("APIG.0308".to_owned())).as_deref(),
            Some("APIG.0308")
        );
        let long = "é".repeat(100);
        let cut = bounded_id(Some(long)).unwrap();
        assert!(cut.len() <= MAX_ID_LEN && cut.chars().all(|c| c == 'é'));
        assert_eq!(bounded_id(None), None);
    }

    #[test]
    fn retry_after_wins_over_backoff() {
        let wait = backoff(0, ErrorClass::Throttled, Some(Duration::from_secs(3)));
        assert_eq!(wait, Duration::from_secs(3));
    }

    #[test]
    fn backoff_grows_and_stays_within_its_ceiling() {
        for attempt in 0..6 {
            let wait = backoff(attempt, ErrorClass::ServerError, None);
            assert!(wait <= BACKOFF_BASE * (1 << attempt), "{attempt}: {wait:?}");
        }
        assert!(backoff(40, ErrorClass::ServerError, None) <= BACKOFF_CAP);
    }

    #[test]
    fn throttled_backoff_never_below_the_floor() {
        for attempt in 0..4 {
            assert!(backoff(attempt, ErrorClass::Throttled, None) >= THROTTLED_FLOOR);
        }
    }
}
