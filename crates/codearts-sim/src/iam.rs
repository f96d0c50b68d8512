//! The IAM side: `POST /v3/auth/tokens` (password method) and the tokens it issues.
//!
//! Tokens are self-contained — expiry, a random nonce and an HMAC under a key made at start —
//! so checking one needs no shared table and no lock, and issuing many never grows memory.

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;
use std::time::Duration;

use super::answers::{civil, mix};
use super::routes::{error_response, json_response};
use super::SimCredentials;

/// What a presented token turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TokenCheck {
    Valid,
    Expired,
    /// Not issued by this simulator (or altered).
    Unknown,
}

/// Issues and checks the simulator's IAM tokens.
pub(crate) struct Tokens {
    key: [u8; 32],
    lifetime: Duration,
}

/// Marks the tokens as the simulator's; real IAM tokens start with `MII` too.
const TOKEN_PREFIX: &str = "MIISIM";

impl Tokens {
    pub(crate) fn new(key: [u8; 32], lifetime: Duration) -> Self {
        Self { key, lifetime }
    }

    /// A new token issued at `now_micros` (Unix microseconds), with its expiry in microseconds.
    pub(crate) fn issue(&self, now_micros: i64, nonce: u128) -> (String, i64) {
        let lifetime = i64::try_from(self.lifetime.as_micros()).unwrap_or(i64::MAX);
        let expires = now_micros.saturating_add(lifetime);
        let payload = format!("{:016x}{nonce:032x}", expires as u64);
        let token = format!("{TOKEN_PREFIX}{payload}{}", self.mac(&payload));
        (token, expires)
    }

    pub(crate) fn check(&self, token: &str, now_micros: i64) -> TokenCheck {
        let Some(rest) = token.strip_prefix(TOKEN_PREFIX) else {
            return TokenCheck::Unknown;
        };
        if rest.len() != 16 + 32 + 64 || !rest.is_ascii() {
            return TokenCheck::Unknown;
        }
        let (payload, mac) = rest.split_at(48);
        if self.mac(payload) != mac {
            return TokenCheck::Unknown;
        }
        match u64::from_str_radix(&payload[..16], 16) {
            Ok(expires) if now_micros < expires as i64 => TokenCheck::Valid,
            Ok(_) => TokenCheck::Expired,
            Err(_) => TokenCheck::Unknown,
        }
    }

    fn mac(&self, payload: &str) -> String {
        // HMAC takes keys of any length: this cannot fail.
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC-SHA256 accepts a 32-byte key");
        mac.update(payload.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[derive(Deserialize)]
struct TokenRequest {
    auth: AuthBody,
}

#[derive(Deserialize)]
struct AuthBody {
    identity: Identity,
    #[serde(default)]
    scope: Option<Scope>,
}

#[derive(Deserialize)]
struct Identity {
    methods: Vec<String>,
    password: Option<PasswordMethod>,
}

#[derive(Deserialize)]
struct PasswordMethod {
    user: PasswordUser,
}

#[derive(Deserialize)]
struct PasswordUser {
    name: String,
    password: String,
    domain: NamedDomain,
}

#[derive(Deserialize)]
struct NamedDomain {
    name: String,
}

#[derive(Deserialize)]
struct Scope {
    project: Option<ProjectScope>,
    domain: Option<NamedDomain>,
}

#[derive(Deserialize)]
struct ProjectScope {
    name: Option<String>,
    id: Option<String>,
}

/// Answers one token request. `nocatalog` leaves the (here short) service catalog out.
pub(crate) fn issue_token(
    credentials: &SimCredentials,
    tokens: &Tokens,
    body: &Bytes,
    nocatalog: bool,
    now_micros: i64,
    nonce: u128,
) -> Response {
    let request: TokenRequest = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(error) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "IAM.0011",
                &format!("Request body is invalid: {error}"),
            )
        }
    };
    let identity = request.auth.identity;
    let password = match identity.password {
        Some(password) if identity.methods.iter().any(|m| m == "password") => password,
        _ => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "IAM.0011",
                "Request body is invalid: auth.identity.methods must include \"password\" \
                 and auth.identity.password must be set",
            )
        }
    };
    let user = password.user;
    if user.domain.name != credentials.iam_domain
        || user.name != credentials.iam_user
        || user.password != credentials.iam_password
    {
        return error_response(
            StatusCode::UNAUTHORIZED,
            "IAM.0004",
            "The username or password is wrong.",
        );
    }

    let (token, expires_micros) = tokens.issue(now_micros, nonce);
    let domain = json!({"id": opaque_id(&user.domain.name), "name": user.domain.name});
    let mut body = json!({
        "token": {
            "expires_at": iam_timestamp(expires_micros),
            "issued_at": iam_timestamp(now_micros),
            "methods": ["password"],
            "user": {
                "domain": domain,
                "id": opaque_id(&user.name),
                "name": user.name,
                "password_expires_at": "",
            },
            "roles": [{"id": "0", "name": "op_service"}],
        }
    });
    let token_fields = &mut body["token"];
    match request.auth.scope {
        Some(Scope {
            project: Some(project),
            ..
        }) => {
            let name = project.name.unwrap_or_else(|| "cn-north-4".to_owned());
            let id = project.id.unwrap_or_else(|| opaque_id(&name));
            token_fields["project"] = json!({"id": id, "name": name, "domain": domain});
        }
        Some(Scope {
            domain: Some(scoped),
            ..
        }) => token_fields["domain"] = json!({"id": opaque_id(&scoped.name), "name": scoped.name}),
        _ => {}
    }
    if !nocatalog {
        token_fields["catalog"] = json!([{
            "type": "codearts-repo",
            "name": "codehub",
            "endpoints": [{"interface": "public", "region": "cn-north-4", "url": "http://127.0.0.1"}],
        }]);
    }

    let mut response = json_response(StatusCode::CREATED, body.to_string());
    match HeaderValue::from_str(&token) {
        Ok(value) => {
            response.headers_mut().insert("x-subject-token", value);
            response
        }
        // The token is hex behind an ASCII prefix; this branch is unreachable in practice.
        Err(_) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "IAM.0001",
            "token encoding",
        ),
    }
}

/// IAM's time format: UTC with microseconds, `2020-01-04T09:08:49.965000Z`.
fn iam_timestamp(unix_micros: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix_micros.div_euclid(1_000_000));
    let micros = unix_micros.rem_euclid(1_000_000);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{micros:06}Z")
}

/// A stable 32-hex id for a name, like IAM's user, domain and project ids.
fn opaque_id(name: &str) -> String {
    let seed = name.bytes().fold(0u64, |acc, b| mix(acc ^ u64::from(b)));
    format!("{:016x}{:016x}", mix(seed), mix(seed ^ 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_578_128_929_965_000;

    fn tokens() -> Tokens {
        Tokens::new([7; 32], Duration::from_secs(60))
    }

    #[test]
    fn an_issued_token_is_valid_until_its_lifetime_ends() {
        let tokens = tokens();
        let (token, expires) = tokens.issue(NOW, 42);
        assert_eq!(expires, NOW + 60_000_000);
        assert_eq!(tokens.check(&token, NOW), TokenCheck::Valid);
        assert_eq!(tokens.check(&token, expires - 1), TokenCheck::Valid);
        assert_eq!(tokens.check(&token, expires), TokenCheck::Expired);
    }

    #[test]
    fn altered_or_foreign_tokens_are_unknown() {
        let tokens = tokens();
        let (token, _) = tokens.issue(NOW, 42);
        let mut altered = token.clone().into_bytes();
        altered[10] = if altered[10] == b'f' { b'e' } else { b'f' };
        assert_eq!(
            tokens.check(&String::from_utf8(altered).unwrap(), NOW),
            TokenCheck::Unknown
        );
        let other = Tokens::new([8; 32], Duration::from_secs(60));
        assert_eq!(other.check(&token, NOW), TokenCheck::Unknown);
        for junk in ["", "MIISIM", "demo-token", "MIISIMé", &"MIISIM".repeat(40)] {
            assert_eq!(tokens.check(junk, NOW), TokenCheck::Unknown, "{junk}");
        }
    }

    #[test]
    fn iam_timestamps_have_microseconds_and_z() {
        assert_eq!(iam_timestamp(NOW), "2020-01-04T09:08:49.965000Z");
    }
}
