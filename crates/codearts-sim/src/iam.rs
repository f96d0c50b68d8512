//! The IAM side: `POST /v3/auth/tokens` (password method) and the tokens it issues, and
//! `GET /v3/projects?name=` (KeystoneListProjects), through which the official SDK looks up the
//! project id of a region (`huaweicloudsdkcore/auth/internal.py`,
//! `IamHelper.get_keystone_list_projects_request`, signed with the caller's AK/SK).
//!
//! The account has one project per region of [`PROJECTS`], each with a stable 32-hex id (the same
//! in every run), plus a sub-project `cn-north-4_dev`; an unknown name lists no project.
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

use super::answers::civil;
use super::catalog::opaque_hex;
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
    let domain = json!({"id": opaque_hex(&user.domain.name), "name": user.domain.name});
    let mut body = json!({
        "token": {
            "expires_at": iam_timestamp(expires_micros),
            "issued_at": iam_timestamp(now_micros),
            "methods": ["password"],
            "user": {
                "domain": domain,
                "id": opaque_hex(&user.name),
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
            let id = project.id.unwrap_or_else(|| project_id(&name));
            token_fields["project"] = json!({"id": id, "name": name, "domain": domain});
        }
        Some(Scope {
            domain: Some(scoped),
            ..
        }) => token_fields["domain"] = json!({"id": opaque_hex(&scoped.name), "name": scoped.name}),
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
pub(crate) fn iam_timestamp(unix_micros: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix_micros.div_euclid(1_000_000));
    let micros = unix_micros.rem_euclid(1_000_000);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{micros:06}Z")
}

/// The account's IAM projects: one per region where CodeArts Repo runs (the regions of the SDK's
/// `CodeArtsRepoRegion`), and a sub-project.
pub(crate) const PROJECTS: [&str; 17] = [
    "af-north-1",
    "af-south-1",
    "ap-southeast-3",
    "cn-east-2",
    "cn-east-3",
    "cn-north-1",
    "cn-north-4",
    "cn-north-4_dev",
    "cn-south-1",
    "cn-south-2",
    "cn-southwest-2",
    "eu-west-101",
    "la-north-2",
    "la-south-2",
    "me-east-1",
    "sa-brazil-1",
    "tr-west-1",
];

/// The id of the project named `name`: the same in every run.
pub(crate) fn project_id(name: &str) -> String {
    opaque_hex(&format!("project:{name}"))
}

/// Every project id `GET /v3/projects` hands out.
pub(crate) fn project_ids() -> std::collections::HashSet<String> {
    PROJECTS.iter().map(|name| project_id(name)).collect()
}

/// `GET /v3/projects[?name=…]`, answered at `base_url` (scheme and host) for `domain`, as the
/// SDK's `KeystoneListProjectsResponse`: `projects` (`ProjectResult`s) and `links`.
pub(crate) fn list_projects(domain: &str, base_url: &str, query: &str) -> Response {
    let mut name = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if key == "name" {
            name = Some(value.into_owned());
        }
    }
    let domain_id = opaque_hex(domain);
    let projects: Vec<serde_json::Value> = PROJECTS
        .iter()
        .filter(|project| name.as_deref().is_none_or(|name| name == **project))
        .map(|project| {
            let id = project_id(project);
            json!({
                "id": id,
                "name": project,
                "domain_id": domain_id,
                "parent_id": domain_id,
                "description": "",
                "enabled": true,
                "is_domain": false,
                "links": {"self": format!("{base_url}/v3/projects/{id}")},
            })
        })
        .collect();
    let own = if query.is_empty() {
        format!("{base_url}/v3/projects")
    } else {
        format!("{base_url}/v3/projects?{query}")
    };
    let body = json!({
        "projects": projects,
        "links": {"self": own, "previous": null, "next": null},
    });
    json_response(StatusCode::OK, body.to_string())
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

    #[tokio::test]
    async fn projects_are_listed_by_name_with_stable_ids() {
        let response = list_projects("demo-domain", "http://127.0.0.1:1", "name=cn-north-4");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let projects = body["projects"].as_array().unwrap();
        assert_eq!(projects.len(), 1);
        assert_eq!(projects[0]["name"], "cn-north-4");
        assert_eq!(projects[0]["id"], project_id("cn-north-4"));
        assert_eq!(projects[0]["enabled"], true);
        assert_eq!(projects[0]["domain_id"].as_str().unwrap().len(), 32);
        assert_eq!(
            body["links"]["self"],
            "http://127.0.0.1:1/v3/projects?name=cn-north-4"
        );
        assert!(project_ids().contains(projects[0]["id"].as_str().unwrap()));
        // Stable across runs: a pure function of the name.
        assert_eq!(project_id("cn-north-4"), project_id("cn-north-4"));
        assert_ne!(project_id("cn-north-4"), project_id("cn-north-1"));
    }

    #[tokio::test]
    async fn an_unknown_project_name_lists_nothing() {
        let response = list_projects("demo-domain", "http://127.0.0.1:1", "name=mars-1");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["projects"], json!([]));
        let response = list_projects("demo-domain", "http://127.0.0.1:1", "");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["projects"].as_array().unwrap().len(), PROJECTS.len());
    }

    #[test]
    fn iam_timestamps_have_microseconds_and_z() {
        assert_eq!(iam_timestamp(NOW), "2020-01-04T09:08:49.965000Z");
    }
}
