//! Fixtures for the signed modes: numbered temporary credentials, a wiremock ECS metadata
//! service handing them out, secret files rotated as Kubernetes does, and the simulator
//! in-process with what it recorded. (Their configs: `super::config`.)

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use codearts_sim::{SimConfig, SimHandle};
use codearts_testkit::http::json_of;
use wiremock::matchers::header;
use wiremock::{Request, Respond, ResponseTemplate};

use super::{iam_time, Upstream};

/// The metadata session token the wiremock service hands out.
pub const SESSION_TOKEN: &str = "md-session-s3cret-0001";

/// The metadata service's path for a session token (`PUT`).
pub const TOKEN_PATH: &str = "/meta-data/latest/api/token";

/// The metadata service's path for the temporary credential (`GET`).
pub const KEY_PATH: &str = "/openstack/latest/securitykey";

/// Temporary credential number `n`: `(access, secret, security token)`.
pub fn temporary(n: usize) -> (String, String, String) {
    (
        format!("STSACCESS{n:04}"),
        format!("sts-secret-s3cret-{n:04}"),
        format!("sts-token-s3cret-{n:04}"),
    )
}

/// The security token of temporary credential number `n`.
pub fn security_token(n: usize) -> String {
    temporary(n).2
}

/// A `securitykey` body for credential `n`, expiring at `expires_at`.
pub fn securitykey_body(n: usize, expires_at: SystemTime) -> serde_json::Value {
    let (access, secret, token) = temporary(n);
    serde_json::json!({"credential": {
        "access": access,
        "secret": secret,
        "securitytoken": token,
        "expires_at": iam_time(expires_at),
    }})
}

/// `GET /openstack/latest/securitykey` for wiremock: credential 1, 2, … each living
/// `lifetime` from the moment it is handed out, or, while `failing` holds a status, that status.
#[derive(Clone)]
pub struct SecurityKeys {
    pub calls: Arc<AtomicUsize>,
    pub lifetime: Duration,
    pub failing: Arc<Mutex<Option<u16>>>,
}

impl SecurityKeys {
    pub fn new(lifetime: Duration) -> Self {
        Self {
            calls: Arc::new(AtomicUsize::new(0)),
            lifetime,
            failing: Arc::new(Mutex::new(None)),
        }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn fail_with(&self, status: Option<u16>) {
        *self.failing.lock().unwrap() = status;
    }
}

impl Respond for SecurityKeys {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        if let Some(status) = *self.failing.lock().unwrap() {
            self.calls.fetch_add(1, Ordering::SeqCst);
            return ResponseTemplate::new(status).set_body_string("metadata trouble");
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200)
            .set_body_json(securitykey_body(n, SystemTime::now() + self.lifetime))
    }
}

/// A metadata service as the SDK's `MetadataAccessor` expects it: `PUT` hands out
/// [`SESSION_TOKEN`] for six hours, and `GET` of the security key, with that session token,
/// answers from `keys`.
pub async fn metadata_service(keys: SecurityKeys) -> Upstream {
    let metadata = Upstream::start().await;
    metadata
        .metadata_sessions(session_token(SESSION_TOKEN))
        .and(header("x-metadata-token-ttl-seconds", "21600"))
        .await;
    metadata
        .security_keys(keys)
        .and(header("x-metadata-token", SESSION_TOKEN))
        .await;
    metadata
}

/// The metadata service's answer handing out session token `token`.
pub fn session_token(token: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_string(token)
}

/// Replaces a secret file the way a Kubernetes Secret volume does: a new inode.
pub fn rotate(path: &Path, value: &str) {
    let next = path.with_extension("new");
    std::fs::write(&next, format!("{value}\n")).unwrap();
    std::fs::rename(&next, path).unwrap();
}

/// The simulator for credential tests: answers at once, never fails a repository, records
/// requests, and hands out temporary credentials living `lifetime`.
pub async fn start_sim(lifetime: Duration) -> SimHandle {
    let config = SimConfig {
        temporary_credential_lifetime: lifetime,
        inject_failures: false,
        latency: codearts_sim::Latency::Fixed(Duration::ZERO),
        record_requests: true,
        ..SimConfig::demo()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    codearts_sim::serve(config, listener).await.unwrap()
}

/// The first `n` repository ids of the simulator.
pub fn sim_ids(sim: &SimHandle, n: usize) -> Vec<u32> {
    sim.repositories().iter().take(n).map(|r| r.id).collect()
}

/// The requests the simulator recorded, as JSON.
pub async fn sim_requests(sim: &SimHandle) -> Vec<serde_json::Value> {
    json_of(reqwest::Client::new().get(format!("{}/-/requests", sim.endpoint()))).await
}

/// A recorded request's header `name`.
pub fn recorded_header<'a>(request: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    request["headers"]
        .as_array()?
        .iter()
        .find(|pair| pair[0] == name)
        .and_then(|pair| pair[1].as_str())
}

/// The simulator's current temporary credential, as its metadata service hands it out (the
/// SDK's flow without a session token: the demo's service requires one).
pub async fn sim_temporary_credential(sim: &SimHandle) -> (String, String, String) {
    let client = reqwest::Client::new();
    let session = client
        .put(format!("{}/meta-data/latest/api/token", sim.endpoint()))
        .header("X-Metadata-Token-Ttl-Seconds", "60")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let body: serde_json::Value = json_of(
        client
            .get(format!("{}/openstack/latest/securitykey", sim.endpoint()))
            .header("X-Metadata-Token", session),
    )
    .await;
    let credential = &body["credential"];
    let text = |key: &str| credential[key].as_str().unwrap().to_owned();
    (text("access"), text("secret"), text("securitytoken"))
}
