//! The simulator over real HTTP, as the exporter and the benchmark see it: one module per
//! route or part, and here what they share (a simulator on a free port, requests as a client
//! sends them, the SDK's reading of an error).

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::*;
use codearts_testkit::http::json_of;
use huaweicloud_signer as signer;

mod access;
mod faults;
mod iam;
mod last_push;
mod listing;
mod metadata;
mod server;
mod status;

async fn start(config: SimConfig) -> SimHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(config, listener).await.unwrap()
}

fn demo_without_latency() -> SimConfig {
    SimConfig {
        latency: Latency::Fixed(Duration::ZERO),
        ..SimConfig::demo()
    }
}

fn status_url(sim: &SimHandle, id: u32) -> String {
    format!(
        "{}/v4/repositories/{id}/repository/statistics-status",
        sim.endpoint()
    )
}

async fn get_with_token(url: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(url)
        .header("X-Auth-Token", "demo-token")
        .send()
        .await
        .unwrap()
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error_code"].as_str().unwrap().to_owned()
}

/// An integer as the SDK's `int(…)` reads it: a number, or a string of digits.
fn lenient_int(value: &Value) -> Option<u64> {
    match value {
        Value::String(text) => text.parse().ok(),
        other => other.as_u64(),
    }
}

/// The error code as the SDK's `exception_handler.py` finds it: `error_code`/`error_msg`, then
/// `errorCode`/`errorMsg`, then `code`/`message`, then the same inside nested objects.
fn sdk_error_code(body: &Value) -> Option<String> {
    let fields = body.as_object()?;
    for (code, message) in [
        ("error_code", "error_msg"),
        ("errorCode", "errorMsg"),
        ("code", "message"),
    ] {
        if let (Some(code), true) = (fields.get(code), fields.contains_key(message)) {
            return Some(match code {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            });
        }
    }
    fields.values().find_map(sdk_error_code)
}

fn healthy_ids(sim: &SimHandle) -> Vec<u32> {
    let faulty: BTreeSet<u32> = sim
        .failing_repositories()
        .into_iter()
        .chain(sim.flaky_repositories())
        .map(|(id, _)| id)
        .collect();
    sim.repositories()
        .into_iter()
        .map(|r| r.id)
        .filter(|id| !faulty.contains(id))
        .collect()
}

/// A GET signed as the SDK signs it: over `host`, `x-sdk-date` and `extra` headers.
fn signed_get(
    sim: &SimHandle,
    url: &str,
    access: &str,
    secret: &str,
    extra: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    let parsed = url::Url::parse(url).unwrap();
    let host = format!("{}", sim.addr);
    let date = signer::sdk_date(time::OffsetDateTime::now_utc());
    let mut headers = vec![("host", host.as_str()), ("x-sdk-date", date.as_str())];
    headers.extend_from_slice(extra);
    let signed = signer::sign("GET", &parsed, &headers, b"", access, secret.as_bytes());
    let mut request = reqwest::Client::new()
        .get(url)
        .header("X-Sdk-Date", &date)
        .header("Authorization", signed.authorization);
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request
}

fn token_request(password: &str) -> Value {
    json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "demo", "password": password, "domain": {"name": "demo-domain"}}}},
        "scope": {"project": {"name": "cn-north-4"}}}})
}

fn last_push_url(sim: &SimHandle, id: u32) -> String {
    format!("{}/v4/repositories/{id}/last-push-event", sim.endpoint())
}

/// The metadata service's URL of a session token (`PUT`).
fn session_token_url(sim: &SimHandle) -> String {
    format!("{}/meta-data/latest/api/token", sim.metadata_endpoint())
}

/// The metadata service's URL of the temporary credential (`GET`).
fn security_key_url(sim: &SimHandle) -> String {
    format!("{}/openstack/latest/securitykey", sim.metadata_endpoint())
}

/// What the simulator recorded (`GET /-/requests`), oldest first.
async fn recorded_requests(sim: &SimHandle) -> Vec<Value> {
    json_of(reqwest::Client::new().get(format!("{}/-/requests", sim.endpoint()))).await
}
