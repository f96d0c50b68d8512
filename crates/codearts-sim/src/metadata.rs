//! The ECS metadata service, as the official SDK's `MetadataAccessor`
//! (`huaweicloudsdkcore/auth/internal.py`) uses it, and the temporary credentials it hands out.
//!
//! - `PUT /meta-data/latest/api/token` with `X-Metadata-Token-Ttl-Seconds: 1..=21600` answers
//!   200 with a session token as plain text (400 without a valid TTL). With
//!   [`SessionTokens::Unsupported`] it answers 404, and a client goes on without one.
//! - `GET /openstack/latest/securitykey` answers
//!   `{"credential": {"access", "secret", "securitytoken", "expires_at"}}`, `expires_at` in the
//!   SDK's `%Y-%m-%dT%H:%M:%S.%fZ`. With [`SessionTokens::Required`] it needs a valid, unexpired
//!   `X-Metadata-Token` (401 otherwise, which tells the SDK to get a new session token and try
//!   once more); with `Optional` a token is checked only when one is sent.
//!
//! The credential of the ECS's agency changes every half lifetime
//! ([`crate::SimConfig::temporary_credential_lifetime`]): within one half every caller gets the
//! same one, so a client that asks again early keeps its credential, and one that renews at any
//! time past the first half gets a credential valid for at least another half.
//!
//! Everything is self-contained, like the IAM tokens of `iam.rs`: the temporary access key
//! names its window, its secret key is an HMAC of the access key, and the security token carries
//! its expiry and its access key under an HMAC — all under a key made at start, so checking needs
//! no table and issuing never grows memory.
//!
//! Faults for tests, switched at run time (`PUT /-/metadata-fault?mode=…` or
//! [`crate::SimHandle::set_metadata_fault`]), see [`MetadataFault`].

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::iam::iam_timestamp;

/// How the metadata service treats session tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionTokens {
    /// `securitykey` needs a valid `X-Metadata-Token`.
    Required,
    /// Session tokens are handed out, but `securitykey` also answers without one.
    Optional,
    /// `PUT /meta-data/latest/api/token` answers 404; `securitykey` needs no token.
    Unsupported,
}

/// A failure of the whole metadata service (both routes), for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataFault {
    /// Healthy.
    None,
    /// 500 with a plain-text body.
    Error,
    /// 200 whose body is not JSON (or, for the session token, empty).
    Garbage,
    /// Answers after [`METADATA_SLOW_DELAY`], longer than any sensible client timeout.
    Slow,
    /// `securitykey` answers 401 "Please configure Cloud Service Agency first": the ECS has no
    /// agency. The SDK does not retry this one.
    NoAgency,
}

/// How long [`MetadataFault::Slow`] keeps a request waiting.
pub const METADATA_SLOW_DELAY: Duration = Duration::from_secs(10);

impl MetadataFault {
    /// Parses the `mode` of `PUT /-/metadata-fault`.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "none" => Self::None,
            "error" => Self::Error,
            "garbage" => Self::Garbage,
            "slow" => Self::Slow,
            "no_agency" => Self::NoAgency,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Error => "error",
            Self::Garbage => "garbage",
            Self::Slow => "slow",
            Self::NoAgency => "no_agency",
        }
    }

    fn from_u8(value: u8) -> Self {
        [
            Self::None,
            Self::Error,
            Self::Garbage,
            Self::Slow,
            Self::NoAgency,
        ]
        .get(usize::from(value))
        .copied()
        .unwrap_or(Self::None)
    }

    fn to_u8(self) -> u8 {
        self as u8
    }
}

/// Prefix of the temporary access keys, so the gateway knows to look for a security token.
const TEMPORARY_ACCESS_PREFIX: &str = "STS";
const SECURITY_TOKEN_PREFIX: &str = "SIMSTS";
const SESSION_TOKEN_PREFIX: &str = "SIMMD";
/// The most a session token may live, as the SDK asks for (six hours).
const MAX_SESSION_TTL_SECS: i64 = 21_600;

/// One temporary credential, as `securitykey` hands it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemporaryCredential {
    pub(crate) access: String,
    pub(crate) secret: String,
    pub(crate) security_token: String,
    pub(crate) expires_micros: i64,
}

/// What a presented security token turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SecurityTokenCheck {
    Valid,
    Expired,
    /// Issued for another access key.
    Foreign,
    /// Not issued by this simulator (or altered).
    Unknown,
}

/// Issues and checks temporary credentials and metadata session tokens; the fault switch.
pub(crate) struct Metadata {
    key: [u8; 32],
    lifetime: Duration,
    session_tokens: SessionTokens,
    fault: AtomicU8,
}

impl Metadata {
    pub(crate) fn new(key: [u8; 32], lifetime: Duration, session_tokens: SessionTokens) -> Self {
        Self {
            key,
            lifetime,
            session_tokens,
            fault: AtomicU8::new(MetadataFault::None.to_u8()),
        }
    }

    pub(crate) fn set_fault(&self, fault: MetadataFault) {
        self.fault.store(fault.to_u8(), Ordering::Relaxed);
    }

    pub(crate) fn fault(&self) -> MetadataFault {
        MetadataFault::from_u8(self.fault.load(Ordering::Relaxed))
    }

    fn lifetime_micros(&self) -> i64 {
        i64::try_from(self.lifetime.as_micros())
            .unwrap_or(i64::MAX)
            .max(2)
    }

    /// The credential handed out at `now_micros`: the same one within each half lifetime.
    pub(crate) fn credential(&self, now_micros: i64) -> TemporaryCredential {
        let half = self.lifetime_micros() / 2;
        let window = now_micros.div_euclid(half);
        let expires = (window * half).saturating_add(self.lifetime_micros());
        let tag = self.mac(&format!("access\n{window}"));
        let access = format!(
            "{TEMPORARY_ACCESS_PREFIX}{}",
            tag[..17].to_ascii_uppercase()
        );
        let security_token = self.security_token(&access, expires);
        TemporaryCredential {
            secret: self.secret_of(&access),
            access,
            security_token,
            expires_micros: expires,
        }
    }

    /// Whether `access` is one of the temporary access keys (then a security token must come).
    pub(crate) fn is_temporary(access: &str) -> bool {
        access.len() == TEMPORARY_ACCESS_PREFIX.len() + 17
            && access.starts_with(TEMPORARY_ACCESS_PREFIX)
    }

    /// The secret key that belongs to a temporary access key.
    pub(crate) fn secret_of(&self, access: &str) -> String {
        self.mac(&format!("secret\n{access}"))[..40].to_owned()
    }

    fn security_token(&self, access: &str, expires_micros: i64) -> String {
        let payload = format!("{:016x}{access}", expires_micros as u64);
        format!(
            "{SECURITY_TOKEN_PREFIX}{payload}{}",
            self.mac(&format!("token\n{payload}"))
        )
    }

    /// Checks a security token presented with the temporary access key `access`.
    pub(crate) fn check_security_token(
        &self,
        access: &str,
        token: &str,
        now_micros: i64,
    ) -> SecurityTokenCheck {
        let Some(rest) = token.strip_prefix(SECURITY_TOKEN_PREFIX) else {
            return SecurityTokenCheck::Unknown;
        };
        if rest.len() < 16 + 64 || !rest.is_ascii() {
            return SecurityTokenCheck::Unknown;
        }
        let (payload, mac) = rest.split_at(rest.len() - 64);
        if self.mac(&format!("token\n{payload}")) != mac {
            return SecurityTokenCheck::Unknown;
        }
        let (expires, owner) = payload.split_at(16);
        if owner != access {
            return SecurityTokenCheck::Foreign;
        }
        match u64::from_str_radix(expires, 16) {
            Ok(expires) if now_micros < expires as i64 => SecurityTokenCheck::Valid,
            Ok(_) => SecurityTokenCheck::Expired,
            Err(_) => SecurityTokenCheck::Unknown,
        }
    }

    fn session_token(&self, expires_micros: i64, nonce: u64) -> String {
        let payload = format!("{:016x}{nonce:016x}", expires_micros as u64);
        format!(
            "{SESSION_TOKEN_PREFIX}{payload}{}",
            self.mac(&format!("session\n{payload}"))
        )
    }

    fn session_token_is_valid(&self, token: &str, now_micros: i64) -> bool {
        let Some(rest) = token.strip_prefix(SESSION_TOKEN_PREFIX) else {
            return false;
        };
        if rest.len() != 32 + 64 || !rest.is_ascii() {
            return false;
        }
        let (payload, mac) = rest.split_at(32);
        self.mac(&format!("session\n{payload}")) == mac
            && u64::from_str_radix(&payload[..16], 16)
                .is_ok_and(|expires| now_micros < expires as i64)
    }

    fn mac(&self, payload: &str) -> String {
        // HMAC takes keys of any length: this cannot fail.
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC-SHA256 accepts a 32-byte key");
        mac.update(payload.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// `PUT /meta-data/latest/api/token`.
    pub(crate) async fn put_token(
        &self,
        headers: &HeaderMap,
        now_micros: i64,
        nonce: u64,
    ) -> Response {
        if let Some(failed) = self.failing(false).await {
            return failed;
        }
        if self.session_tokens == SessionTokens::Unsupported {
            return text(StatusCode::NOT_FOUND, "404 Not Found");
        }
        let ttl = headers
            .get("x-metadata-token-ttl-seconds")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<i64>().ok())
            .filter(|ttl| (1..=MAX_SESSION_TTL_SECS).contains(ttl));
        let Some(ttl) = ttl else {
            return text(
                StatusCode::BAD_REQUEST,
                "X-Metadata-Token-Ttl-Seconds must be a whole number of seconds in 1..21600",
            );
        };
        let expires = now_micros.saturating_add(ttl * 1_000_000);
        text(StatusCode::OK, &self.session_token(expires, nonce))
    }

    /// `GET /openstack/latest/securitykey`.
    pub(crate) async fn security_key(&self, headers: &HeaderMap, now_micros: i64) -> Response {
        if let Some(failed) = self.failing(true).await {
            return failed;
        }
        let token = headers
            .get("x-metadata-token")
            .and_then(|value| value.to_str().ok());
        let token_ok = match (token, self.session_tokens) {
            (Some(token), SessionTokens::Required | SessionTokens::Optional) => {
                self.session_token_is_valid(token, now_micros)
            }
            (None, SessionTokens::Required) => false,
            (_, _) => true,
        };
        if !token_ok {
            return text(
                StatusCode::UNAUTHORIZED,
                "401 Unauthorized: the metadata session token is missing, invalid or expired",
            );
        }
        let credential = self.credential(now_micros);
        let body = json!({"credential": {
            "access": credential.access,
            "secret": credential.secret,
            "securitytoken": credential.security_token,
            "expires_at": iam_timestamp(credential.expires_micros),
        }});
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }

    /// The answer of an injected fault, if one is switched on. `security_key` tells which route.
    async fn failing(&self, security_key: bool) -> Option<Response> {
        match self.fault() {
            MetadataFault::None => None,
            MetadataFault::Error => Some(text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "500 Internal Server Error",
            )),
            MetadataFault::Garbage if security_key => {
                Some(text(StatusCode::OK, "<html><body>metadata</body>"))
            }
            MetadataFault::Garbage => Some(text(StatusCode::OK, "")),
            MetadataFault::Slow => {
                tokio::time::sleep(METADATA_SLOW_DELAY).await;
                None
            }
            MetadataFault::NoAgency if security_key => Some(text(
                StatusCode::UNAUTHORIZED,
                "Please configure Cloud Service Agency first",
            )),
            MetadataFault::NoAgency => None,
        }
    }
}

fn text(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain")],
        body.to_owned(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_749_024_869_000_000;
    const MINUTE: i64 = 60_000_000;

    fn metadata() -> Metadata {
        Metadata::new(
            [3; 32],
            Duration::from_secs(30 * 60),
            SessionTokens::Required,
        )
    }

    #[test]
    fn the_credential_stays_the_same_within_half_its_lifetime_and_lives_at_least_that() {
        let metadata = metadata();
        let first = metadata.credential(NOW);
        assert!(Metadata::is_temporary(&first.access));
        assert_eq!(first.secret, metadata.secret_of(&first.access));
        assert!(first.expires_micros - NOW >= 15 * MINUTE);
        assert!(first.expires_micros - NOW <= 30 * MINUTE);
        let window_start = first.expires_micros - 30 * MINUTE;
        assert_eq!(metadata.credential(window_start + 15 * MINUTE - 1), first);
        let next = metadata.credential(window_start + 15 * MINUTE);
        assert_ne!(next.access, first.access);
        assert_eq!(next.expires_micros, first.expires_micros + 15 * MINUTE);
    }

    #[test]
    fn a_security_token_is_valid_for_its_own_access_key_until_it_expires() {
        let metadata = metadata();
        let credential = metadata.credential(NOW);
        let check =
            |access: &str, token: &str, at| metadata.check_security_token(access, token, at);
        assert_eq!(
            check(&credential.access, &credential.security_token, NOW),
            SecurityTokenCheck::Valid
        );
        assert_eq!(
            check(
                &credential.access,
                &credential.security_token,
                credential.expires_micros
            ),
            SecurityTokenCheck::Expired
        );
        let other = metadata.credential(NOW + 20 * MINUTE);
        assert_eq!(
            check(&other.access, &credential.security_token, NOW),
            SecurityTokenCheck::Foreign
        );
        let stranger = Metadata::new([4; 32], Duration::from_secs(1800), SessionTokens::Required);
        assert_eq!(
            stranger.check_security_token(&credential.access, &credential.security_token, NOW),
            SecurityTokenCheck::Unknown
        );
        for junk in ["", "SIMSTS", "demo", "SIMSTSé", &"SIMSTS".repeat(30)] {
            assert_eq!(
                check(&credential.access, junk, NOW),
                SecurityTokenCheck::Unknown,
                "{junk}"
            );
        }
    }

    #[test]
    fn session_tokens_expire_with_their_ttl() {
        let metadata = metadata();
        let token = metadata.session_token(NOW + MINUTE, 9);
        assert!(metadata.session_token_is_valid(&token, NOW));
        assert!(!metadata.session_token_is_valid(&token, NOW + MINUTE));
        assert!(!metadata.session_token_is_valid("SIMMD00", NOW));
        let other = Metadata::new([5; 32], Duration::from_secs(1800), SessionTokens::Required);
        assert!(!other.session_token_is_valid(&token, NOW));
    }

    #[test]
    fn fault_modes_round_trip_through_their_names() {
        for fault in [
            MetadataFault::None,
            MetadataFault::Error,
            MetadataFault::Garbage,
            MetadataFault::Slow,
            MetadataFault::NoAgency,
        ] {
            assert_eq!(MetadataFault::parse(fault.as_str()), Some(fault));
            assert_eq!(MetadataFault::from_u8(fault.to_u8()), fault);
        }
        assert_eq!(MetadataFault::parse("down"), None);
    }

    #[test]
    fn a_tiny_lifetime_still_issues_credentials() {
        let metadata = Metadata::new([3; 32], Duration::ZERO, SessionTokens::Optional);
        let credential = metadata.credential(NOW);
        assert!(credential.expires_micros > NOW);
    }
}
