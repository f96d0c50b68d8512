//! Turning a scrape's results into Prometheus metric families, and encoding them as text.
//!
//! Per-repository families are built fresh from each scrape's results (a repository that
//! leaves the config leaves `/metrics` with it); the exporter's own metrics live in
//! [`exporter::ExporterMetrics`]. Everything here is pure: results and a clock in, families out.

pub mod exporter;
pub mod names;

use std::time::{SystemTime, UNIX_EPOCH};

use prometheus::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{Encoder, TextEncoder};

use crate::client::model::parse_time;
use crate::collect::RepoResult;
use names::Spec;

/// Content type of the Prometheus text format we serve.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Longest raw API string we put in a label (`branch` may be 200 bytes; names up to 200).
pub const MAX_LABEL_LEN: usize = 128;

/// The statuses the state set knows (reference §1.3); anything else is `other`.
pub const KNOWN_EVENT_STATUSES: [&str; 3] = ["waiting", "active", "finish"];
const OTHER_STATUS: &str = "other";

/// The per-repository families of one scrape.
pub struct RepoFamilies {
    up: MetricFamily,
    can_statistics: MetricFamily,
    reason: MetricFamily,
    event_status: MetricFamily,
    event_info: MetricFamily,
    event_id: MetricFamily,
    event_created: MetricFamily,
    event_updated: MetricFamily,
    event_age: MetricFamily,
    error: MetricFamily,
    http_status: MetricFamily,
    request_duration: MetricFamily,
    last_success: MetricFamily,
}

fn family(spec: &Spec) -> MetricFamily {
    let mut family = MetricFamily::default();
    family.set_name(spec.name.to_owned());
    family.set_help(spec.help.to_owned());
    family.set_field_type(MetricType::GAUGE);
    family
}

fn label(name: &str, value: &str) -> LabelPair {
    let mut pair = LabelPair::default();
    pair.set_name(name.to_owned());
    pair.set_value(value.to_owned());
    pair
}

fn push(family: &mut MetricFamily, labels: Vec<LabelPair>, value: f64) {
    let mut gauge = Gauge::default();
    gauge.set_value(value);
    let mut metric = Metric::from_gauge(gauge);
    metric.set_label(labels);
    family.mut_metric().push(metric);
}

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

impl Default for RepoFamilies {
    fn default() -> Self {
        Self::new()
    }
}

impl RepoFamilies {
    pub fn new() -> Self {
        Self {
            up: family(&names::UP),
            can_statistics: family(&names::CAN_STATISTICS),
            reason: family(&names::REASON),
            event_status: family(&names::EVENT_STATUS),
            event_info: family(&names::EVENT_INFO),
            event_id: family(&names::EVENT_ID),
            event_created: family(&names::EVENT_CREATED),
            event_updated: family(&names::EVENT_UPDATED),
            event_age: family(&names::EVENT_AGE),
            error: family(&names::ERROR),
            http_status: family(&names::HTTP_STATUS),
            request_duration: family(&names::REQUEST_DURATION),
            last_success: family(&names::LAST_SUCCESS),
        }
    }

    /// Adds one repository's series, as of `now`.
    pub fn add(&mut self, result: &RepoResult, now: SystemTime) {
        let id = result.repository.id.to_string();
        let mut base = vec![label(names::LABEL_REPOSITORY_ID, &id)];
        if let Some(name) = &result.repository.name {
            base.push(label(names::LABEL_REPOSITORY, bounded(name, MAX_LABEL_LEN)));
        }
        let with = |extra: &[(&str, &str)]| {
            let mut labels = base.clone();
            labels.extend(extra.iter().map(|(name, value)| label(name, value)));
            labels
        };

        push(
            &mut self.up,
            base.clone(),
            if result.error.is_none() { 1.0 } else { 0.0 },
        );
        if let Some(class) = result.error {
            push(
                &mut self.error,
                with(&[(names::LABEL_CLASS, class.as_label())]),
                1.0,
            );
        }
        push(
            &mut self.http_status,
            base.clone(),
            f64::from(result.http_status),
        );
        push(
            &mut self.request_duration,
            base.clone(),
            result.duration.as_secs_f64(),
        );
        if let Some(at) = result.last_success {
            push(&mut self.last_success, base.clone(), unix_seconds(at));
        }

        let Some(status) = result.status.as_deref() else {
            return;
        };
        if let Some(can) = status.can_statistics {
            push(
                &mut self.can_statistics,
                base.clone(),
                if can { 1.0 } else { 0.0 },
            );
        }
        if let Some(reason) = status.reason {
            push(&mut self.reason, base.clone(), reason as f64);
        }
        let Some(event) = &status.event else {
            return;
        };
        if let Some(raw) = event.status.as_deref() {
            let current = if KNOWN_EVENT_STATUSES.contains(&raw) {
                raw
            } else {
                OTHER_STATUS
            };
            for state in KNOWN_EVENT_STATUSES.iter().chain([&OTHER_STATUS]) {
                push(
                    &mut self.event_status,
                    with(&[(names::LABEL_STATUS, state)]),
                    if *state == current { 1.0 } else { 0.0 },
                );
            }
        }
        push(
            &mut self.event_info,
            with(&[
                (
                    names::LABEL_BRANCH,
                    bounded(event.branch.as_deref().unwrap_or(""), MAX_LABEL_LEN),
                ),
                (
                    names::LABEL_STATUS,
                    bounded(event.status.as_deref().unwrap_or(""), MAX_LABEL_LEN),
                ),
                (
                    names::LABEL_STAT_DATE,
                    bounded(event.stat_date.as_deref().unwrap_or(""), MAX_LABEL_LEN),
                ),
            ]),
            1.0,
        );
        if let Some(event_id) = event.id {
            push(&mut self.event_id, base.clone(), event_id as f64);
        }
        if let Some(created) = event.created_at.as_deref().and_then(parse_time) {
            push(
                &mut self.event_created,
                base.clone(),
                created.unix_timestamp_nanos() as f64 / 1e9,
            );
        }
        if let Some(updated) = event.updated_at.as_deref().and_then(parse_time) {
            let updated = updated.unix_timestamp_nanos() as f64 / 1e9;
            push(&mut self.event_updated, base.clone(), updated);
            push(&mut self.event_age, base, unix_seconds(now) - updated);
        }
    }

    /// The families that have at least one series, in a stable order.
    pub fn into_families(self) -> Vec<MetricFamily> {
        [
            self.up,
            self.can_statistics,
            self.reason,
            self.event_status,
            self.event_info,
            self.event_id,
            self.event_created,
            self.event_updated,
            self.event_age,
            self.error,
            self.http_status,
            self.request_duration,
            self.last_success,
        ]
        .into_iter()
        .filter(|family| !family.get_metric().is_empty())
        .collect()
    }
}

/// Families for `results`, as of `now`.
pub fn repository_families(results: &[RepoResult], now: SystemTime) -> Vec<MetricFamily> {
    let mut families = RepoFamilies::new();
    for result in results {
        families.add(result, now);
    }
    families.into_families()
}

/// A gauge family with one unlabelled series, for values computed at scrape time.
pub fn single_gauge(spec: &Spec, value: f64) -> MetricFamily {
    let mut family = family(spec);
    push(&mut family, Vec::new(), value);
    family
}

/// Appends the text format of `families` to `out`.
pub fn encode(families: &[MetricFamily], out: &mut Vec<u8>) -> Result<(), prometheus::Error> {
    TextEncoder::new().encode(families, out)
}

#[cfg(test)]
mod tests;
