//! The end-to-end tier: the exporter binary and the shipped files against real outside tools
//! (Prometheus, promtool, Alertmanager; kubectl, kubernetes-validate, systemd-analyze) and for
//! minutes at a time. Every test here is `#[ignore = "needs …"]`, so
//! `cargo test` with only Rust installed skips them; `scripts/test-all.sh` runs them with
//! `--include-ignored`, and so does `cargo test --test end_to_end -- --include-ignored`.

mod helpers;

mod alerts;
mod dashboard;
mod demo;
mod deploy_tools;
mod exposition;
mod gzip;
mod load;
mod probe;
mod prometheus;
mod soak;
mod web;
