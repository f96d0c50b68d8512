//! The one road to the network: every upstream request (status, discovery, IAM) goes through
//! [`Transport::send`], which waits for the shared rate limit, bounds the time and the body
//! size, and counts the request in [`UpstreamMetrics`].

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::time::Instant;

use super::endpoint::Endpoint;
use super::error_class::{classify, Failure};
use super::metrics::{EndpointMetrics, UpstreamMetrics};
use super::rate_limit::RateLimiter;
use crate::config::{ConfigError, TlsConfig};

/// Upper bound of a body we read; larger answers are `invalid_response`. The documented
/// answers are under 1 KiB, a page of 100 repositories about 100 KiB.
pub(crate) const MAX_BODY_BYTES: usize = 1 << 20;

/// An HTTP answer of any status, with its body read (up to the cap).
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl RawAnswer {
    /// `X-Request-Id`, which Huawei support asks for.
    pub fn request_id(&self) -> Option<&str> {
        self.headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
    }

    /// `Retry-After` in seconds, when present and sane.
    pub fn retry_after(&self) -> Option<Duration> {
        let text = self.headers.get("retry-after")?.to_str().ok()?;
        let seconds: f64 = text.trim().parse().ok()?;
        (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(3600.0)))
    }
}

/// The shared HTTP client: one connection pool, one rate limit, one set of counters.
pub struct Transport {
    http: reqwest::Client,
    limiter: RateLimiter,
    metrics: Arc<UpstreamMetrics>,
}

impl Transport {
    /// Builds the client. Redirects are never followed: a redirect could carry `X-Auth-Token`
    /// or a signature to another host, and CodeArts does not redirect API calls.
    pub fn new(
        tls: &TlsConfig,
        pool_size: usize,
        rate_limit: Option<f64>,
        metrics: Arc<UpstreamMetrics>,
    ) -> Result<Self, ConfigError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "codearts-repo-exporter/",
                env!("CARGO_PKG_VERSION")
            ))
            .tcp_nodelay(true)
            .pool_max_idle_per_host(pool_size)
            .pool_idle_timeout(Duration::from_secs(90))
            .connect_timeout(Duration::from_secs(10));
        if let Some(path) = &tls.ca_file {
            let pem = std::fs::read(path).map_err(|err| ConfigError::Invalid {
                key: "codearts.tls.ca_file".into(),
                message: format!("cannot read {}: {err}", path.display()),
            })?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|err| {
                ConfigError::Invalid {
                    key: "codearts.tls.ca_file".into(),
                    message: format!("{} is not a PEM certificate bundle: {err}", path.display()),
                }
            })?;
            if certificates.is_empty() {
                return Err(ConfigError::Invalid {
                    key: "codearts.tls.ca_file".into(),
                    message: format!("{} holds no certificate", path.display()),
                });
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        if tls.insecure_skip_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http = builder.build().map_err(|err| ConfigError::Invalid {
            key: "codearts.tls".into(),
            message: format!("cannot build the HTTP client: {err}"),
        })?;
        Ok(Self {
            http,
            limiter: RateLimiter::new(rate_limit),
            metrics,
        })
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// The request metrics of `endpoint`.
    pub fn metrics(&self, endpoint: Endpoint) -> &EndpointMetrics {
        self.metrics.endpoint(endpoint)
    }

    /// Sends one request after waiting for the rate limit (for the endpoints that share it,
    /// [`Endpoint::is_rate_limited`]), and reads its body.
    ///
    /// The request ends at `deadline` at the latest (`Failure::Timeout`); a request whose rate
    /// limit slot would come after the deadline is not sent (and not counted). Transport
    /// failures are counted here; any HTTP status is an `Ok` answer, which the caller judges and
    /// counts with [`Transport::record`].
    pub async fn send(
        &self,
        endpoint: Endpoint,
        request: reqwest::Request,
        deadline: Instant,
    ) -> Result<RawAnswer, Failure> {
        if endpoint.is_rate_limited() && !self.limiter.acquire(deadline).await {
            return Err(Failure::Timeout);
        }
        let metrics = self.metrics(endpoint);
        metrics.requests.inc();
        metrics.in_flight.inc();
        let started = Instant::now();
        let result = tokio::time::timeout_at(deadline, self.exchange(request)).await;
        metrics.in_flight.dec();
        metrics.duration.observe(started.elapsed().as_secs_f64());
        let result = result.unwrap_or(Err(Failure::Timeout));
        if let Err(failure) = &result {
            self.record(endpoint, failure);
        }
        result
    }

    /// Counts a failed attempt under its class.
    pub fn record(&self, endpoint: Endpoint, failure: &Failure) {
        self.metrics(endpoint).errors(classify(failure)).inc();
    }

    async fn exchange(&self, request: reqwest::Request) -> Result<RawAnswer, Failure> {
        let mut response = self
            .http
            .execute(request)
            .await
            .map_err(transport_failure)?;
        let status = response.status().as_u16();
        if response
            .content_length()
            .is_some_and(|length| length > MAX_BODY_BYTES as u64)
        {
            return Err(Failure::TooLarge { status });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_failure)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(Failure::TooLarge { status });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(RawAnswer {
            status,
            headers: std::mem::take(response.headers_mut()),
            body,
        })
    }
}

fn transport_failure(err: reqwest::Error) -> Failure {
    if err.is_timeout() {
        Failure::Timeout
    } else {
        Failure::Connection
    }
}
