//! The credential itself: `GET /openstack/latest/securitykey`, with the session token when
//! there is one, and its answer read as the official SDK reads it.

use std::time::SystemTime;

use reqwest::header::HeaderValue;
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use super::service::{FetchError, MetadataService};
use crate::auth::aksk::Keys;
use crate::config::Secret;
use crate::upstream::{parse_time, RawAnswer};

const SECURITY_KEY_PATH: &str = "/openstack/latest/securitykey";
/// The 401 of an ECS without an agency: a new session token would not help.
pub(crate) const NO_AGENCY: &str = "Please configure Cloud Service Agency first";

/// The `securitykey` request of one metadata service.
pub(crate) struct SecurityKey {
    url: Url,
}

impl SecurityKey {
    pub(crate) fn new(service: &MetadataService) -> Self {
        Self {
            url: service.url(SECURITY_KEY_PATH),
        }
    }

    /// Asks for the credential, sending `session` as `X-Metadata-Token` when given.
    pub(crate) async fn request(
        &self,
        service: &MetadataService,
        session: Option<&Secret>,
        deadline: Instant,
    ) -> Result<RawAnswer, FetchError> {
        let mut builder = service.http().get(self.url.clone());
        if let Some(token) = session {
            let mut value = HeaderValue::from_str(token.expose())
                .map_err(|_| "the session token is not valid in a header".to_owned())?;
            value.set_sensitive(true);
            builder = builder.header("x-metadata-token", value);
        }
        let request = builder
            .build()
            .map_err(|_| "cannot build the metadata request".to_owned())?;
        service.send(request, deadline).await
    }
}

/// Whether a 401's body is the one of an ECS without an agency.
pub(crate) fn mentions_no_agency(body: &[u8]) -> bool {
    String::from_utf8_lossy(body).contains(NO_AGENCY)
}

/// A credential as the service handed it out.
pub(crate) struct Parsed {
    pub keys: Keys,
    pub expires_at: SystemTime,
}

/// Reads a `securitykey` answer as the SDK's `StsAccessor._process_credential` does: the object
/// under `credential` (or `credentials`, or the top level), each field under any of its names.
/// The error never quotes the body: it holds the secret key.
pub(crate) fn parse_credential(body: &[u8]) -> Result<Parsed, FetchError> {
    let invalid = |why: &str| format!("the metadata service answered a securitykey that {why}");
    let value: Value = serde_json::from_slice(body).map_err(|_| invalid("is not JSON"))?;
    let object = value
        .get("credential")
        .or_else(|| value.get("credentials"))
        .unwrap_or(&value);
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| object.get(*name).and_then(Value::as_str))
            .map(str::trim)
            .filter(|text| !text.is_empty())
    };
    let access = field(&["access", "accessKeyId", "access_key_id"])
        .ok_or_else(|| invalid("has no access key"))?;
    let secret = field(&["secret", "secretAccessKey", "secret_access_key"])
        .ok_or_else(|| invalid("has no secret key"))?;
    let token = field(&["securitytoken", "securityToken", "security_token"])
        .ok_or_else(|| invalid("has no security token"))?;
    let expires_at =
        field(&["expires_at", "expiration"]).ok_or_else(|| invalid("has no expires_at"))?;
    let expires_at = parse_time(expires_at)
        .map(SystemTime::from)
        .ok_or_else(|| invalid("has an expires_at that is not an RFC 3339 time"))?;
    Ok(Parsed {
        keys: Keys {
            access: Secret::new(access),
            secret: Secret::new(secret),
            security_token: Some(Secret::new(token)),
        },
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sdk_field_names_and_their_alternatives() {
        let parsed = parse_credential(
            br#"{"credential": {"access": "AK", "secret": "SK", "securitytoken": "ST",
                "expires_at": "2030-01-02T03:04:05.000000Z"}}"#,
        )
        .unwrap();
        assert_eq!(parsed.keys.access.expose(), "AK");
        assert_eq!(parsed.keys.secret.expose(), "SK");
        assert_eq!(
            parsed.keys.security_token.as_ref().map(Secret::expose),
            Some("ST")
        );
        let other = parse_credential(
            br#"{"credentials": {"accessKeyId": "AK", "secretAccessKey": "SK",
                "securityToken": "ST", "expiration": "2030-01-02T03:04:05Z"}}"#,
        )
        .unwrap();
        assert_eq!(other.expires_at, parsed.expires_at);
        let flat = parse_credential(
            br#"{"access_key_id": "AK", "secret_access_key": "SK", "security_token": "ST",
                "expires_at": "2030-01-02T03:04:05Z"}"#,
        )
        .unwrap();
        assert_eq!(flat.keys, parsed.keys);
    }

    #[test]
    fn a_broken_answer_is_refused_without_quoting_it() {
        for (body, why) in [
            (&b"<html>metadata</html>"[..], "is not JSON"),
            (br#"{"credential": {"secret": "SK-SECRET"}}"#, "no access key"),
            (
                br#"{"credential": {"access": "AK", "secret": "SK-SECRET", "securitytoken": "ST"}}"#,
                "no expires_at",
            ),
            (
                br#"{"credential": {"access": "AK", "secret": "SK-SECRET", "securitytoken": "ST", "expires_at": "soon"}}"#,
                "not an RFC 3339 time",
            ),
        ] {
            let err = parse_credential(body).err().unwrap();
            assert!(err.contains(why), "{err}");
            assert!(!err.contains("SK-SECRET"), "{err}");
        }
    }
}
