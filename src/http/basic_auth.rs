//! HTTP basic auth against the `basic_auth_users` of the web config, as a middleware on every
//! route but `/healthz` (liveness probes carry no credentials, and "the process serves" is no
//! secret) and the web config's `auth_excluded_paths`.
//!
//! bcrypt is slow on purpose (tens of milliseconds at cost 10), so a successful check is
//! remembered: per user, the bcrypt hash it was made against and SHA-256(per-process random
//! salt ‖ password) — never the password itself. A request whose digest matches (compared in
//! constant time) skips bcrypt; any other password is checked by bcrypt again, so a wrong
//! password after a right one is still refused. bcrypt runs off the async workers and one at a
//! time, like exporter-toolkit, so a flood of wrong passwords costs one core, not all of them;
//! scrapes with remembered credentials never wait for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use super::web_config::{Loaded, WebConfig};
use super::HEALTHZ_PATH;

const CHALLENGE: &str = "Basic realm=\"codearts-repo-exporter\"";

/// Puts `router` behind basic auth (when the web config has users; checked per request, so
/// users added to the file later apply too).
pub(crate) fn protect(router: Router, web: Arc<WebConfig>) -> Router {
    let guard = Arc::new(Guard {
        web,
        verifier: Verifier::new(),
    });
    router.layer(axum::middleware::from_fn_with_state(guard, require))
}

struct Guard {
    web: Arc<WebConfig>,
    verifier: Verifier,
}

async fn require(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    if request.uri().path() == HEALTHZ_PATH {
        return next.run(request).await;
    }
    let loaded = guard.web.current();
    if !loaded.requires_auth() || loaded.auth_excluded(request.uri().path()) {
        return next.run(request).await;
    }
    let accepted = match credentials(request.headers()) {
        Some((user, password)) => guard.verifier.verify(&loaded, &user, &password).await,
        None => false,
    };
    if accepted {
        next.run(request).await
    } else {
        tracing::debug!(path = %request.uri().path(), "basic auth refused");
        unauthorized()
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [
            (
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(CHALLENGE),
            ),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
        ],
        "Unauthorized\n",
    )
        .into_response()
}

/// User and password of an `Authorization: Basic …` header.
fn credentials(headers: &HeaderMap) -> Option<(String, Vec<u8>)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let user = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((user, decoded[colon + 1..].to_vec()))
}

/// Checks passwords with bcrypt, remembering successes (see the module docs).
struct Verifier {
    salt: [u8; 32],
    /// User → the last password that passed bcrypt, as a salted digest.
    remembered: Mutex<HashMap<String, Remembered>>,
    bcrypt: Semaphore,
}

struct Remembered {
    hash: String,
    digest: [u8; 32],
}

impl Verifier {
    fn new() -> Self {
        Self {
            salt: rand::random(),
            remembered: Mutex::new(HashMap::new()),
            bcrypt: Semaphore::new(1),
        }
    }

    fn digest(&self, password: &[u8]) -> [u8; 32] {
        let mut sha = Sha256::new();
        sha.update(self.salt);
        sha.update(password);
        sha.finalize().into()
    }

    async fn verify(&self, users: &Loaded, user: &str, password: &[u8]) -> bool {
        let digest = self.digest(password);
        let hash = users.hash_of(user);
        if let (Some(hash), Ok(remembered)) = (hash, self.remembered.lock()) {
            if let Some(r) = remembered.get(user) {
                // The hash comparison is of public config; the digest one must not leak.
                if r.hash == hash && bool::from(r.digest.ct_eq(&digest)) {
                    return true;
                }
            }
        }
        // An unknown user costs a bcrypt too, so timing does not tell which users exist.
        let Some(against) = hash.or_else(|| users.any_hash()) else {
            return false;
        };
        let Ok(_slot) = self.bcrypt.acquire().await else {
            return false;
        };
        let (against, password_copy) = (against.to_owned(), password.to_vec());
        let matched = tokio::task::spawn_blocking(move || {
            bcrypt::verify(&password_copy, &against).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        let ok = matched && hash.is_some();
        if let (true, Some(hash), Ok(mut remembered)) = (ok, hash, self.remembered.lock()) {
            remembered.insert(
                user.to_owned(),
                Remembered {
                    hash: hash.to_owned(),
                    digest,
                },
            );
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn reads_basic_credentials_with_a_colon_in_the_password() {
        // "alice:pa:ss"
        let (user, password) = credentials(&headers("Basic YWxpY2U6cGE6c3M=")).unwrap();
        assert_eq!(user, "alice");
        assert_eq!(password, b"pa:ss");
        assert!(credentials(&headers("basic YWxpY2U6cGE6c3M=")).is_some());
    }

    #[test]
    fn ignores_other_schemes_and_garbage() {
        assert!(credentials(&headers("Bearer abc")).is_none());
        assert!(credentials(&headers("Basic !!!")).is_none());
        // "alice" without a colon
        assert!(credentials(&headers("Basic YWxpY2U=")).is_none());
        assert!(credentials(&HeaderMap::new()).is_none());
    }

    #[test]
    fn digests_are_salted_per_process() {
        let (a, b) = (Verifier::new(), Verifier::new());
        assert_ne!(a.digest(b"secret"), b.digest(b"secret"));
        assert_eq!(a.digest(b"secret"), a.digest(b"secret"));
    }
}
