//! `--demo`: the simulator in this process on loopback, and a config that points at it.
//!
//! The config exercises every part of the exporter: IAM auth with tokens that expire within
//! minutes (so renewal shows), a static list and discovery, last pushes (so lag shows), and
//! the simulator's repositories that fail with each error class.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use codearts_sim::{serve, SimConfig, SimHandle};

use crate::config::Config;

/// How many repositories the demo lists statically; discovery finds the rest.
const STATIC_REPOSITORIES: usize = 6;

/// Where the simulator listens unless `--demo.listen-address` says otherwise: a free port on
/// loopback, so that a demo never collides with anything and is reachable from nowhere else.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:0";

/// Starts the simulator on `listen` and returns a config for it. Keep the handle alive while
/// serving.
pub async fn start(listen: SocketAddr) -> Result<(Config, SimHandle), String> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|err| format!("cannot listen on {listen}: {err}"))?;
    let sim = SimConfig::demo();
    let credentials = sim.credentials.clone();
    let handle = serve(sim, listener)
        .await
        .map_err(|err| format!("cannot start: {err}"))?;
    // JSON strings are YAML strings, so every value is quoted safely.
    let quote = |text: &str| serde_json::Value::from(text).to_string();
    let mut yaml = format!(
        "codearts:\n  endpoint: {endpoint}\n  auth:\n    iam:\n      endpoint: {iam}\n      domain: {domain}\n      user: {user}\n      password: {password}\n      project: cn-north-4\nrepositories:\n",
        endpoint = quote(&handle.endpoint()),
        iam = quote(&handle.iam_endpoint()),
        domain = quote(&credentials.iam_domain),
        user = quote(&credentials.iam_user),
        password = quote(&credentials.iam_password),
    );
    for repository in handle.repositories().iter().take(STATIC_REPOSITORIES) {
        yaml.push_str(&format!(
            "  - id: {}\n    name: {}\n",
            repository.id,
            quote(&repository.full_path)
        ));
    }
    yaml.push_str(
        "discovery:\n  enabled: true\n  interval: 2m\nlast_push:\n  enabled: true\n  min_interval: 1m\n\
         scrape:\n  concurrency: 16\n  request_timeout: 2s\n  retries: 1\n",
    );
    let config = Config::parse(&yaml, &|_| None).map_err(|err| format!("demo config: {err}"))?;
    Ok((config, handle))
}
