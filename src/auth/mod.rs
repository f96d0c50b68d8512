//! Credentials for upstream requests: a static token, a token file re-read on change, IAM
//! tokens obtained and renewed by the exporter, AK/SK request signing with permanent or
//! temporary keys from files, or the temporary keys of an ECS agency from the metadata service
//! (docs/authentication.md).
//!
//! [`Auth::apply`] adds the credential to a built request; [`Auth::rejected`] is told about a
//! 401 and says whether one retry with a fresh credential is worth it, and
//! [`Auth::renewal_worked`] that the retry went through. Secrets are held as [`Secret`] and
//! never reach a log line or an error message.

mod aksk;
mod backoff;
mod error;
mod iam;
mod metadata;
mod metrics;
mod project;
mod rejection;
mod renewing;
mod secret_file;
mod signed;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderValue;
use tokio::time::Instant;

use crate::config::{AuthConfig, Secret, SecretSource};
use crate::upstream::{ApiErrorBody, Transport};
use aksk::{KeyFiles, Keys};
pub(crate) use error::AuthError;
use iam::IamTokens;
use metadata::AgencyCredentials;
pub(crate) use metrics::AuthMetrics;
use metrics::Expiry;
use project::ProjectId;
use secret_file::{readable_by_everyone, SecretFile};
use signed::{KeySource, SignedAuth};

/// What was attached to a request, so a 401 can be matched to the credential that caused it.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    token: Option<Secret>,
    keys: Option<Arc<Keys>>,
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
    Iam(Box<IamTokens>),
    Signed(Box<SignedAuth>),
}

/// IAM/gateway codes of a 401 that mean "this token (or security token) expired or is not
/// valid".
const TOKEN_DEAD_CODES: [&str; 3] = ["APIG.0301", "APIGW.0301", "DEV.00000003"];

/// How long [`Auth::warm_up`] may take.
const WARM_UP_TIMEOUT: Duration = Duration::from_secs(30);

/// What is worth a warning in `config`'s credential settings, one sentence each: secret files
/// every user on this host may read. A warning, not a refusal: containers often mount Secrets
/// 0644, and the process may be alone on its host. [`Auth::new`] logs them, `--config.check`
/// prints them.
pub(crate) fn warnings(config: &AuthConfig) -> Vec<String> {
    secret_files(config)
        .into_iter()
        .filter(|path| readable_by_everyone(path))
        .map(|path| {
            format!(
                "secret file {} is readable by every user on this host; consider chmod 600 (or 0440 with a group)",
                path.display()
            )
        })
        .collect()
}

/// The file of a secret read from one.
fn file(source: &SecretSource) -> Option<&Path> {
    match source {
        SecretSource::File(path) => Some(path),
        SecretSource::Inline(_) => None,
    }
}

/// The files `config` reads secrets from.
fn secret_files(config: &AuthConfig) -> Vec<&Path> {
    match config {
        AuthConfig::Token(_) | AuthConfig::EcsAgency(_) => Vec::new(),
        AuthConfig::TokenFile(path) => vec![path.as_path()],
        AuthConfig::Iam(iam) => file(&iam.password).into_iter().collect(),
        AuthConfig::AkSk(aksk) => [file(&aksk.access_key), file(&aksk.secret_key)]
            .into_iter()
            .flatten()
            .chain(aksk.security_token_file.as_deref())
            .collect(),
    }
}

impl Auth {
    /// Sets up the configured mode and makes it the one [`AuthMetrics`] shows. Nothing is
    /// fetched yet; IAM tokens, temporary credentials and project ids are obtained on first use
    /// (or [`Auth::warm_up`]).
    pub fn new(config: &AuthConfig, transport: Arc<Transport>, metrics: &AuthMetrics) -> Self {
        for warning in warnings(config) {
            tracing::warn!("{warning}");
        }
        let expiry = Arc::new(Expiry::default());
        metrics.show(expiry.clone());
        let mode = match config {
            AuthConfig::Token(token) => Mode::Static(token.clone()),
            AuthConfig::TokenFile(path) => Mode::File(SecretFile::new(path.clone())),
            AuthConfig::Iam(iam) => {
                Mode::Iam(Box::new(IamTokens::new(iam, transport, expiry.clone())))
            }
            AuthConfig::AkSk(aksk) => Mode::Signed(Box::new(SignedAuth::new(
                KeySource::Files(KeyFiles::new(aksk)),
                ProjectId::new(&aksk.project, "codearts.auth.aksk", transport),
            ))),
            AuthConfig::EcsAgency(agency) => Mode::Signed(Box::new(SignedAuth::new(
                KeySource::Agency(AgencyCredentials::new(
                    &agency.metadata_endpoint,
                    transport.clone(),
                    expiry.clone(),
                )),
                ProjectId::new(&agency.project, "codearts.auth.ecs_agency", transport),
            ))),
        };
        Self { mode, expiry }
    }

    /// Obtains the first credential (an IAM token, a temporary credential, a project id) ahead
    /// of the first scrape, so `/readyz` turns ready without waiting for Prometheus.
    pub async fn warm_up(&self) {
        let deadline = Instant::now() + WARM_UP_TIMEOUT;
        match &self.mode {
            Mode::Iam(iam) => {
                let _ = iam.token(deadline).await;
            }
            Mode::Signed(signed) => signed.warm_up(deadline).await,
            Mode::Static(_) | Mode::File(_) => {}
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
            Mode::File(file) => file.current()?,
            Mode::Iam(iam) => iam.token(deadline).await?,
            Mode::Signed(signed) => {
                let keys = signed.apply(request, deadline).await?;
                return Ok(Applied {
                    token: None,
                    keys: Some(keys),
                });
            }
        };
        let mut value =
            HeaderValue::from_str(token.expose()).map_err(|_| AuthError::NotAHeader("token"))?;
        value.set_sensitive(true);
        request.headers_mut().insert("x-auth-token", value);
        Ok(Applied {
            token: Some(token),
            keys: None,
        })
    }

    /// Called on a 401. Returns `true` when a fresh credential is available, so one retry may
    /// help: a renewed IAM token or temporary credential, or a token or key file that changed
    /// since the request was sent. A signature refused for any other reason is never retried.
    pub fn rejected(&self, applied: &Applied, error: &ApiErrorBody) -> bool {
        let dead = error
            .error_code
            .as_deref()
            .is_some_and(|code| TOKEN_DEAD_CODES.contains(&code));
        match &self.mode {
            Mode::Static(_) => false,
            Mode::File(file) => match (file.current(), &applied.token) {
                (Ok(current), Some(sent)) => &current != sent,
                _ => false,
            },
            Mode::Iam(iam) => match (&applied.token, dead) {
                (Some(token), true) => iam.invalidate(token),
                _ => false,
            },
            Mode::Signed(signed) => match &applied.keys {
                Some(keys) => signed.rejected(keys, dead, error.error_msg.as_deref()),
                None => false,
            },
        }
    }

    /// The request retried after [`Auth::rejected`] went through with the fresh credential:
    /// the next refusal may renew at once again.
    pub fn renewal_worked(&self) {
        match &self.mode {
            Mode::Iam(iam) => iam.renewal_worked(),
            Mode::Signed(signed) => signed.renewal_worked(),
            Mode::Static(_) | Mode::File(_) => {}
        }
    }

    /// `Ok` once a credential exists; the reason otherwise (for `/readyz`).
    pub fn readiness(&self) -> Result<(), AuthError> {
        match &self.mode {
            Mode::Static(_) => Ok(()),
            Mode::File(file) => Ok(file.current().map(|_| ())?),
            Mode::Iam(iam) => iam.readiness(),
            Mode::Signed(signed) => signed.readiness(),
        }
    }

    /// When the credential in use expires (an IAM token, a temporary credential of the
    /// metadata service); `None` for credentials that do not, or whose expiry is not known.
    pub fn expiry(&self) -> Option<SystemTime> {
        self.expiry.get()
    }

    /// What [`Auth::expiry`] is the expiry of, for the landing page.
    pub fn expiring_credential(&self) -> &'static str {
        match &self.mode {
            Mode::Iam(_) => "IAM token",
            Mode::Signed(_) => "Temporary credential (ECS agency)",
            Mode::Static(_) | Mode::File(_) => "Credential",
        }
    }
}
