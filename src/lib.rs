//! codearts-repo-exporter: a Prometheus exporter for the statistics-task status of Huawei Cloud
//! CodeArts Repo repositories.
//!
//! The module tree follows one scrape's data flow, each layer using only the ones before it
//! (docs/architecture.md; `tests/in_process/architecture.rs` fails on an import against the flow):
//!
//! [`config`] → [`upstream`] → [`auth`] → [`client`] → [`collect`] → [`metrics`] → [`app`] →
//! [`http`]
//!
//! - [`config`]: the validated configuration (the bottom: it imports no other layer);
//! - [`upstream`]: the HTTP transport, endpoints, failures, error classes and error bodies that
//!   both IAM and CodeArts requests share;
//! - [`auth`]: credentials (tokens, IAM, AK/SK signing) applied to a request;
//! - [`client`]: the CodeArts Repo API — requests, retries, answer models;
//! - [`collect`]: which repositories to ask, when, how many at once, and what each scrape shows;
//! - [`metrics`]: a scrape's results as Prometheus text;
//! - [`app`]: the running config generation and its reload, and one call per HTTP answer;
//! - [`http`]: routes translating HTTP to those calls, the server, TLS and basic auth.
//!
//! Beside the flow: [`cli`] (flags), [`logging`], [`watched_file`] (files re-read on change),
//! [`heap`] (the crate's only `unsafe` calls), and [`demo`] (`--demo`: the `codearts-sim` crate's
//! simulator; the product never reaches it otherwise).

#![deny(unsafe_code)]
// Everything is `pub(crate)` unless the binary, the tests or the benchmarks use it (the list
// below), so the compiler reports what nobody uses.
#![deny(unreachable_pub)]

mod app;
mod auth;
mod cli;
mod client;
mod collect;
mod config;
#[cfg(feature = "demo")]
pub mod demo;
mod heap;
mod http;
pub mod logging;
mod metrics;
mod upstream;
mod watched_file;

// What the binaries (`main.rs`, `bin/codearts-sim.rs`), the tests, the benchmarks and the fuzz
// targets use: the whole public surface.
pub use app::{check, App, StartError};
pub use cli::{parse_listen_address, Flags};
pub use client::{StatisticsEvent, StatisticsStatus};
pub use collect::RepositoryResult;
pub use config::{
    region, AuthConfig, CheckMode, Config, FileKey, ProjectIdSource, ProjectScope, Repository,
    RepositoryId, SecretSource, ServerConfig, Shard, Unchecked, UnsetVariable,
};
pub use heap::use_one_arena;
pub use http::{router, server::serve, web_config::WebConfig};
pub use metrics::{bounded, Families, RepositoryText, MAX_LABEL_LEN};
pub use upstream::ApiErrorBody;
