//! Who may call the CodeArts and IAM routes: the gateway's credential check.
//!
//! A request is let in by `X-Auth-Token` (the static token, or a live token from [`super::iam`])
//! or by an `SDK-HMAC-SHA256` signature, recomputed with [`huaweicloud_signer`] over the headers
//! the request says it signed. The access key is the permanent one of [`SimCredentials`], or a
//! temporary one from the metadata service ([`super::metadata`]); a temporary key is accepted
//! only with its own valid, unexpired `X-Security-Token`, which must be among the signed headers
//! (as the SDK signs it). A permanent key sent with a security token is refused too: the token
//! belongs to another key.
//!
//! A request that carries `X-Project-Id` must name a project of the account, one that
//! `GET /v3/projects` hands out: otherwise 401 `APIG.0301`, as for any credential that does not
//! fit the account (the API documents no answer for this case). Refusals look like APIG's.

use std::collections::HashSet;

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;

use super::iam::{TokenCheck, Tokens};
use super::metadata::{Metadata, SecurityTokenCheck};
use super::routes::error_response;
use super::SimCredentials;
use huaweicloud_signer as signer;

/// APIG refuses signatures more than 15 minutes away from its clock.
const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Denied {
    NoCredentials,
    /// An `X-Auth-Token` that is neither the static token nor one this simulator issued.
    BadToken,
    ExpiredToken,
    /// Unknown access key, malformed `Authorization`, or a signature that does not match.
    BadSignature,
    /// `X-Sdk-Date` missing, malformed or too far from the simulator's clock.
    SignatureExpired,
    /// A temporary access key without `X-Security-Token`.
    MissingSecurityToken,
    /// A security token not issued here, issued for another access key, sent with the
    /// permanent key, or left out of the signed headers.
    BadSecurityToken,
    ExpiredSecurityToken,
    /// `X-Project-Id` names no project of the account.
    UnknownProject,
}

impl Denied {
    pub(crate) fn response(&self) -> Response {
        let (code, message) = match self {
            Self::NoCredentials => (
                "APIG.0301",
                "Incorrect IAM authentication information: x-auth-token not found",
            ),
            Self::BadToken | Self::ExpiredToken => (
                "APIG.0301",
                "Incorrect IAM authentication information: decrypt token fail",
            ),
            Self::BadSignature => (
                "APIG.0301",
                "Incorrect IAM authentication information: verify aksk signature fail",
            ),
            Self::SignatureExpired => (
                "APIG.0303",
                "Incorrect app authentication information: signature expired",
            ),
            Self::MissingSecurityToken => (
                "APIG.0301",
                "Incorrect IAM authentication information: the temporary access key needs its x-security-token",
            ),
            Self::BadSecurityToken => (
                "APIG.0301",
                "Incorrect IAM authentication information: verify security token fail",
            ),
            Self::ExpiredSecurityToken => (
                "APIG.0301",
                "Incorrect IAM authentication information: the security token has expired",
            ),
            Self::UnknownProject => (
                "APIG.0301",
                "Incorrect IAM authentication information: the project in x-project-id does not belong to the account",
            ),
        };
        error_response(StatusCode::UNAUTHORIZED, code, message)
    }
}

/// The gateway: every credential the simulator accepts, and the account's projects.
pub(crate) struct Gate {
    pub(crate) credentials: SimCredentials,
    pub(crate) tokens: Tokens,
    pub(crate) metadata: Metadata,
    /// The ids `GET /v3/projects` hands out.
    pub(crate) project_ids: HashSet<String>,
}

impl Gate {
    /// Checks the credentials of a request received at `now_micros` (Unix microseconds) whose
    /// body is `body` (empty for a GET).
    pub(crate) fn authorize(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        now_micros: i64,
    ) -> Result<(), Denied> {
        self.authenticate(method, uri, headers, body, now_micros)?;
        match headers.get("x-project-id") {
            Some(project) => {
                let project = project.to_str().map_err(|_| Denied::UnknownProject)?;
                if self.project_ids.contains(project.trim()) {
                    Ok(())
                } else {
                    Err(Denied::UnknownProject)
                }
            }
            None => Ok(()),
        }
    }

    fn authenticate(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        now_micros: i64,
    ) -> Result<(), Denied> {
        if let Some(token) = headers.get("x-auth-token") {
            let token = token.to_str().map_err(|_| Denied::BadToken)?;
            if token == self.credentials.static_token {
                return Ok(());
            }
            return match self.tokens.check(token, now_micros) {
                TokenCheck::Valid => Ok(()),
                TokenCheck::Expired => Err(Denied::ExpiredToken),
                TokenCheck::Unknown => Err(Denied::BadToken),
            };
        }
        let Some(authorization) = headers.get("authorization") else {
            return Err(Denied::NoCredentials);
        };
        let authorization = authorization.to_str().map_err(|_| Denied::BadSignature)?;
        let claimed = parse_authorization(authorization).ok_or(Denied::BadSignature)?;
        let security_token = headers
            .get("x-security-token")
            .map(|value| value.to_str().map_err(|_| Denied::BadSecurityToken))
            .transpose()?;
        let secret = if claimed.access == self.credentials.access_key {
            if security_token.is_some() {
                return Err(Denied::BadSecurityToken);
            }
            self.credentials.secret_key.clone()
        } else if Metadata::is_temporary(claimed.access) {
            let token = security_token.ok_or(Denied::MissingSecurityToken)?;
            if !claimed
                .signed_headers
                .split(';')
                .any(|h| h == "x-security-token")
            {
                return Err(Denied::BadSecurityToken);
            }
            match self
                .metadata
                .check_security_token(claimed.access, token, now_micros)
            {
                SecurityTokenCheck::Valid => {}
                SecurityTokenCheck::Expired => return Err(Denied::ExpiredSecurityToken),
                SecurityTokenCheck::Foreign | SecurityTokenCheck::Unknown => {
                    return Err(Denied::BadSecurityToken)
                }
            }
            self.metadata.secret_of(claimed.access)
        } else {
            return Err(Denied::BadSignature);
        };
        verify_signature(&claimed, &secret, method, uri, headers, body, now_micros)
    }
}

fn verify_signature(
    claimed: &ClaimedSignature<'_>,
    secret: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now_micros: i64,
) -> Result<(), Denied> {
    let date = headers
        .get("x-sdk-date")
        .and_then(|value| value.to_str().ok())
        .ok_or(Denied::SignatureExpired)?;
    let signed_at = parse_sdk_date(date).ok_or(Denied::SignatureExpired)?;
    if (now_micros.div_euclid(1_000_000) - signed_at).abs() > MAX_CLOCK_SKEW_SECS {
        return Err(Denied::SignatureExpired);
    }
    let names: Vec<&str> = claimed.signed_headers.split(';').collect();
    if !names.contains(&"x-sdk-date") {
        return Err(Denied::BadSignature);
    }
    let mut signed = Vec::with_capacity(names.len());
    for name in &names {
        let value = headers
            .get(*name)
            .and_then(|value| value.to_str().ok())
            .ok_or(Denied::BadSignature)?;
        signed.push((*name, value));
    }
    // Only the path and query of the URL are signed; the host comes from the `host` header.
    let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let url = url::Url::parse(&format!("http://simulator.invalid{path_and_query}"))
        .map_err(|_| Denied::BadSignature)?;
    let expected = signer::sign(
        method.as_str(),
        &url,
        &signed,
        body,
        claimed.access,
        secret.as_bytes(),
    );
    if expected.signed_headers == claimed.signed_headers && expected.signature == claimed.signature
    {
        Ok(())
    } else {
        Err(Denied::BadSignature)
    }
}

struct ClaimedSignature<'a> {
    access: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

/// Parses `SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex`.
fn parse_authorization(value: &str) -> Option<ClaimedSignature<'_>> {
    let fields = value.strip_prefix(signer::ALGORITHM)?.strip_prefix(' ')?;
    let (mut access, mut signed_headers, mut signature) = (None, None, None);
    for field in fields.split(',') {
        let (key, value) = field.trim().split_once('=')?;
        match key {
            "Access" => access = Some(value),
            "SignedHeaders" => signed_headers = Some(value),
            "Signature" => signature = Some(value),
            _ => return None,
        }
    }
    Some(ClaimedSignature {
        access: access?,
        signed_headers: signed_headers?,
        signature: signature?,
    })
}

/// `YYYYMMDDTHHMMSSZ` to Unix seconds.
fn parse_sdk_date(value: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let parsed = time::PrimitiveDateTime::parse(value, &format).ok()?;
    Some(parsed.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const NOW_SECS: i64 = 1_749_024_869; // 2025-06-04T08:14:29Z
    const NOW: i64 = NOW_SECS * 1_000_000;
    const STATUS_PATH: &str = "/v4/repositories/2111915000/repository/statistics-status";

    const DATE: &str = "20250604T081429Z";
    const PROJECT: &str = "0123456789abcdef0123456789abcdef";

    fn gate() -> Gate {
        Gate {
            credentials: SimCredentials::default(),
            tokens: Tokens::new([1; 32], Duration::from_secs(60)),
            metadata: Metadata::new(
                [2; 32],
                Duration::from_secs(30 * 60),
                crate::metadata::SessionTokens::Required,
            ),
            project_ids: HashSet::from([PROJECT.to_owned()]),
        }
    }

    fn header_map(headers: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    fn check(headers: &[(&str, &str)], uri: &str) -> Result<(), Denied> {
        gate().authorize(
            &Method::GET,
            &uri.parse().unwrap(),
            &header_map(headers),
            b"",
            NOW,
        )
    }

    /// `check` of a request carrying `authorization`, its `date` and the host it was signed for.
    fn check_signed(authorization: &str, date: &str, uri: &str) -> Result<(), Denied> {
        let headers = [
            ("authorization", authorization),
            ("x-sdk-date", date),
            ("host", "127.0.0.1:8080"),
        ];
        check(&headers, uri)
    }

    fn signed(uri: &str, date: &str, secret: &str) -> String {
        signed_with(uri, &[("x-sdk-date", date)], "DEMOACCESSKEY", secret)
    }

    /// Signs over `host` and `headers` (names in lower case).
    fn signed_with(uri: &str, headers: &[(&str, &str)], access: &str, secret: &str) -> String {
        let url = url::Url::parse(&format!("http://127.0.0.1:8080{uri}")).unwrap();
        let mut all = vec![("host", "127.0.0.1:8080")];
        all.extend_from_slice(headers);
        signer::sign("GET", &url, &all, b"", access, secret.as_bytes()).authorization
    }

    /// Headers of a request signed with a temporary credential over `signed` headers.
    fn temporary(
        credential: &crate::metadata::TemporaryCredential,
        token: &str,
        sign_token: bool,
    ) -> Result<(), Denied> {
        let token = [("x-security-token", token)];
        let (signed, unsigned): (&[_], &[_]) = if sign_token {
            (&token, &[])
        } else {
            (&[], &token)
        };
        check_signed_by(&credential.access, &credential.secret, signed, unsigned)
    }

    /// `check` of a request for [`STATUS_PATH`] at [`DATE`] signed with `access` and `secret`
    /// over its host, its date and `signed`, and carrying `unsigned` besides.
    fn check_signed_by(
        access: &str,
        secret: &str,
        signed: &[(&str, &str)],
        unsigned: &[(&str, &str)],
    ) -> Result<(), Denied> {
        let mut headers = vec![("x-sdk-date", DATE)];
        headers.extend_from_slice(signed);
        let authorization = signed_with(STATUS_PATH, &headers, access, secret);
        headers.extend_from_slice(unsigned);
        headers.extend([
            ("authorization", authorization.as_str()),
            ("host", "127.0.0.1:8080"),
        ]);
        check(&headers, STATUS_PATH)
    }

    #[test]
    fn a_temporary_key_with_its_signed_security_token_is_accepted() {
        let credential = gate().metadata.credential(NOW);
        assert_eq!(
            temporary(&credential, &credential.security_token, true),
            Ok(())
        );
    }

    #[test]
    fn a_temporary_key_with_an_unsigned_foreign_or_missing_token_is_refused() {
        let gate = gate();
        let credential = gate.metadata.credential(NOW);
        assert_eq!(
            temporary(&credential, &credential.security_token, false),
            Err(Denied::BadSecurityToken)
        );
        let later = gate.metadata.credential(NOW + 20 * 60 * 1_000_000);
        assert_ne!(later.access, credential.access);
        assert_eq!(
            temporary(&credential, &later.security_token, true),
            Err(Denied::BadSecurityToken)
        );
        assert_eq!(
            check_signed_by(&credential.access, &credential.secret, &[], &[]),
            Err(Denied::MissingSecurityToken)
        );
    }

    #[test]
    fn an_expired_security_token_is_refused_as_expired() {
        let gate = gate();
        let credential = gate.metadata.credential(NOW - 40 * 60 * 1_000_000);
        assert!(credential.expires_micros <= NOW);
        assert_eq!(
            temporary(&credential, &credential.security_token, true),
            Err(Denied::ExpiredSecurityToken)
        );
    }

    #[test]
    fn the_permanent_key_with_a_security_token_is_refused() {
        let credential = gate().metadata.credential(NOW);
        let token = credential.security_token.as_str();
        let with_token = [("x-security-token", token)];
        assert_eq!(
            check_signed_by("DEMOACCESSKEY", "demo-secret-key", &with_token, &[]),
            Err(Denied::BadSecurityToken)
        );
    }

    #[test]
    fn a_project_id_must_be_one_of_the_account() {
        for (project, expected) in [
            (PROJECT, Ok(())),
            (
                "ffffffffffffffffffffffffffffffff",
                Err(Denied::UnknownProject),
            ),
        ] {
            let with_project = [("x-project-id", project)];
            assert_eq!(
                check_signed_by("DEMOACCESSKEY", "demo-secret-key", &with_project, &[]),
                expected,
                "{project}"
            );
            let with_token = [("x-auth-token", "demo-token"), ("x-project-id", project)];
            assert_eq!(check(&with_token, STATUS_PATH), expected, "{project}");
        }
    }

    #[test]
    fn a_signed_body_is_checked() {
        let url = url::Url::parse("http://127.0.0.1:8080/v3/auth/tokens").unwrap();
        let headers = [("host", "127.0.0.1:8080"), ("x-sdk-date", DATE)];
        let authorization = signer::sign(
            "POST",
            &url,
            &headers,
            b"{}",
            "DEMOACCESSKEY",
            b"demo-secret-key",
        )
        .authorization;
        let map = header_map(&[
            ("authorization", &authorization),
            ("x-sdk-date", DATE),
            ("host", "127.0.0.1:8080"),
        ]);
        let uri: Uri = "/v3/auth/tokens".parse().unwrap();
        assert_eq!(
            gate().authorize(&Method::POST, &uri, &map, b"{}", NOW),
            Ok(())
        );
        assert_eq!(
            gate().authorize(&Method::POST, &uri, &map, b"{ }", NOW),
            Err(Denied::BadSignature)
        );
    }

    #[test]
    fn static_token_is_accepted() {
        assert_eq!(
            check(&[("x-auth-token", "demo-token")], STATUS_PATH),
            Ok(())
        );
    }

    #[test]
    fn unknown_token_is_refused_and_no_credentials_too() {
        assert_eq!(
            check(&[("x-auth-token", "nope")], STATUS_PATH),
            Err(Denied::BadToken)
        );
        assert_eq!(check(&[], STATUS_PATH), Err(Denied::NoCredentials));
    }

    #[test]
    fn signature_over_host_and_date_is_accepted() {
        let date = "20250604T081429Z";
        let authorization = signed(STATUS_PATH, date, "demo-secret-key");
        assert_eq!(check_signed(&authorization, date, STATUS_PATH), Ok(()));
    }

    #[test]
    fn signature_with_a_query_is_accepted() {
        let date = "20250604T081429Z";
        let uri = "/v4/user/repositories?offset=20&limit=20";
        let authorization = signed(uri, date, "demo-secret-key");
        assert_eq!(check_signed(&authorization, date, uri), Ok(()));
    }

    #[test]
    fn signature_with_the_wrong_secret_or_for_another_path_is_refused() {
        let date = "20250604T081429Z";
        for authorization in [
            signed(STATUS_PATH, date, "wrong-secret"),
            signed(
                "/v4/repositories/2111915001/repository/statistics-status",
                date,
                "demo-secret-key",
            ),
        ] {
            assert_eq!(
                check_signed(&authorization, date, STATUS_PATH),
                Err(Denied::BadSignature)
            );
        }
    }

    #[test]
    fn signature_older_than_fifteen_minutes_is_expired() {
        let date = "20250604T075900Z";
        let authorization = signed(STATUS_PATH, date, "demo-secret-key");
        assert_eq!(
            check_signed(&authorization, date, STATUS_PATH),
            Err(Denied::SignatureExpired)
        );
    }

    #[test]
    fn malformed_authorization_headers_are_refused() {
        let date = "20250604T081429Z";
        for authorization in [
            "SDK-HMAC-SHA256",
            "SDK-HMAC-SHA256 Access=DEMOACCESSKEY",
            "SDK-HMAC-SHA256 Access=DEMOACCESSKEY, SignedHeaders=host, Signature=00",
            "Bearer abc",
            "SDK-HMAC-SHA256 Access=OTHER, SignedHeaders=x-sdk-date, Signature=00",
            "SDK-HMAC-SHA256 Access=DEMOACCESSKEY, SignedHeaders=x-sdk-date;x-missing, Signature=00",
        ] {
            let headers = [("authorization", authorization), ("x-sdk-date", date)];
            assert_eq!(check(&headers, STATUS_PATH), Err(Denied::BadSignature), "{authorization}");
        }
        let headers = [(
            "authorization",
            "SDK-HMAC-SHA256 Access=DEMOACCESSKEY, SignedHeaders=x-sdk-date, Signature=00",
        )];
        assert_eq!(check(&headers, STATUS_PATH), Err(Denied::SignatureExpired));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_credentials_never_panic(
            token in "\\PC*",
            authorization in "\\PC*",
            date in "\\PC*",
            path in "/[a-z0-9/%?=&.-]{0,40}",
        ) {
            let mut headers = HeaderMap::new();
            for (name, value) in [("authorization", &authorization), ("x-sdk-date", &date)] {
                if let Ok(value) = value.parse() {
                    headers.insert(name, value);
                }
            }
            let gate = gate();
            let uri: Uri = path.parse().unwrap_or_else(|_| Uri::from_static("/"));
            let _ = gate.authorize(&Method::GET, &uri, &headers, b"", NOW);
            if let Ok(value) = token.parse() {
                headers.insert("x-security-token", value);
                let _ = gate.authorize(&Method::GET, &uri, &headers, b"", NOW);
                let value = headers["x-security-token"].clone();
                headers.insert("x-auth-token", value);
                let _ = gate.authorize(&Method::GET, &uri, &headers, b"", NOW);
            }
        }
    }
}
