//! The answers of the CodeArts Repo API as the official SDK models them
//! (`huaweicloudsdkcodeartsrepo.v4.model`), decoded leniently ([`super::decode`]): every field
//! optional, unknown fields ignored, a field of an unexpected type converted when it converts and
//! dropped when it does not — never the whole answer for one field.

use std::sync::OnceLock;

use serde::Deserialize;

use super::decode;
use crate::upstream::parse_time;

/// The body of `GET /v4/repositories/{id}/repository/statistics-status`
/// (`ShowRepositoryStatisticsStatusResponse`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct StatisticsStatus {
    #[serde(default, deserialize_with = "decode::boolean")]
    pub can_statistics: Option<bool>,
    #[serde(default, deserialize_with = "decode::integer")]
    pub reason: Option<i64>,
    /// `None` when statistics never ran (the field is missing or null).
    #[serde(default, deserialize_with = "decode::object")]
    pub event: Option<StatisticsEvent>,
}

/// `StatisticEventsDto`, the latest statistics run.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct StatisticsEvent {
    #[serde(default, deserialize_with = "decode::integer")]
    pub id: Option<i64>,
    #[serde(default, deserialize_with = "decode::text")]
    pub branch: Option<String>,
    #[serde(default, deserialize_with = "decode::text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "decode::text")]
    pub stat_date: Option<String>,
    #[serde(default, deserialize_with = "decode::text")]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "decode::text")]
    pub updated_at: Option<String>,
    /// A cache of [`StatisticsEvent::times`]; leave it `Default` when building an event. Public
    /// only so that `..Default::default()` works outside this module. A cached answer is shown
    /// by many scrapes, and parsing its times for each was a visible part of a scrape from the
    /// cache.
    #[serde(skip)]
    pub times: OnceLock<(Option<f64>, Option<f64>)>,
}

impl StatisticsEvent {
    /// (`created_at`, `updated_at`) as Unix seconds; `None` for a missing or unparseable time.
    pub fn times(&self) -> (Option<f64>, Option<f64>) {
        *self.times.get_or_init(|| {
            (
                unix_seconds(&self.created_at),
                unix_seconds(&self.updated_at),
            )
        })
    }
}

/// An API time as Unix seconds; `None` when absent or unparseable.
fn unix_seconds(text: &Option<String>) -> Option<f64> {
    parse_time(text.as_deref()?).map(|t| t.unix_timestamp_nanos() as f64 / 1e9)
}

/// The body of `GET /v4/repositories/{id}/last-push-event`
/// (`ShowLastPushEventInRepositoryResponse`). A repository nobody pushed to has no `created_at`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct LastPushEvent {
    /// The branch or tag pushed.
    #[serde(default, rename = "ref", deserialize_with = "decode::text")]
    pub git_ref: Option<String>,
    /// When the push happened, in the API's time format.
    #[serde(default, deserialize_with = "decode::text")]
    pub created_at: Option<String>,
}

impl LastPushEvent {
    /// Parses a 200 body: a JSON object (an empty one means no recorded push).
    pub fn from_body(body: &[u8]) -> Option<Self> {
        let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
        if *first != b'{' {
            return None;
        }
        serde_json::from_slice(body).ok()
    }

    /// `created_at` as Unix seconds; `None` without a push or with a time that does not parse.
    pub fn pushed_at(&self) -> Option<f64> {
        unix_seconds(&self.created_at)
    }
}

/// One entry of `GET /v4/user/repositories` (`RepositorySimplestDto`); the fields discovery
/// uses. The list has no `path_with_namespace`: see [`RepositorySummary::full_path`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RepositorySummary {
    #[serde(default, deserialize_with = "decode::integer")]
    pub id: Option<i64>,
    /// The display name (`API Gateway`), not a path.
    #[serde(default, deserialize_with = "decode::text")]
    pub name: Option<String>,
    /// The repository's own path segment (`api-gateway`).
    #[serde(default, deserialize_with = "decode::text")]
    pub path: Option<String>,
    /// The full path of the group it sits in (`platform/infra`).
    #[serde(default, deserialize_with = "decode::text")]
    pub namespace: Option<String>,
    #[serde(default, deserialize_with = "decode::text")]
    pub http_url_to_repo: Option<String>,
    /// The CodeArts project (a 32-hex UUID) and its name.
    #[serde(default, deserialize_with = "decode::text")]
    pub project_id: Option<String>,
    #[serde(default, deserialize_with = "decode::text")]
    pub project_name: Option<String>,
    /// The CodeArts project was deleted: such repositories are never watched.
    #[serde(default, deserialize_with = "decode::boolean")]
    pub project_is_delete: Option<bool>,
    #[serde(default, deserialize_with = "decode::boolean")]
    pub archived: Option<bool>,
    /// When the repository's content last changed ("last update time"; a push, in the GitLab
    /// model CodeArts Repo follows).
    #[serde(default, deserialize_with = "decode::text")]
    pub last_repository_updated_at: Option<String>,
    /// When anything last happened in the repository ("last active time").
    #[serde(default, deserialize_with = "decode::text")]
    pub last_activity_at: Option<String>,
}

/// The two change times of a list entry, as Unix seconds; `None` when absent or unparseable.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ListedTimes {
    /// `last_repository_updated_at`.
    pub updated: Option<f64>,
    /// `last_activity_at`.
    pub active: Option<f64>,
}

impl ListedTimes {
    /// The time change-driven refresh follows: the content's, else any activity's
    /// (docs/operations.md, "Change-driven refresh", says why).
    pub fn change(&self) -> Option<f64> {
        self.updated.or(self.active)
    }

    /// The later of the two: whichever of them the list's newest-first order sorts by, no entry
    /// after this one in that order can be newer than this.
    pub fn newest(&self) -> Option<f64> {
        match (self.updated, self.active) {
            (Some(updated), Some(active)) => Some(updated.max(active)),
            (updated, active) => updated.or(active),
        }
    }
}

impl RepositorySummary {
    /// The entry's change times.
    pub fn listed_times(&self) -> ListedTimes {
        ListedTimes {
            updated: unix_seconds(&self.last_repository_updated_at),
            active: unix_seconds(&self.last_activity_at),
        }
    }

    /// Parses a page: a top-level JSON array of objects. A page holding anything else (an
    /// entry that is not an object, or has no usable `id`) is invalid as a whole rather than
    /// silently shrinking the list.
    pub fn page_from_body(body: &[u8]) -> Option<Vec<Self>> {
        let entries: Vec<serde_json::Value> = serde_json::from_slice(body).ok()?;
        entries
            .into_iter()
            .map(|entry| {
                let summary: Self = match entry {
                    serde_json::Value::Object(_) => serde_json::from_value(entry).ok()?,
                    _ => return None,
                };
                summary.id.is_some().then_some(summary)
            })
            .collect()
    }

    /// The full path `group/sub/repo` that filters and the `repository` label use:
    /// `namespace + "/" + path`; else the path of `http_url_to_repo` without `.git`; else `path`;
    /// else `name`.
    pub fn full_path(&self) -> Option<String> {
        fn present(text: &Option<String>) -> Option<&str> {
            text.as_deref()
                .map(|t| t.trim().trim_matches('/'))
                .filter(|t| !t.is_empty())
        }
        if let (Some(namespace), Some(path)) = (present(&self.namespace), present(&self.path)) {
            return Some(format!("{namespace}/{path}"));
        }
        let from_url = self
            .http_url_to_repo
            .as_deref()
            .and_then(|url| url::Url::parse(url).ok())
            .map(|url| {
                let path = url.path().trim_matches('/');
                path.strip_suffix(".git").unwrap_or(path).to_owned()
            })
            .filter(|path| !path.is_empty());
        from_url
            .or_else(|| present(&self.path).map(str::to_owned))
            .or_else(|| present(&self.name).map(str::to_owned))
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

    #[test]
    fn fields_of_an_unexpected_type_convert_as_the_sdk_converts_them() {
        let status = StatisticsStatus::from_body(
            br#"{"can_statistics": "true", "reason": 1.0,
                 "event": {"id": "7", "status": 0, "stat_date": 20250604, "branch": 12}}"#,
        )
        .unwrap();
        assert_eq!(status.can_statistics, Some(true));
        assert_eq!(status.reason, Some(1));
        let event = status.event.unwrap();
        assert_eq!(event.id, Some(7));
        assert_eq!(event.status.as_deref(), Some("0"));
        assert_eq!(event.stat_date.as_deref(), Some("20250604"));
        assert_eq!(event.branch.as_deref(), Some("12"));
    }

    #[test]
    fn a_field_that_does_not_convert_drops_alone() {
        let status = StatisticsStatus::from_body(
            br#"{"can_statistics": {"x": 1}, "reason": "lots",
                 "event": {"id": [1], "status": "finish", "updated_at": {"at": 1}}}"#,
        )
        .unwrap();
        assert_eq!(status.can_statistics, None);
        assert_eq!(status.reason, None);
        let event = status.event.unwrap();
        assert_eq!(event.id, None);
        assert_eq!(event.status.as_deref(), Some("finish"));
        assert_eq!(event.updated_at, None);
        let odd_event = StatisticsStatus::from_body(br#"{"reason": 0, "event": "none"}"#).unwrap();
        assert_eq!((odd_event.reason, odd_event.event), (Some(0), None));
    }

    fn summary(json: serde_json::Value) -> RepositorySummary {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn the_full_path_is_namespace_and_path() {
        let entry = summary(serde_json::json!({
            "id": 1, "name": "API Gateway", "path": "api-gateway", "namespace": "platform/infra",
            "http_url_to_repo": "https://codehub.example.com/other/place.git"
        }));
        assert_eq!(
            entry.full_path().as_deref(),
            Some("platform/infra/api-gateway")
        );
    }

    #[test]
    fn without_a_namespace_the_full_path_comes_from_the_clone_url_then_path_then_name() {
        let from_url = summary(serde_json::json!({
            "id": 1, "name": "API Gateway", "path": "api-gateway",
            "http_url_to_repo": "https://codehub.example.com/platform/infra/api-gateway.git"
        }));
        assert_eq!(
            from_url.full_path().as_deref(),
            Some("platform/infra/api-gateway")
        );
        let from_path =
            summary(serde_json::json!({"id": 1, "name": "API", "path": "api", "namespace": ""}));
        assert_eq!(from_path.full_path().as_deref(), Some("api"));
        let from_name = summary(serde_json::json!({"id": 1, "name": "API"}));
        assert_eq!(from_name.full_path().as_deref(), Some("API"));
        assert_eq!(summary(serde_json::json!({"id": 1})).full_path(), None);
    }

    #[test]
    fn a_page_is_an_array_of_objects_with_an_id() {
        let page = RepositorySummary::page_from_body(
            br#"[{"id": "5", "project_is_delete": "false", "archived": 1}, {"id": 6}]"#,
        )
        .unwrap();
        assert_eq!(page[0].id, Some(5));
        assert_eq!(page[0].project_is_delete, Some(false));
        assert_eq!(page[0].archived, Some(true));
        assert_eq!(RepositorySummary::page_from_body(b"[]"), Some(Vec::new()));
        for bad in [
            &br#"{"repositories": []}"#[..],
            b"[1, 2]",
            br#"[{"name": "no id"}]"#,
            b"[{",
        ] {
            assert_eq!(
                RepositorySummary::page_from_body(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn a_last_push_has_a_ref_and_a_time_or_nothing() {
        let push = LastPushEvent::from_body(
            br#"{"ref": "master", "created_at": "2025-06-04T16:14:29+08:00", "repository": {"id": 1}}"#,
        )
        .unwrap();
        assert_eq!(push.git_ref.as_deref(), Some("master"));
        assert_eq!(push.pushed_at(), Some(1_749_024_869.0));
        for never in [
            &b"{}"[..],
            br#"{"ref": null, "created_at": null}"#,
            br#"{"repository": {"id": 1}}"#,
        ] {
            assert_eq!(LastPushEvent::from_body(never).unwrap().pushed_at(), None);
        }
        let odd = LastPushEvent::from_body(br#"{"created_at": "last tuesday"}"#).unwrap();
        assert_eq!(odd.pushed_at(), None);
        assert_eq!(LastPushEvent::from_body(b"[]"), None);
    }
}
