//! The JSON the API answers with, modelled leniently: every field optional, unknown fields
//! ignored, `reason` as a number or a string (the official SDK accepts both).

use std::sync::OnceLock;

use serde::{Deserialize, Deserializer};

use crate::upstream::parse_time;

/// The body of `GET /v4/repositories/{id}/repository/statistics-status` (reference §1.2).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct StatisticsStatus {
    #[serde(default)]
    pub can_statistics: Option<bool>,
    #[serde(default, deserialize_with = "reason_number_or_string")]
    pub reason: Option<i64>,
    /// `None` when statistics never ran (the field is missing or null).
    #[serde(default)]
    pub event: Option<StatisticsEvent>,
}

/// `StatisticEventsDto`, the latest statistics run.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct StatisticsEvent {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub stat_date: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    /// A cache of [`StatisticsEvent::times`]; leave it `Default` when building an event. Public
    /// only so that `..Default::default()` works outside this module. A cached answer is shown
    /// by many scrapes, and parsing its times each time was a tenth of a 10,000-repository scrape.
    #[serde(skip)]
    pub times: OnceLock<(Option<f64>, Option<f64>)>,
}

impl StatisticsEvent {
    /// (`created_at`, `updated_at`) as Unix seconds; `None` for a missing or unparseable time.
    pub fn times(&self) -> (Option<f64>, Option<f64>) {
        *self.times.get_or_init(|| {
            let seconds = |text: &Option<String>| {
                parse_time(text.as_deref()?).map(|t| t.unix_timestamp_nanos() as f64 / 1e9)
            };
            (seconds(&self.created_at), seconds(&self.updated_at))
        })
    }
}

/// One entry of `GET /v4/user/repositories` (`RepositorySimplestDto`, reference §3.1); only the
/// fields discovery uses.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RepositorySummary {
    pub id: i64,
    #[serde(default)]
    pub path_with_namespace: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub archived: Option<bool>,
}

impl RepositorySummary {
    /// Parses a page: a top-level JSON array. Entries that are not repositories make the whole
    /// page invalid rather than silently shrinking the list.
    pub fn page_from_body(body: &[u8]) -> Option<Vec<Self>> {
        serde_json::from_slice(body).ok()
    }
}

impl StatisticsStatus {
    /// Parses a 200 body. Only a JSON object is a status: serde would otherwise accept an array
    /// as a struct written positionally.
    pub fn from_body(body: &[u8]) -> Option<Self> {
        let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
        if *first != b'{' {
            return None;
        }
        serde_json::from_slice(body).ok()
    }
}

fn reason_number_or_string<'de, D>(deserializer: D) -> Result<Option<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrString {
        Number(i64),
        Float(f64),
        String(String),
    }
    // An unreadable reason drops that one metric; it does not fail the repository.
    Ok(
        match Option::<NumberOrString>::deserialize(deserializer).unwrap_or(None) {
            Some(NumberOrString::Number(n)) => Some(n),
            Some(NumberOrString::Float(f)) if f.fract() == 0.0 && f.abs() < 1e15 => Some(f as i64),
            Some(NumberOrString::String(s)) => s.trim().trim_matches('"').parse().ok(),
            _ => None,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let body = br#"{"can_statistics": true, "reason": 0,
 "event": {"id": 1, "user_id": 2, "project_id": 123456, "branch": "master", "status": "finish",
           "stat_date": "20250604", "created_at": "2025-06-04T16:14:29+08:00", "updated_at": "2025-06-04T16:14:29+08:00"}}"#;
        let status: StatisticsStatus = serde_json::from_slice(body).unwrap();
        assert_eq!(status.can_statistics, Some(true));
        assert_eq!(status.reason, Some(0));
        let event = status.event.unwrap();
        assert_eq!(event.id, Some(1));
        assert_eq!(event.branch.as_deref(), Some("master"));
        assert_eq!(event.status.as_deref(), Some("finish"));
        assert_eq!(
            parse_time(event.updated_at.as_deref().unwrap())
                .unwrap()
                .unix_timestamp(),
            1_749_024_869
        );
    }

    #[test]
    fn reason_may_be_a_string() {
        let status: StatisticsStatus = serde_json::from_str(r#"{"reason": "2"}"#).unwrap();
        assert_eq!(status.reason, Some(2));
    }

    #[test]
    fn unreadable_reason_is_dropped_not_fatal() {
        let status: StatisticsStatus =
            serde_json::from_str(r#"{"can_statistics": false, "reason": "lots"}"#).unwrap();
        assert_eq!(status.reason, None);
        assert_eq!(status.can_statistics, Some(false));
    }

    #[test]
    fn event_may_be_missing_or_null() {
        let missing: StatisticsStatus =
            serde_json::from_str(r#"{"can_statistics": true, "reason": 0}"#).unwrap();
        let null: StatisticsStatus =
            serde_json::from_str(r#"{"can_statistics": true, "reason": 0, "event": null}"#)
                .unwrap();
        assert_eq!(missing.event, None);
        assert_eq!(null.event, None);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let status: StatisticsStatus = serde_json::from_str(
            r#"{"can_statistics": true, "new_field": [1,2], "event": {"extra": {}}}"#,
        )
        .unwrap();
        assert_eq!(status.can_statistics, Some(true));
    }

    #[test]
    fn a_json_array_is_not_a_status() {
        assert_eq!(StatisticsStatus::from_body(b"[]"), None);
        assert_eq!(StatisticsStatus::from_body(b" [true, 1]"), None);
        assert_eq!(StatisticsStatus::from_body(b""), None);
        assert!(StatisticsStatus::from_body(b" {}").is_some());
    }

    #[test]
    fn event_times_are_unix_seconds_or_none() {
        let event = StatisticsEvent {
            created_at: Some("2025-06-04T08:14:29.5Z".into()),
            updated_at: Some("not a time".into()),
            ..Default::default()
        };
        assert_eq!(event.times(), (Some(1_749_024_869.5), None));
        assert_eq!(
            event.times(),
            (Some(1_749_024_869.5), None),
            "remembered, same answer"
        );
    }
}
