//! Test support shared by the exporter's integration tests (`tests/`) and its benchmark
//! (`benches/`): child processes that die with the test, readings of a process from `/proc`, a
//! reader for the Prometheus text format, and a real Prometheus server and `promtool`.
//!
//! It knows nothing of the exporter's types, so it can be a dependency of the exporter's tests
//! without a second copy of the exporter crate; what needs the exporter's own API lives in
//! `tests/common`.

pub mod exposition;
pub mod proc_stats;
pub mod procs;
pub mod prometheus;
