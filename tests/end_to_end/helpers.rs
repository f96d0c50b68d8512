//! What only the end-to-end tier needs: where Cargo built the binaries, how long the load and
//! soak tests run, and the simulator's counters. Everything both tiers share is `codearts-testkit`, re-exported here.

pub use codearts_testkit::alertmanager::*;
pub use codearts_testkit::dashboard::*;
pub use codearts_testkit::exporter::*;
pub use codearts_testkit::exposition::{samples, value_in};
pub use codearts_testkit::http::json_of;
pub use codearts_testkit::pki::*;
pub use codearts_testkit::proc_stats::proc_sample;
pub use codearts_testkit::procs;
pub use codearts_testkit::prometheus::*;
pub use codearts_testkit::repo::*;
pub use codearts_testkit::yaml;

/// The exporter binary Cargo built for these tests.
pub const EXPORTER: &str = env!("CARGO_BIN_EXE_codearts-repo-exporter");

/// The simulator binary Cargo built for these tests.
pub const SIMULATOR: &str = env!("CARGO_BIN_EXE_codearts-sim");

/// The whole seconds in environment variable `name`, or `default` when it is unset or not a
/// number (how long the load and soak tests run).
pub fn seconds_from_env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The simulator's counters.
pub async fn sim_stats(endpoint: &str) -> serde_json::Value {
    reqwest::get(format!("{endpoint}/-/stats"))
        .await
        .expect("sim stats")
        .json()
        .await
        .expect("sim stats JSON")
}
