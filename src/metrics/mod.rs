//! Turning a scrape's results into the Prometheus text format.
//!
//! Per-repository series are written from each scrape's results (a repository that leaves the
//! config leaves `/metrics` with it) straight into the answer's text: building protobuf-style
//! families first cost several times the time and most of the memory (BENCHMARKS.md,
//! "Figures behind the code"). [`families`] says what each family shows, [`format`] how a sample is
//! spelled, and [`text`] assembles a scrape's answer from them, reusing what did not change.
//! Everything here is pure: results and a clock in, text out. The exporter's own, long-lived
//! metrics are registered by the components they describe.

pub(crate) mod families;
mod format;
mod text;

pub use families::Families;
pub use format::{bounded, MAX_LABEL_LEN};
pub use text::RepositoryText;
pub(crate) use text::TextCache;

/// Content type of the Prometheus text format we serve.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests;
