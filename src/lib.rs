//! codearts-repo-exporter: a Prometheus exporter for the statistics-task status of Huawei Cloud
//! CodeArts Repo repositories.
//!
//! The module tree follows one scrape's data flow:
//! [`config`] → [`auth`] → [`client`] → [`collect`] → [`metrics`] → [`http`].
//! [`sim`] is a CodeArts look-alike used by `--demo`, the tests and the benchmarks; the product
//! never reaches it otherwise.

pub mod auth;
pub mod client;
pub mod collect;
pub mod config;
pub mod http;
pub mod metrics;
pub mod sim;
