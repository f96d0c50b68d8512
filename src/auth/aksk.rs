//! AK/SK request signing (reference §4b): every request gets `X-Sdk-Date`, optionally
//! `X-Project-Id`, and an `Authorization: SDK-HMAC-SHA256 …` header over `host`, `x-sdk-date`
//! and `x-project-id`.

use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::header::HeaderValue;
use time::OffsetDateTime;

use super::error::AuthError;
use super::secret_file::SecretReader;
use crate::config::AkSkConfig;
use huaweicloud_signer as signer;

pub struct AkSkSigner {
    access_key: SecretReader,
    secret_key: SecretReader,
    project_id: Option<String>,
    /// A rejected signature is logged once: the gateway's message is the same for every
    /// request, and five bad signatures lock the key for five minutes anyway.
    logged_rejection: AtomicBool,
}

impl AkSkSigner {
    pub fn new(config: &AkSkConfig) -> Self {
        Self {
            access_key: SecretReader::new(&config.access_key),
            secret_key: SecretReader::new(&config.secret_key),
            project_id: config.project_id.clone(),
            logged_rejection: AtomicBool::new(false),
        }
    }

    /// Both keys are readable.
    pub fn readiness(&self) -> Result<(), String> {
        self.access_key.current()?;
        self.secret_key.current()?;
        Ok(())
    }

    /// Signs `request` as it will be sent (method, URL, host, body).
    pub fn sign(
        &self,
        request: &mut reqwest::Request,
        now: OffsetDateTime,
    ) -> Result<(), AuthError> {
        let access_key = self.access_key.current().map_err(AuthError)?;
        let secret_key = self.secret_key.current().map_err(AuthError)?;
        let date = signer::sdk_date(now);
        let host = host_header(request.url());
        let body = request
            .body()
            .and_then(|body| body.as_bytes())
            .unwrap_or_default()
            .to_vec();
        let mut signed: Vec<(&str, &str)> =
            vec![("host", host.as_str()), ("x-sdk-date", date.as_str())];
        if let Some(project) = &self.project_id {
            signed.push(("x-project-id", project.as_str()));
        }
        let signature = signer::sign(
            request.method().as_str(),
            request.url(),
            &signed,
            &body,
            access_key.expose(),
            secret_key.expose().as_bytes(),
        );
        let headers = request.headers_mut();
        let header = |value: &str| {
            HeaderValue::from_str(value)
                .map_err(|_| AuthError("a signing header is not valid ASCII".into()))
        };
        headers.insert("x-sdk-date", header(&date)?);
        if let Some(project) = &self.project_id {
            headers.insert("x-project-id", header(project)?);
        }
        let mut authorization = header(&signature.authorization)?;
        authorization.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, authorization);
        Ok(())
    }

    /// A 401 on a signed request: logged once with the gateway's message (it carries the
    /// server's canonical request, which helps find a signing bug, and no secret). Never retried.
    pub fn rejected(&self, error_msg: Option<&str>) {
        if !self.logged_rejection.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                error_msg = error_msg.unwrap_or(""),
                "the gateway refused the AK/SK signature; not retrying (five failures lock the key for five minutes). Check the keys and the clock (the signature expires after 15 minutes of skew)"
            );
        }
    }
}

/// The `host` value the gateway sees: host, plus the port when it is not the scheme's default.
fn host_header(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Secret, SecretSource};

    fn signer(project: Option<&str>) -> AkSkSigner {
        AkSkSigner::new(&AkSkConfig {
            access_key: SecretSource::Inline(Secret::new("AccessKey")),
            secret_key: SecretSource::Inline(Secret::new("SecretKey")),
            project_id: project.map(str::to_owned),
        })
    }

    #[test]
    fn signs_a_status_request_like_reference_vector_t3() {
        let client = reqwest::Client::new();
        let mut request = client
            .get("https://codehub-ext.cn-north-4.myhuaweicloud.com/v4/repositories/123456/repository/statistics-status")
            .build()
            .unwrap();
        let now = time::macros::datetime!(2025-06-04 08:14:29 UTC);
        signer(None).sign(&mut request, now).unwrap();
        assert_eq!(request.headers()["x-sdk-date"], "20250604T081429Z");
        assert_eq!(
            request.headers()["authorization"],
            "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=host;x-sdk-date, Signature=2afa3dc211543eaf477cc2545792c13d6ec85b5da4c69834efb17d48dcb2f28a"
        );
    }

    #[test]
    fn signs_the_project_id_like_reference_vector_t4() {
        let client = reqwest::Client::new();
        let mut request = client
            .get("https://codehub-ext.cn-north-4.myhuaweicloud.com/v4/user/repositories?offset=0&limit=100")
            .build()
            .unwrap();
        let now = time::macros::datetime!(2025-06-04 08:14:29 UTC);
        signer(Some("0123456789abcdef0123456789abcdef"))
            .sign(&mut request, now)
            .unwrap();
        assert_eq!(
            request.headers()["x-project-id"],
            "0123456789abcdef0123456789abcdef"
        );
        assert!(request.headers()["authorization"]
            .to_str()
            .unwrap()
            .ends_with("SignedHeaders=host;x-project-id;x-sdk-date, Signature=58cc8ec66429163afb02d1f1160276570f646b59a70fff0112422127acbc9933"));
    }

    #[test]
    fn host_keeps_a_non_default_port() {
        let url = url::Url::parse("http://127.0.0.1:8080/x").unwrap();
        assert_eq!(host_header(&url), "127.0.0.1:8080");
        let url = url::Url::parse("https://example.com/x").unwrap();
        assert_eq!(host_header(&url), "example.com");
    }
}
