//! Credentials for upstream requests: a static token, a token file re-read on change, IAM
//! tokens obtained and renewed by the exporter, or AK/SK request signing.
//!
//! [`Auth::apply`] adds the credential to a built request; [`Auth::rejected`] is told about a
//! 401 and says whether one retry with a fresh credential is worth it. Secrets are held as
//! [`Secret`] and never reach a log line or an error message.

mod aksk;
mod iam;
mod secret_file;

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use reqwest::header::HeaderValue;
use tokio::time::Instant;

use crate::client::model::ApiErrorBody;
use crate::client::transport::Transport;
use crate::config::{AuthConfig, Secret};
use aksk::AkSkSigner;
use iam::IamTokens;
use secret_file::SecretFile;

/// Why no credential could be attached. The text names files and causes, never secret values.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

/// What was attached to a request, so a 401 can be matched to the credential that caused it.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    token: Option<Secret>,
}

/// The configured way to authenticate.
pub struct Auth {
    mode: Mode,
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
    /// Sets up the configured mode. Nothing is fetched yet; IAM tokens are obtained on first use.
    pub fn new(config: &AuthConfig, transport: Arc<Transport>) -> Self {
        let mode = match config {
            AuthConfig::Token(token) => Mode::Static(token.clone()),
            AuthConfig::TokenFile(path) => {
                warn_if_world_readable(path);
                Mode::File(SecretFile::new(path.clone()))
            }
            AuthConfig::Iam(iam) => Mode::Iam(IamTokens::new(iam, transport)),
            AuthConfig::AkSk(aksk) => Mode::AkSk(AkSkSigner::new(aksk)),
        };
        Self { mode }
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

    /// When the IAM token in use expires (iam mode only).
    pub fn token_expiry(&self) -> Option<SystemTime> {
        match &self.mode {
            Mode::Iam(iam) => iam.expiry(),
            _ => None,
        }
    }
}

/// Secrets readable by everyone on the host deserve a warning, not a refusal: containers often
/// mount Secrets 0644 and the process may be alone on its host.
pub(crate) fn warn_if_world_readable(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o004 != 0 {
                tracing::warn!(
                    file = %path.display(),
                    "secret file is readable by every user on this host; consider chmod 600 (or 0440 with a group)"
                );
            }
        }
    }
}
