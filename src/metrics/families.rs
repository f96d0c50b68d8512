//! The per-repository families: for each, its name and HELP (naming the API field the value
//! comes from), its labels, and how one repository's result becomes its samples.

use crate::client::{StatisticsEvent, StatisticsStatus};
use crate::collect::RepositoryResult;
use crate::config::ConfigError;
use crate::upstream::believable;

use super::format::{
    bounded, push_label_value, push_sample, unix_seconds, Lines, Spec, MAX_LABEL_LEN,
};

/// The prefix every per-repository family shares; `metrics.disable` names families without it.
const PREFIX: &str = "codearts_repo_statistics_";

/// Which per-repository families a scrape writes: all but those `metrics.disable` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Families {
    /// Bit `i` set: `FAMILIES[i]` is written.
    enabled: u32,
}

impl Families {
    /// Every family.
    pub const ALL: Families = Families {
        enabled: (1 << FAMILIES.len()) - 1,
    };

    /// Every family but those named in `disable` (`metrics.disable`). A name that is not a
    /// per-repository family, `up` (which says whether the rest can be believed), or a name
    /// given twice is an error naming its entry.
    pub fn without(disable: &[String]) -> Result<Self, ConfigError> {
        let mut families = Self::ALL;
        for (index, name) in disable.iter().enumerate() {
            let key = format!("metrics.disable[{index}]");
            let name = name.trim();
            if name == "up" {
                return Err(ConfigError::invalid(
                    key,
                    "up cannot be disabled: it says whether the other series can be believed",
                ));
            }
            let position = FAMILIES
                .iter()
                .position(|(spec, _)| spec.name.strip_prefix(PREFIX) == Some(name))
                .ok_or_else(|| {
                    ConfigError::invalid(
                        &key,
                        format!(
                            "{name:?} is not a per-repository family; known: {}",
                            Self::names().join(", ")
                        ),
                    )
                })?;
            if !families.contains(position) {
                return Err(ConfigError::invalid(key, format!("{name} is listed twice")));
            }
            families.enabled &= !(1 << position);
        }
        Ok(families)
    }

    /// Whether `FAMILIES[index]` is written.
    pub(super) fn contains(self, index: usize) -> bool {
        self.enabled & (1 << index) != 0
    }

    /// The names `metrics.disable` takes.
    pub fn names() -> Vec<&'static str> {
        FAMILIES
            .iter()
            .filter_map(|(spec, _)| spec.name.strip_prefix(PREFIX))
            .filter(|name| *name != "up")
            .collect()
    }
}

/// The statuses the state set knows (docs/upstream-api.md, "event.status"); anything else is
/// `other`.
pub(crate) const KNOWN_EVENT_STATUSES: [&str; 3] = ["waiting", "active", "finish"];
const OTHER_STATUS: &str = "other";

pub(crate) const LABEL_REPOSITORY_ID: &str = "repository_id";
pub(crate) const LABEL_REPOSITORY: &str = "repository";
pub(crate) const LABEL_CLASS: &str = "class";
pub(crate) const LABEL_STATUS: &str = "status";
pub(crate) const LABEL_BRANCH: &str = "branch";
pub(crate) const LABEL_STAT_DATE: &str = "stat_date";
pub(crate) const LABEL_PROJECT: &str = "project";
pub(crate) const LABEL_PROJECT_ID: &str = "project_id";

// Per-repository metrics, built fresh for every scrape.
pub(crate) const UP: Spec = Spec {
    name: "codearts_repo_statistics_up",
    help: "1 if the last statistics-status request for this repository succeeded, else 0.",
};
pub(crate) const CAN_STATISTICS: Spec = Spec {
    name: "codearts_repo_statistics_can_statistics",
    help: "API field can_statistics as 1/0: whether a statistics run may be started now. Results may be cached (see last_success_timestamp_seconds).",
};
pub(crate) const REASON: Spec = Spec {
    name: "codearts_repo_statistics_reason",
    help: "API field reason: 0 no quota used up, 1 repository quota used up, 2 user quota used up, 3 both. Results may be cached.",
};
pub(crate) const EVENT_STATUS: Spec = Spec {
    name: "codearts_repo_statistics_event_status",
    help: "API field event.status as a state set (waiting, active, finish, other): 1 for the current status. Results may be cached.",
};
pub(crate) const EVENT_INFO: Spec = Spec {
    name: "codearts_repo_statistics_event_info",
    help: "Always 1; labels carry API fields event.branch, event.status and event.stat_date as sent. Results may be cached.",
};
pub(crate) const EVENT_ID: Spec = Spec {
    name: "codearts_repo_statistics_event_id",
    help: "API field event.id of the latest statistics event. Results may be cached.",
};
pub(crate) const EVENT_CREATED: Spec = Spec {
    name: "codearts_repo_statistics_event_created_timestamp_seconds",
    help: "API field event.created_at as Unix seconds. Results may be cached.",
};
pub(crate) const EVENT_UPDATED: Spec = Spec {
    name: "codearts_repo_statistics_event_updated_timestamp_seconds",
    help: "API field event.updated_at as Unix seconds. Results may be cached.",
};
pub(crate) const EVENT_AGE: Spec = Spec {
    name: "codearts_repo_statistics_event_age_seconds",
    help: "Scrape time minus API field event.updated_at, in seconds.",
};
pub(crate) const ERROR: Spec = Spec {
    name: "codearts_repo_statistics_error",
    help: "1 with the error class while the last statistics-status request for this repository failed.",
};
pub(crate) const HTTP_STATUS: Spec = Spec {
    name: "codearts_repo_statistics_http_status",
    help:
        "HTTP status of the last statistics-status answer for this repository (0 when none came).",
};
pub(crate) const REQUEST_DURATION: Spec = Spec {
    name: "codearts_repo_statistics_request_duration_seconds",
    help: "How long the last statistics-status request for this repository took, retries included.",
};
pub(crate) const LAST_SUCCESS: Spec = Spec {
    name: "codearts_repo_statistics_last_success_timestamp_seconds",
    help: "Unix time at which the statistics data now shown for this repository was fetched.",
};
pub(crate) const ANSWER_AGE: Spec = Spec {
    name: "codearts_repo_statistics_answer_age_seconds",
    help: "Scrape time minus when the answer shown for this repository (its data, or its failure) came, in seconds; an answer is shown again while it is kept (scrape.min_interval, or refresh.mode on_change while nothing changed).",
};
pub(crate) const LAST_PUSH: Spec = Spec {
    name: "codearts_repo_statistics_last_push_timestamp_seconds",
    help: "API field created_at of the repository's last push (last-push-event), or with last_push.source listing the repository list's last_repository_updated_at, as Unix seconds; absent without a recorded push. Not asked at every scrape.",
};
pub(crate) const LAG: Spec = Spec {
    name: "codearts_repo_statistics_lag_seconds",
    help: "How far the statistics trail the code: the last push's created_at minus API field event.updated_at, 0 when the statistics are newer; absent when either is unknown.",
};
pub(crate) const LAST_PUSH_UP: Spec = Spec {
    name: "codearts_repo_statistics_last_push_up",
    help: "1 if the last last-push-event request for this repository succeeded (with last_push.source listing: if the repository list has the repository), else 0 (with last_push.enabled).",
};
pub(crate) const REPOSITORY_INFO: Spec = Spec {
    name: "codearts_repo_statistics_repository_info",
    help: "Always 1 for a discovered repository; labels carry the repository list's API fields project_name (as project) and project_id (the CodeArts project).",
};

/// What every family of one repository's result needs, worked out once: its identifying labels
/// (escaped) and its event times (parsed).
pub(super) struct Prepared {
    /// Exactly as long as the labels: a kept block holds one per repository.
    pub(super) labels: Box<str>,
    created: Option<f64>,
    updated: Option<f64>,
    answered: Option<f64>,
}

impl Prepared {
    pub(super) fn new(result: &RepositoryResult) -> Self {
        let (created, updated) = event(result).map_or((None, None), |e| e.times());
        Self {
            labels: identity_labels(result).into_boxed_str(),
            created,
            updated,
            answered: result.answered.map(unix_seconds),
        }
    }
}

/// A repository's identifying labels, written once and reused for each of its series.
fn identity_labels(result: &RepositoryResult) -> String {
    let mut labels = String::with_capacity(64);
    labels.push_str(LABEL_REPOSITORY_ID);
    labels.push_str("=\"");
    labels.push_str(itoa::Buffer::new().format(result.repository.id.get()));
    labels.push('"');
    if let Some(name) = &result.repository.name {
        labels.push(',');
        labels.push_str(LABEL_REPOSITORY);
        labels.push_str("=\"");
        push_label_value(&mut labels, bounded(name, MAX_LABEL_LEN));
        labels.push('"');
    }
    labels
}

/// How a result contributes samples to one per-repository family.
pub(super) enum Samples {
    /// From the result and its prepared labels and times alone: the same results always give
    /// the same text, which is what lets [`text::TextCache`] reuse it.
    OfResult(fn(&mut Lines, &RepositoryResult, &Prepared)),
    /// From the prepared times and the scrape time (in Unix seconds).
    AtScrapeTime(fn(&mut Lines, &Prepared, f64)),
}

/// One per-repository family: its spec and how it is written.
type Family = (&'static Spec, Samples);

fn status(result: &RepositoryResult) -> Option<&StatisticsStatus> {
    result.status.as_deref()
}

/// The families, in the order they are written; each writes nothing for a result without data.
pub(super) const FAMILIES: [Family; 18] = [
    (
        &UP,
        Samples::OfResult(|out, r, p| {
            let up = if r.error.is_none() { 1.0 } else { 0.0 };
            push_sample(out, &UP, &p.labels, &[], up);
        }),
    ),
    (
        &CAN_STATISTICS,
        Samples::OfResult(|out, r, p| {
            if let Some(can) = status(r).and_then(|s| s.can_statistics) {
                let value = if can { 1.0 } else { 0.0 };
                push_sample(out, &CAN_STATISTICS, &p.labels, &[], value);
            }
        }),
    ),
    (
        &REASON,
        Samples::OfResult(|out, r, p| {
            if let Some(reason) = status(r).and_then(|s| s.reason) {
                push_sample(out, &REASON, &p.labels, &[], reason as f64);
            }
        }),
    ),
    (
        &EVENT_STATUS,
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
                let extra = [(LABEL_STATUS, *state)];
                push_sample(out, &EVENT_STATUS, &p.labels, &extra, value);
            }
        }),
    ),
    (
        &EVENT_INFO,
        Samples::OfResult(|out, r, p| {
            let Some(event) = event(r) else {
                return;
            };
            let extra = [
                (LABEL_BRANCH, raw_label(&event.branch)),
                (LABEL_STATUS, raw_label(&event.status)),
                (LABEL_STAT_DATE, raw_label(&event.stat_date)),
            ];
            push_sample(out, &EVENT_INFO, &p.labels, &extra, 1.0);
        }),
    ),
    (
        &EVENT_ID,
        Samples::OfResult(|out, r, p| {
            if let Some(id) = event(r).and_then(|e| e.id) {
                push_sample(out, &EVENT_ID, &p.labels, &[], id as f64);
            }
        }),
    ),
    (
        &EVENT_CREATED,
        Samples::OfResult(|out, _, p| {
            if let Some(at) = p.created {
                push_sample(out, &EVENT_CREATED, &p.labels, &[], at);
            }
        }),
    ),
    (
        &EVENT_UPDATED,
        Samples::OfResult(|out, _, p| {
            if let Some(at) = p.updated {
                push_sample(out, &EVENT_UPDATED, &p.labels, &[], at);
            }
        }),
    ),
    (
        &EVENT_AGE,
        Samples::AtScrapeTime(|out, p, now| {
            if let Some(at) = p.updated {
                push_sample(out, &EVENT_AGE, &p.labels, &[], now - at);
            }
        }),
    ),
    (
        &ERROR,
        Samples::OfResult(|out, r, p| {
            if let Some(class) = r.error {
                let extra = [(LABEL_CLASS, class.as_label())];
                push_sample(out, &ERROR, &p.labels, &extra, 1.0);
            }
        }),
    ),
    (
        &HTTP_STATUS,
        Samples::OfResult(|out, r, p| {
            let status = f64::from(r.http_status);
            push_sample(out, &HTTP_STATUS, &p.labels, &[], status);
        }),
    ),
    (
        &REQUEST_DURATION,
        Samples::OfResult(|out, r, p| {
            let seconds = r.duration.as_secs_f64();
            push_sample(out, &REQUEST_DURATION, &p.labels, &[], seconds);
        }),
    ),
    (
        &LAST_SUCCESS,
        Samples::OfResult(|out, r, p| {
            if let Some(at) = r.last_success {
                push_sample(out, &LAST_SUCCESS, &p.labels, &[], unix_seconds(at));
            }
        }),
    ),
    (
        &ANSWER_AGE,
        Samples::AtScrapeTime(|out, p, now| {
            if let Some(at) = p.answered {
                push_sample(out, &ANSWER_AGE, &p.labels, &[], (now - at).max(0.0));
            }
        }),
    ),
    (
        &REPOSITORY_INFO,
        Samples::OfResult(|out, r, p| {
            let Some(project) = r.repository.project.as_deref() else {
                return;
            };
            let extra = [
                (LABEL_PROJECT, raw_label(&project.name)),
                (LABEL_PROJECT_ID, raw_label(&project.id)),
            ];
            push_sample(out, &REPOSITORY_INFO, &p.labels, &extra, 1.0);
        }),
    ),
    (
        &LAST_PUSH_UP,
        Samples::OfResult(|out, r, p| {
            if let Some(push) = r.last_push {
                let up = if push.up { 1.0 } else { 0.0 };
                push_sample(out, &LAST_PUSH_UP, &p.labels, &[], up);
            }
        }),
    ),
    (
        &LAST_PUSH,
        Samples::OfResult(|out, r, p| {
            if let Some(at) = r.last_push.and_then(|push| push.pushed_at) {
                push_sample(out, &LAST_PUSH, &p.labels, &[], at);
            }
        }),
    ),
    (
        &LAG,
        Samples::OfResult(|out, r, p| {
            if let Some(lag) = lag(r, p) {
                push_sample(out, &LAG, &p.labels, &[], lag);
            }
        }),
    ),
];

/// How far the statistics trail the last push: 0 when they are newer; `None` when either time
/// is unknown, or `event.updated_at` lies in the future of when the answer was fetched (a broken
/// time, which must not make the lag absurd).
fn lag(result: &RepositoryResult, prepared: &Prepared) -> Option<f64> {
    let pushed = result.last_push?.pushed_at?;
    let updated = prepared.updated?;
    let fetched = unix_seconds(result.last_success?);
    if !believable(updated, fetched) {
        return None;
    }
    Some((pushed - updated).max(0.0))
}

/// An API string as a label value: cut to [`MAX_LABEL_LEN`], empty when absent.
fn raw_label(value: &Option<String>) -> &str {
    bounded(value.as_deref().unwrap_or(""), MAX_LABEL_LEN)
}

fn event(result: &RepositoryResult) -> Option<&StatisticsEvent> {
    status(result)?.event.as_ref()
}
