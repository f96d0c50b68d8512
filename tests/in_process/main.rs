//! The in-process tier: every test that needs only Rust, which plain `cargo test` runs. The
//! exporter runs in this process (its router, against a wiremock or simulated Huawei Cloud), or
//! as a child process of the binary Cargo built; no outside tool is needed. Tests that need one,
//! or minutes of running, are in the end-to-end tier (`tests/end_to_end`).
//!
//! One module per area, and one `helpers` module that every area shares.

mod helpers;

mod architecture;
mod auth;
mod auth_config;
mod compression;
mod config;
mod config_check;
mod config_files;
mod dashboard;
mod deploy;
mod discovery;
mod docs;
mod ecs_agency;
mod hostile_upstream;
mod landing;
mod last_push;
mod logs;
mod metrics_disable;
mod process;
mod properties;
mod refresh;
mod resilience;
mod scrape;
mod secrets;
mod shipped_configs;
mod temporary_credentials;
mod web;
