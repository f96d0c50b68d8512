//! Credentials for upstream requests: a static token, a token file re-read on change, IAM
//! tokens obtained and renewed by the exporter, or AK/SK request signing.
//!
//! [`Auth::apply`] adds the credential to a built request; [`Auth::rejected`] is told about a
//! 401 and says whether one retry with a fresh credential is worth it. Secrets are held as
//! [`Secret`] and never reach a log line or an error message.

mod aksk;
mod error;
mod iam;
mod metrics;
mod secret_file;

use std::sync::Arc;
use std::time::SystemTime;

use reqwest::header::HeaderValue;
use tokio::time::Instant;

use crate::config::{AuthConfig, Secret};
use crate::upstream::{ApiErrorBody, Transport};
use aksk::AkSkSigner;
pub use error::AuthError;
use iam::IamTokens;
pub use metrics::AuthMetrics;
use metrics::Expiry;
use secret_file::{warn_if_world_readable, SecretFile};

/// What was attached to a request, so a 401 can be matched to the credential that caused it.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    token: Option<Secret>,
}

/// The configured way to authenticate.
pub struct Auth {
    mode: Mode,
    /// When the credential in use expires, for modes whose credentials do.
    expiry: Arc<Expiry>,
}

enum Mode {
    Static(Secret),
    File(SecretFile),
    Iam(IamTokens),
    AkSk(AkSkSigner),
}

/// IAM/gateway codes of a 401 that mean "this token expired or is not valid" (reference §4a).
const TOKEN_DEAD_CODES: [&str; 3] = ["APIG.0301", "APIGW.0301", "DEV.00000003"];

impl Auth {
    /// Sets up the configured mode and makes it the one [`AuthMetrics`] shows. Nothing is
    /// fetched yet; IAM tokens are obtained on first use (or [`Auth::warm_up`]).
    pub fn new(config: &AuthConfig, transport: Arc<Transport>, metrics: &AuthMetrics) -> Self {
        let expiry = Arc::new(Expiry::default());
        metrics.show(expiry.clone());
        let mode = match config {
            AuthConfig::Token(token) => Mode::Static(token.clone()),
            AuthConfig::TokenFile(path) => {
                warn_if_world_readable(path);
                Mode::File(SecretFile::new(path.clone()))
            }
            AuthConfig::Iam(iam) => Mode::Iam(IamTokens::new(iam, transport, expiry.clone())),
            AuthConfig::AkSk(aksk) => Mode::AkSk(AkSkSigner::new(aksk)),
        };
        Self { mode, expiry }
    }

    /// Obtains the first credential ahead of the first scrape (IAM), so `/readyz` turns ready
    /// without waiting for Prometheus.
    pub async fn warm_up(&self) {
        if let Mode::Iam(iam) = &self.mode {
            let _ = iam
                .token(Instant::now() + std::time::Duration::from_secs(30))
                .await;
        }
    }

    /// Adds the credential to `request`.
    pub async fn apply(
        &self,
        request: &mut reqwest::Request,
        deadline: Instant,
    ) -> Result<Applied, AuthError> {
        let token = match &self.mode {
            Mode::Static(token) => token.clone(),
            Mode::File(file) => file.current().map_err(AuthError)?,
            Mode::Iam(iam) => iam.token(deadline).await?,
            Mode::AkSk(signer) => {
                signer.sign(request, time::OffsetDateTime::now_utc())?;
                return Ok(Applied::default());
            }
        };
        let mut value = HeaderValue::from_str(token.expose()).map_err(|_| {
            AuthError("the token contains characters not allowed in a header".into())
        })?;
        value.set_sensitive(true);
        request.headers_mut().insert("x-auth-token", value);
        Ok(Applied { token: Some(token) })
    }

    /// Called on a 401. Returns `true` when a fresh credential is available, so one retry may
    /// help: a renewed IAM token, or a token file that changed since the request was sent.
    /// A signed (AK/SK) request is never retried.
    pub fn rejected(&self, applied: &Applied, error: &ApiErrorBody) -> bool {
        match &self.mode {
            Mode::Static(_) => false,
            Mode::File(file) => match (file.current(), &applied.token) {
                (Ok(current), Some(sent)) => &current != sent,
                _ => false,
            },
            Mode::Iam(iam) => {
                let dead = error
                    .error_code
                    .as_deref()
                    .is_some_and(|code| TOKEN_DEAD_CODES.contains(&code));
                match (&applied.token, dead) {
                    (Some(token), true) => iam.invalidate(token),
                    _ => false,
                }
            }
            Mode::AkSk(signer) => {
                signer.rejected(error.error_msg.as_deref());
                false
            }
        }
    }

    /// `Ok` once a credential exists; the reason otherwise (for `/readyz`).
    pub fn readiness(&self) -> Result<(), String> {
        match &self.mode {
            Mode::Static(_) => Ok(()),
            Mode::File(file) => file.current().map(|_| ()),
            Mode::Iam(iam) => iam.readiness(),
            Mode::AkSk(signer) => signer.readiness(),
        }
    }

    /// When the credential in use expires (an IAM token); `None` for credentials that do not.
    pub fn expiry(&self) -> Option<SystemTime> {
        self.expiry.get()
    }
}
