//! Test support that both test tiers (`tests/in_process`, `tests/end_to_end`) and the benchmark
//! (`benches/`) share: child processes that die with the test, readings of a process from
//! `/proc`, a reader for the Prometheus text format, a real Prometheus server and `promtool`, a
//! real Alertmanager with a webhook that records what it sends, a throw-away PKI, the
//! repository's own files (documentation, dashboard, YAML manifests), and the exporter and its
//! simulator driven from outside.
//!
//! It links none of the exporter's crates, so it can be a dependency of the exporter's tests
//! without a second copy of the exporter: it knows the exporter only from outside (its
//! binaries, config text and metric names). What needs the exporter's own API lives in the
//! helpers module of the test binary that uses it.

pub mod alertmanager;
pub mod dashboard;
pub mod exporter;
pub mod exposition;
pub mod http;
pub mod pki;
pub mod proc_stats;
pub mod procs;
pub mod prometheus;
pub mod repo;
pub mod yaml;
