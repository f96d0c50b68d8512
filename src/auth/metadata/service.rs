//! The metadata service as an HTTP peer: its URLs, one request bounded as the official SDK
//! bounds it, and how a failure is counted and described. Both jobs of [`super`] — session
//! tokens and credentials — ask it through here.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use url::Url;

use crate::upstream::{classify, Endpoint, Failure, RawAnswer, Transport};

/// One metadata request, as the SDK's `(3, 3)` connect and read timeouts.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a fetch failed: the message for logs and `/readyz`.
pub(crate) type FetchError = String;

/// The metadata service at one endpoint.
pub(crate) struct MetadataService {
    endpoint: Url,
    transport: Arc<Transport>,
}

impl MetadataService {
    pub(crate) fn new(endpoint: &Url, transport: Arc<Transport>) -> Self {
        Self {
            endpoint: endpoint.clone(),
            transport,
        }
    }

    /// `path` under the endpoint (which may itself have a path).
    pub(crate) fn url(&self, path: &str) -> Url {
        let mut url = self.endpoint.clone();
        url.set_path(&format!(
            "{}{path}",
            self.endpoint.path().trim_end_matches('/')
        ));
        url
    }

    /// The endpoint's origin, for messages.
    pub(crate) fn origin(&self) -> String {
        self.endpoint.origin().ascii_serialization()
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        self.transport.http()
    }

    /// Sends one metadata request, bounded by [`REQUEST_TIMEOUT`] and `deadline`.
    pub(crate) async fn send(
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
                    self.origin(),
                    classify(&failure)
                )
            })
    }

    /// Counts a failed answer in the request metrics.
    pub(crate) fn record(&self, failure: &Failure) {
        self.transport.record(Endpoint::EcsMetadata, failure);
    }

    /// Counts an unexpected status and describes it (the body's first line, bounded: the
    /// service answers plain text).
    pub(crate) fn status_error(&self, what: &str, answer: &RawAnswer) -> FetchError {
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
