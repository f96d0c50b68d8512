//! codearts-repo-exporter: a Prometheus exporter for the statistics-task status of Huawei Cloud
//! CodeArts Repo repositories.
//!
//! The module tree follows one scrape's data flow:
//! [`config`] → [`auth`] → [`client`] → [`collect`] → [`metrics`] → [`http`].
//! [`app`] holds the running config generation and swaps it on reload; [`cli`] is the command
//! line. [`demo`] runs the CodeArts look-alike of the `codearts-sim` crate for `--demo`; the
//! product never reaches it otherwise. [`heap`] holds the crate's one `unsafe` call.

#![deny(unsafe_code)]

pub mod app;
pub mod auth;
pub mod cli;
pub mod client;
pub mod collect;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod heap;
pub mod http;
pub mod logging;
pub mod metrics;
