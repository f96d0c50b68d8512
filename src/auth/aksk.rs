//! AK/SK request signing (`SDK-HMAC-SHA256`, docs/authentication.md): every request gets
//! `X-Sdk-Date`, `X-Project-Id` when a project id is known, `X-Security-Token` with temporary
//! credentials, and an `Authorization` header over `host`, `x-sdk-date` and those two — the
//! security token is signed, as the official SDK signs it.
//!
//! The keys come from files (or `${VAR}`) here ([`KeyFiles`]), or from the metadata service
//! (`super::metadata`); signing does not care which.

use std::path::PathBuf;

use reqwest::header::HeaderValue;
use time::OffsetDateTime;

use super::error::{AuthError, SecretFileError};
use super::secret_file::{SecretFile, SecretReader};
use crate::config::{AkSkConfig, Secret};
use huaweicloud_signer as signer;

/// One set of credentials to sign with. Every part is a [`Secret`]: the access key too, which
/// names the account's key and is nobody's business in a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Keys {
    pub access: Secret,
    pub secret: Secret,
    /// Present for temporary credentials.
    pub security_token: Option<Secret>,
}

/// The `aksk` mode's keys: two files (or inline values) and an optional security token file,
/// each read again when it changes.
pub(crate) struct KeyFiles {
    access: SecretReader,
    secret: SecretReader,
    security_token: Option<SecretFile>,
}

impl KeyFiles {
    pub(crate) fn new(config: &AkSkConfig) -> Self {
        Self {
            access: SecretReader::new(&config.access_key),
            secret: SecretReader::new(&config.secret_key),
            security_token: config
                .security_token_file
                .as_ref()
                .map(|path: &PathBuf| SecretFile::new(path.clone())),
        }
    }

    /// The keys in the files now. The error names the file and the problem, never the content.
    pub(crate) fn current(&self) -> Result<Keys, SecretFileError> {
        Ok(Keys {
            access: self.access.current()?,
            secret: self.secret.current()?,
            security_token: self
                .security_token
                .as_ref()
                .map(SecretFile::current)
                .transpose()?,
        })
    }
}

/// Signs `request` as it will be sent (method, URL, host, body) with `keys`, sending
/// `project_id` as `X-Project-Id` when given.
pub(crate) fn sign(
    request: &mut reqwest::Request,
    keys: &Keys,
    project_id: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), AuthError> {
    let date = signer::sdk_date(now);
    let host = host_header(request.url());
    let body = request
        .body()
        .and_then(|body| body.as_bytes())
        .unwrap_or_default()
        .to_vec();
    let mut signed: Vec<(&str, &str)> =
        vec![("host", host.as_str()), ("x-sdk-date", date.as_str())];
    if let Some(project) = project_id {
        signed.push(("x-project-id", project));
    }
    if let Some(token) = &keys.security_token {
        signed.push(("x-security-token", token.expose()));
    }
    let signature = signer::sign(
        request.method().as_str(),
        request.url(),
        &signed,
        &body,
        keys.access.expose(),
        keys.secret.expose().as_bytes(),
    );
    let header = |value: &str, what: &'static str| {
        HeaderValue::from_str(value).map_err(|_| AuthError::NotAHeader(what))
    };
    let headers = request.headers_mut();
    headers.insert("x-sdk-date", header(&date, "X-Sdk-Date")?);
    if let Some(project) = project_id {
        headers.insert("x-project-id", header(project, "project id")?);
    }
    if let Some(token) = &keys.security_token {
        let mut value = header(token.expose(), "security token")?;
        value.set_sensitive(true);
        headers.insert("x-security-token", value);
    }
    let mut authorization = header(&signature.authorization, "access key")?;
    authorization.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, authorization);
    Ok(())
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

    fn keys(token: Option<&str>) -> Keys {
        Keys {
            access: Secret::new("AccessKey"),
            secret: Secret::new("SecretKey"),
            security_token: token.map(Secret::new),
        }
    }

    fn get(url: &str) -> reqwest::Request {
        reqwest::Client::new().get(url).build().unwrap()
    }

    const NOW: OffsetDateTime = time::macros::datetime!(2025-06-04 08:14:29 UTC);

    #[test]
    fn signs_a_status_request_as_the_signer_crates_vector_does() {
        let mut request = get("https://codehub-ext.cn-north-4.myhuaweicloud.com/v4/repositories/123456/repository/statistics-status");
        sign(&mut request, &keys(None), None, NOW).unwrap();
        assert_eq!(request.headers()["x-sdk-date"], "20250604T081429Z");
        assert_eq!(
            request.headers()["authorization"],
            "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=host;x-sdk-date, Signature=2afa3dc211543eaf477cc2545792c13d6ec85b5da4c69834efb17d48dcb2f28a"
        );
    }

    #[test]
    fn signs_the_project_id_as_the_signer_crates_vector_does() {
        let mut request = get("https://codehub-ext.cn-north-4.myhuaweicloud.com/v4/user/repositories?offset=0&limit=100");
        sign(
            &mut request,
            &keys(None),
            Some("0123456789abcdef0123456789abcdef"),
            NOW,
        )
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
    fn a_security_token_is_sent_and_signed() {
        let url = "https://codehub-ext.cn-north-4.myhuaweicloud.com/v4/repositories/123456/repository/statistics-status";
        let mut request = get(url);
        sign(&mut request, &keys(Some("sts-token")), Some("p1"), NOW).unwrap();
        let headers = request.headers();
        assert_eq!(headers["x-security-token"], "sts-token");
        assert!(headers["x-security-token"].is_sensitive());
        let authorization = headers["authorization"].to_str().unwrap();
        assert!(
            authorization.contains("SignedHeaders=host;x-project-id;x-sdk-date;x-security-token,"),
            "{authorization}"
        );
        // The token is part of what is signed: another token, another signature.
        let mut other = get(url);
        sign(&mut other, &keys(Some("sts-other")), Some("p1"), NOW).unwrap();
        assert_ne!(other.headers()["authorization"], headers["authorization"]);
        let expected = signer::sign(
            "GET",
            &url::Url::parse(url).unwrap(),
            &[
                ("host", "codehub-ext.cn-north-4.myhuaweicloud.com"),
                ("x-sdk-date", "20250604T081429Z"),
                ("x-project-id", "p1"),
                ("x-security-token", "sts-token"),
            ],
            b"",
            "AccessKey",
            b"SecretKey",
        );
        assert_eq!(authorization, expected.authorization);
    }

    #[test]
    fn host_keeps_a_non_default_port() {
        let url = url::Url::parse("http://127.0.0.1:8080/x").unwrap();
        assert_eq!(host_header(&url), "127.0.0.1:8080");
        let url = url::Url::parse("https://example.com/x").unwrap();
        assert_eq!(host_header(&url), "example.com");
    }

    #[test]
    fn key_files_read_the_security_token_too_and_name_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        for (name, value) in [("ak", "AK"), ("sk", "SK"), ("token", "TOKEN")] {
            std::fs::write(dir.path().join(name), format!("{value}\n")).unwrap();
        }
        let file = |name: &str| crate::config::SecretSource::File(dir.path().join(name));
        let config = AkSkConfig {
            access_key: file("ak"),
            secret_key: file("sk"),
            security_token_file: Some(dir.path().join("token")),
            project: crate::config::ProjectIdSource::None,
        };
        let keys = KeyFiles::new(&config).current().unwrap();
        assert_eq!(
            keys.security_token.as_ref().map(Secret::expose),
            Some("TOKEN")
        );
        let missing = AkSkConfig {
            security_token_file: Some(dir.path().join("gone")),
            ..config
        };
        let err = KeyFiles::new(&missing).current().unwrap_err().to_string();
        assert!(err.contains("gone"), "{err}");
    }
}
