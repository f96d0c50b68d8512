//! Who may call the CodeArts routes: the gateway's credential check.
//!
//! A request is let in by `X-Auth-Token` (the static token, or a live token from [`super::iam`])
//! or by an `SDK-HMAC-SHA256` signature, recomputed with [`huaweicloud_signer`] over the headers
//! the request says it signed. Refusals look like APIG's.

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;

use super::iam::{TokenCheck, Tokens};
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
        };
        error_response(StatusCode::UNAUTHORIZED, code, message)
    }
}

/// Checks the credentials of a body-less request received at `now` (Unix microseconds).
pub(crate) fn authorize(
    credentials: &SimCredentials,
    tokens: &Tokens,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    now_micros: i64,
) -> Result<(), Denied> {
    if let Some(token) = headers.get("x-auth-token") {
        let token = token.to_str().map_err(|_| Denied::BadToken)?;
        if token == credentials.static_token {
            return Ok(());
        }
        return match tokens.check(token, now_micros) {
            TokenCheck::Valid => Ok(()),
            TokenCheck::Expired => Err(Denied::ExpiredToken),
            TokenCheck::Unknown => Err(Denied::BadToken),
        };
    }
    match headers.get("authorization") {
        Some(authorization) => {
            let authorization = authorization.to_str().map_err(|_| Denied::BadSignature)?;
            verify_signature(credentials, method, uri, headers, authorization, now_micros)
        }
        None => Err(Denied::NoCredentials),
    }
}

fn verify_signature(
    credentials: &SimCredentials,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    authorization: &str,
    now_micros: i64,
) -> Result<(), Denied> {
    let claimed = parse_authorization(authorization).ok_or(Denied::BadSignature)?;
    if claimed.access != credentials.access_key {
        return Err(Denied::BadSignature);
    }
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
        b"",
        &credentials.access_key,
        credentials.secret_key.as_bytes(),
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

    fn tokens() -> Tokens {
        Tokens::new([1; 32], Duration::from_secs(60))
    }

    fn check(headers: &[(&str, &str)], uri: &str) -> Result<(), Denied> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        authorize(
            &SimCredentials::default(),
            &tokens(),
            &Method::GET,
            &uri.parse().unwrap(),
            &map,
            NOW,
        )
    }

    fn signed(uri: &str, date: &str, secret: &str) -> String {
        let url = url::Url::parse(&format!("http://127.0.0.1:8080{uri}")).unwrap();
        signer::sign(
            "GET",
            &url,
            &[("host", "127.0.0.1:8080"), ("x-sdk-date", date)],
            b"",
            "DEMOACCESSKEY",
            secret.as_bytes(),
        )
        .authorization
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
        let headers = [
            ("authorization", authorization.as_str()),
            ("x-sdk-date", date),
            ("host", "127.0.0.1:8080"),
        ];
        assert_eq!(check(&headers, STATUS_PATH), Ok(()));
    }

    #[test]
    fn signature_with_a_query_is_accepted() {
        let date = "20250604T081429Z";
        let uri = "/v4/user/repositories?offset=20&limit=20";
        let authorization = signed(uri, date, "demo-secret-key");
        let headers = [
            ("authorization", authorization.as_str()),
            ("x-sdk-date", date),
            ("host", "127.0.0.1:8080"),
        ];
        assert_eq!(check(&headers, uri), Ok(()));
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
            let headers = [
                ("authorization", authorization.as_str()),
                ("x-sdk-date", date),
                ("host", "127.0.0.1:8080"),
            ];
            assert_eq!(check(&headers, STATUS_PATH), Err(Denied::BadSignature));
        }
    }

    #[test]
    fn signature_older_than_fifteen_minutes_is_expired() {
        let date = "20250604T075900Z";
        let authorization = signed(STATUS_PATH, date, "demo-secret-key");
        let headers = [
            ("authorization", authorization.as_str()),
            ("x-sdk-date", date),
            ("host", "127.0.0.1:8080"),
        ];
        assert_eq!(check(&headers, STATUS_PATH), Err(Denied::SignatureExpired));
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
            let credentials = SimCredentials::default();
            let uri: Uri = path.parse().unwrap_or_else(|_| Uri::from_static("/"));
            let _ = authorize(&credentials, &tokens(), &Method::GET, &uri, &headers, NOW);
            if let Ok(value) = token.parse() {
                headers.insert("x-auth-token", value);
                let _ = authorize(&credentials, &tokens(), &Method::GET, &uri, &headers, NOW);
            }
        }
    }
}
