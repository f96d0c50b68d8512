//! Turning a scrape's results into the Prometheus text format.
//!
//! Per-repository series are written from each scrape's results (a repository that leaves the
//! config leaves `/metrics` with it) straight into the answer's text: at 10,000 repositories
//! building protobuf-style families first cost six times the time and most of the memory
//! (BENCHMARKS.md). This file says what each family shows and how a sample is spelled;
//! [`text`] assembles a scrape's answer from them, reusing what did not change. The exporter's
//! own, long-lived metrics live in [`exporter::ExporterMetrics`] and are encoded by the
//! prometheus crate. Everything here is pure: results and a clock in, text out.

pub mod exporter;
pub mod names;
mod text;

pub use text::{RepositoryText, TextCache};

use std::time::{SystemTime, UNIX_EPOCH};

use prometheus::proto::MetricFamily;
use prometheus::{Encoder, TextEncoder};

use crate::client::StatisticsStatus;
use crate::collect::RepoResult;
use names::Spec;

/// Content type of the Prometheus text format we serve.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Longest raw API string we put in a label (`branch` may be 200 bytes; names up to 200).
pub const MAX_LABEL_LEN: usize = 128;

/// The statuses the state set knows (reference §1.3); anything else is `other`.
pub const KNOWN_EVENT_STATUSES: [&str; 3] = ["waiting", "active", "finish"];
const OTHER_STATUS: &str = "other";

/// `text` cut to at most `max` bytes on a character boundary.
pub fn bounded(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn unix_seconds(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// Appends `value` as a label value of the text format: `\`, `"` and newlines escaped.
fn push_label_value(out: &mut String, value: &str) {
    // Nearly every value needs no escape; copying it whole is several times faster than
    // pushing it character by character.
    if !value.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Appends a sample value: whole numbers without a fraction, others in the shortest form that
/// reads back to the same number, infinities and NaN as the text format spells them. itoa and
/// ryu (serde_json's own formatters) are several times faster than `core::fmt` here, which is
/// most of a 10,000-repository scrape's CPU.
fn push_value(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        out.push_str(itoa::Buffer::new().format(value as i64));
    } else {
        out.push_str(ryu::Buffer::new().format_finite(value));
    }
}

fn push_header(out: &mut String, spec: &Spec) {
    out.push_str("# HELP ");
    out.push_str(spec.name);
    out.push(' ');
    for c in spec.help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push_str("\n# TYPE ");
    out.push_str(spec.name);
    out.push_str(" gauge\n");
}

/// One sample line: `name{<labels>[,extra]} value`.
fn push_sample(out: &mut String, spec: &Spec, labels: &str, extra: &[(&str, &str)], value: f64) {
    out.push_str(spec.name);
    if labels.is_empty() && extra.is_empty() {
        out.push(' ');
        push_value(out, value);
        out.push('\n');
        return;
    }
    out.push('{');
    out.push_str(labels);
    for (name, value) in extra {
        if !out.ends_with('{') {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        push_label_value(out, value);
        out.push('"');
    }
    out.push_str("} ");
    push_value(out, value);
    out.push('\n');
}

/// What every family of a repository needs, worked out once per scrape: its identifying labels
/// (escaped) and its event times (parsed).
struct Prepared {
    labels: String,
    created: Option<f64>,
    updated: Option<f64>,
}

impl Prepared {
    fn new(result: &RepoResult) -> Self {
        let (created, updated) = event(result).map_or((None, None), |e| e.times());
        Self {
            labels: identity_labels(result),
            created,
            updated,
        }
    }
}

/// A repository's identifying labels, written once and reused for each of its series.
fn identity_labels(result: &RepoResult) -> String {
    let mut labels = String::with_capacity(64);
    labels.push_str(names::LABEL_REPOSITORY_ID);
    labels.push_str("=\"");
    labels.push_str(itoa::Buffer::new().format(result.repository.id.get()));
    labels.push('"');
    if let Some(name) = &result.repository.name {
        labels.push(',');
        labels.push_str(names::LABEL_REPOSITORY);
        labels.push_str("=\"");
        push_label_value(&mut labels, bounded(name, MAX_LABEL_LEN));
        labels.push('"');
    }
    labels
}

/// How a result contributes samples to one per-repository family.
enum Samples {
    /// From the result and its prepared labels and times alone: the same results always give
    /// the same text, which is what lets [`text::TextCache`] reuse it.
    OfResult(fn(&mut String, &RepoResult, &Prepared)),
    /// From the prepared times and the scrape time (in Unix seconds).
    AtScrapeTime(fn(&mut String, &Prepared, f64)),
}

/// One per-repository family: its spec and how it is written.
type Family = (&'static Spec, Samples);

fn status(result: &RepoResult) -> Option<&StatisticsStatus> {
    result.status.as_deref()
}

/// The families, in the order they are written; each writes nothing for a result without data.
const FAMILIES: [Family; 13] = [
    (
        &names::UP,
        Samples::OfResult(|out, r, p| {
            let up = if r.error.is_none() { 1.0 } else { 0.0 };
            push_sample(out, &names::UP, &p.labels, &[], up);
        }),
    ),
    (
        &names::CAN_STATISTICS,
        Samples::OfResult(|out, r, p| {
            if let Some(can) = status(r).and_then(|s| s.can_statistics) {
                let value = if can { 1.0 } else { 0.0 };
                push_sample(out, &names::CAN_STATISTICS, &p.labels, &[], value);
            }
        }),
    ),
    (
        &names::REASON,
        Samples::OfResult(|out, r, p| {
            if let Some(reason) = status(r).and_then(|s| s.reason) {
                push_sample(out, &names::REASON, &p.labels, &[], reason as f64);
            }
        }),
    ),
    (
        &names::EVENT_STATUS,
        Samples::OfResult(|out, r, p| {
            let Some(raw) = event(r).and_then(|e| e.status.as_deref()) else {
                return;
            };
            let current = if KNOWN_EVENT_STATUSES.contains(&raw) {
                raw
            } else {
                OTHER_STATUS
            };
            for state in KNOWN_EVENT_STATUSES.iter().chain([&OTHER_STATUS]) {
                let value = if *state == current { 1.0 } else { 0.0 };
                let extra = [(names::LABEL_STATUS, *state)];
                push_sample(out, &names::EVENT_STATUS, &p.labels, &extra, value);
            }
        }),
    ),
    (
        &names::EVENT_INFO,
        Samples::OfResult(|out, r, p| {
            let Some(event) = event(r) else {
                return;
            };
            let extra = [
                (names::LABEL_BRANCH, raw_label(&event.branch)),
                (names::LABEL_STATUS, raw_label(&event.status)),
                (names::LABEL_STAT_DATE, raw_label(&event.stat_date)),
            ];
            push_sample(out, &names::EVENT_INFO, &p.labels, &extra, 1.0);
        }),
    ),
    (
        &names::EVENT_ID,
        Samples::OfResult(|out, r, p| {
            if let Some(id) = event(r).and_then(|e| e.id) {
                push_sample(out, &names::EVENT_ID, &p.labels, &[], id as f64);
            }
        }),
    ),
    (
        &names::EVENT_CREATED,
        Samples::OfResult(|out, _, p| {
            if let Some(at) = p.created {
                push_sample(out, &names::EVENT_CREATED, &p.labels, &[], at);
            }
        }),
    ),
    (
        &names::EVENT_UPDATED,
        Samples::OfResult(|out, _, p| {
            if let Some(at) = p.updated {
                push_sample(out, &names::EVENT_UPDATED, &p.labels, &[], at);
            }
        }),
    ),
    (
        &names::EVENT_AGE,
        Samples::AtScrapeTime(|out, p, now| {
            if let Some(at) = p.updated {
                push_sample(out, &names::EVENT_AGE, &p.labels, &[], now - at);
            }
        }),
    ),
    (
        &names::ERROR,
        Samples::OfResult(|out, r, p| {
            if let Some(class) = r.error {
                let extra = [(names::LABEL_CLASS, class.as_label())];
                push_sample(out, &names::ERROR, &p.labels, &extra, 1.0);
            }
        }),
    ),
    (
        &names::HTTP_STATUS,
        Samples::OfResult(|out, r, p| {
            let status = f64::from(r.http_status);
            push_sample(out, &names::HTTP_STATUS, &p.labels, &[], status);
        }),
    ),
    (
        &names::REQUEST_DURATION,
        Samples::OfResult(|out, r, p| {
            let seconds = r.duration.as_secs_f64();
            push_sample(out, &names::REQUEST_DURATION, &p.labels, &[], seconds);
        }),
    ),
    (
        &names::LAST_SUCCESS,
        Samples::OfResult(|out, r, p| {
            if let Some(at) = r.last_success {
                push_sample(out, &names::LAST_SUCCESS, &p.labels, &[], unix_seconds(at));
            }
        }),
    ),
];

/// An API string as a label value: cut to [`MAX_LABEL_LEN`], empty when absent.
fn raw_label(value: &Option<String>) -> &str {
    bounded(value.as_deref().unwrap_or(""), MAX_LABEL_LEN)
}

fn event(result: &RepoResult) -> Option<&crate::client::StatisticsEvent> {
    status(result)?.event.as_ref()
}

/// The per-repository text of `results`, as of `now`, in one string (`/probe`, tests).
pub fn render_repositories(results: &[RepoResult], now: SystemTime) -> String {
    let mut text = RepositoryText::new(results.to_vec(), now);
    let mut out = Vec::new();
    while let Some(piece) = text.next_piece() {
        out.extend_from_slice(&piece);
    }
    // Every piece was written from `&str`s, cut at line ends.
    String::from_utf8(out)
        .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned())
}

/// Appends one unlabelled gauge, for values computed at scrape time.
pub fn write_gauge(out: &mut String, spec: &Spec, value: f64) {
    push_header(out, spec);
    push_sample(out, spec, "", &[], value);
}

/// Appends the text format of long-lived `families` (the exporter's own registry) to `out`.
pub fn encode(families: &[MetricFamily], out: &mut Vec<u8>) -> Result<(), prometheus::Error> {
    TextEncoder::new().encode(families, out)
}

#[cfg(test)]
mod tests;
