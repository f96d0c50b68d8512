//! The one helpers module of the in-process tier, so a test reads as its specification: what
//! the upstream answers ([`Upstream`], [`answers`]), which config the exporter runs
//! ([`config`]), what it is asked ([`app`]) and what its answer shows ([`Body`]).
//!
//! What the end-to-end tier needs too, and what knows the exporter only from outside (child
//! processes, the text format, Prometheus, the test PKI, the repository's files, YAML, the
//! binaries driven as processes), lives in the `codearts-testkit` crate and is re-exported here.

pub mod answers;
pub mod app;
pub mod body;
pub mod config;
pub mod counting;
pub mod credentials;
pub mod logs;
pub mod upstream;
pub mod web;

pub use answers::*;
pub use app::*;
pub use body::*;
pub use config::*;
pub use counting::*;
pub use credentials::*;
pub use logs::*;
pub use upstream::*;
pub use web::*;

pub use codearts_testkit::dashboard::*;
pub use codearts_testkit::exporter::*;
pub use codearts_testkit::exposition::{samples, value, Sample};
pub use codearts_testkit::pki::*;
pub use codearts_testkit::proc_stats::proc_sample;
pub use codearts_testkit::procs;
pub use codearts_testkit::repo::*;
pub use codearts_testkit::yaml;

/// The exporter binary Cargo built for these tests.
pub const EXPORTER: &str = env!("CARGO_BIN_EXE_codearts-repo-exporter");

/// The simulator binary Cargo built for these tests.
pub const SIMULATOR: &str = env!("CARGO_BIN_EXE_codearts-sim");

/// Runs `test` to its end on a runtime of two worker threads, as
/// `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` does: for the tests that run in
/// a process of their own (`rusty_fork_test!` takes a plain function).
pub fn block_on<F: std::future::Future>(test: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(test)
}

/// Runs `test` to its end with every task on this thread, as `#[tokio::test]` does: for the
/// tests that run in a process of their own and read what this thread logs.
pub fn block_on_this_thread<F: std::future::Future>(test: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(test)
}
