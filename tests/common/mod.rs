//! Shared fixtures for the integration tests, so a test reads as its specification: what the
//! upstream answers ([`Upstream`], [`answers`]), which config the exporter runs ([`config`]),
//! what it is asked ([`app`]) and what its answer shows ([`Body`]).
//!
//! What knows nothing of the exporter (child processes, `/proc`, the text format, Prometheus)
//! lives in the `codearts-testkit` crate and is re-exported here.
// Each test crate uses a part of this module.
#![allow(dead_code, unused_imports)]

pub mod answers;
pub mod app;
pub mod binaries;
pub mod body;
pub mod config;
pub mod counting;
pub mod credentials;
pub mod logs;
pub mod readme;
pub mod upstream;

pub use answers::*;
pub use app::*;
pub use binaries::*;
pub use body::*;
pub use config::*;
pub use counting::*;
pub use logs::*;
pub use readme::*;
pub use upstream::*;

pub use codearts_testkit::exposition::{samples, value, Sample};
pub use codearts_testkit::proc_stats::{proc_sample, ProcSample};
pub use codearts_testkit::procs;
pub use codearts_testkit::prometheus::{
    prometheus_query, promtool_check_metrics, query_until, spawn_prometheus,
};
