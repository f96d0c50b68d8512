//! Credentials for upstream requests: a static token, a token file re-read on change, IAM
//! tokens obtained and renewed by the exporter, or AK/SK request signing.
//!
//! [`Auth::apply`] adds the credential to a built request; [`Auth::rejected`] is told about a
//! 401 and says whether one retry with a fresh credential is worth it. Secrets are held as
//! [`Secret`] and never reach a log line or an error message.

pub mod signer;
mod token_file;

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use reqwest::header::HeaderValue;
use tokio::time::Instant;

use crate::client::transport::Transport;
use crate::config::{AuthConfig, Secret};
use token_file::TokenFile;

/// Why no credential could be attached. The text names files and causes, never secret values.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

/// What was attached to a request, so a 401 can be matched to the credential that caused it.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    #[allow(dead_code)] // read by IAM renewal, which comes next
    token: Option<Secret>,
}

/// The configured way to authenticate.
pub struct Auth {
    mode: Mode,
}

enum Mode {
    Static(Secret),
    File(TokenFile),
}

impl Auth {
    /// Sets up the configured mode. Nothing is fetched yet; IAM tokens are obtained on first use.
    pub fn new(config: &AuthConfig, _transport: Arc<Transport>) -> Result<Self, AuthError> {
        let mode = match config {
            AuthConfig::Token(token) => Mode::Static(token.clone()),
            AuthConfig::TokenFile(path) => {
                warn_if_world_readable(path);
                Mode::File(TokenFile::new(path.clone()))
            }
            AuthConfig::Iam(_) | AuthConfig::AkSk(_) => {
                return Err(AuthError(format!(
                    "codearts.auth.{}: not supported yet",
                    config.mode()
                )))
            }
        };
        Ok(Self { mode })
    }

    /// Adds the credential to `request`.
    pub async fn apply(
        &self,
        request: &mut reqwest::Request,
        _deadline: Instant,
    ) -> Result<Applied, AuthError> {
        let token = match &self.mode {
            Mode::Static(token) => token.clone(),
            Mode::File(file) => file.current().map_err(AuthError)?,
        };
        let mut value = HeaderValue::from_str(token.expose()).map_err(|_| {
            AuthError("the token contains characters not allowed in a header".into())
        })?;
        value.set_sensitive(true);
        request.headers_mut().insert("x-auth-token", value);
        Ok(Applied { token: Some(token) })
    }

    /// Called on a 401. Returns `true` when the credential was renewed and one retry may help.
    pub async fn rejected(&self, _applied: &Applied, _error_code: Option<&str>) -> bool {
        false
    }

    /// `Ok` once a credential exists; the reason otherwise (for `/readyz`).
    pub fn readiness(&self) -> Result<(), String> {
        match &self.mode {
            Mode::Static(_) => Ok(()),
            Mode::File(file) => file.current().map(|_| ()),
        }
    }

    /// When the IAM token in use expires (iam mode only).
    pub fn token_expiry(&self) -> Option<SystemTime> {
        None
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
