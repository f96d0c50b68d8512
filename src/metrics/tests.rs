use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::families as names;
use super::format::{push_label_value, push_value};
use super::text::render_repositories;
use super::*;
use crate::client::{StatisticsEvent, StatisticsStatus};
use crate::collect::{LastPush, RepositoryResult};
use crate::config::{Repository, RepositoryId};
use crate::upstream::ErrorClass;

fn repository(id: i64, name: Option<&str>) -> Repository {
    Repository {
        id: RepositoryId::new(id).unwrap(),
        name: name.map(Arc::from),
        project: None,
    }
}

fn ok(id: i64, status: StatisticsStatus) -> RepositoryResult {
    RepositoryResult {
        repository: repository(id, Some("payments/api")),
        status: Some(Arc::new(status)),
        error: None,
        http_status: 200,
        duration: Duration::from_millis(120),
        last_success: Some(UNIX_EPOCH + Duration::from_secs(1_000)),
        answered: Some(UNIX_EPOCH + Duration::from_secs(1_000)),
        last_push: None,
    }
}

fn render(results: &[RepositoryResult], now: SystemTime) -> String {
    render_repositories(results, now)
}

#[test]
fn event_age_is_scrape_time_minus_updated_at() {
    let status = StatisticsStatus {
        can_statistics: Some(true),
        reason: Some(1),
        event: Some(StatisticsEvent {
            updated_at: Some("1970-01-01T00:16:40Z".into()),
            ..Default::default()
        }),
    };
    let text = render(&[ok(1, status)], UNIX_EPOCH + Duration::from_secs(1_060));
    assert!(text.contains(
        "codearts_repo_statistics_event_age_seconds{repository_id=\"1\",repository=\"payments/api\"} 60\n"
    ), "{text}");
    assert!(text.contains(
        "codearts_repo_statistics_event_updated_timestamp_seconds{repository_id=\"1\",repository=\"payments/api\"} 1000\n"
    ));
    assert!(
        text.contains(
            "codearts_repo_statistics_answer_age_seconds{repository_id=\"1\",repository=\"payments/api\"} 60\n"
        ),
        "the answer shown came at 1000: {text}"
    );
}

#[test]
fn failure_shows_up_zero_and_one_error_class_only() {
    let result = RepositoryResult {
        repository: repository(9, None),
        status: None,
        error: Some(ErrorClass::Throttled),
        http_status: 429,
        duration: Duration::from_millis(5),
        last_success: None,
        answered: Some(UNIX_EPOCH + Duration::from_secs(2_000)),
        last_push: None,
    };
    let text = render(&[result], UNIX_EPOCH + Duration::from_secs(2_030));
    assert!(
        text.contains("codearts_repo_statistics_answer_age_seconds{repository_id=\"9\"} 30\n"),
        "a failure is an answer too: {text}"
    );
    assert!(text.contains("codearts_repo_statistics_up{repository_id=\"9\"} 0\n"));
    assert!(text
        .contains("codearts_repo_statistics_error{repository_id=\"9\",class=\"throttled\"} 1\n"));
    assert!(text.contains("codearts_repo_statistics_http_status{repository_id=\"9\"} 429\n"));
    assert!(!text.contains("can_statistics{"));
    assert!(!text.contains("last_success_timestamp_seconds{"));
}

#[test]
fn known_statuses_form_a_state_set() {
    let status = StatisticsStatus {
        event: Some(StatisticsEvent {
            status: Some("waiting".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let text = render(&[ok(3, status)], SystemTime::now());
    for (state, value) in [("waiting", 1), ("active", 0), ("finish", 0), ("other", 0)] {
        let line = format!(
            "codearts_repo_statistics_event_status{{repository_id=\"3\",repository=\"payments/api\",status=\"{state}\"}} {value}\n"
        );
        assert!(text.contains(&line), "missing {line}");
    }
}

#[test]
fn long_label_values_are_bounded_on_a_char_boundary() {
    let branch = "é".repeat(200);
    let status = StatisticsStatus {
        event: Some(StatisticsEvent {
            branch: Some(branch),
            ..Default::default()
        }),
        ..Default::default()
    };
    let text = render(&[ok(4, status)], SystemTime::now());
    let line = text
        .lines()
        .find(|l| l.starts_with("codearts_repo_statistics_event_info{"))
        .unwrap();
    let branch = line
        .split("branch=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(branch.len(), MAX_LABEL_LEN);
    assert_eq!(bounded("abc", 2), "ab");
    assert_eq!(bounded("é", 1), "");
}

#[test]
fn empty_results_encode_to_nothing_rather_than_failing() {
    assert_eq!(render(&[], SystemTime::now()), "");
}

#[test]
fn values_are_written_as_the_text_format_spells_them() {
    let mut out = String::new();
    for value in [
        1.0,
        0.0,
        -3.0,
        0.25,
        1_749_024_869.5,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ] {
        push_value(&mut out, value);
        out.push(' ');
    }
    assert_eq!(out, "1 0 -3 0.25 1749024869.5 +Inf -Inf NaN ");
}

#[test]
fn label_values_escape_backslash_quote_and_newline() {
    let mut out = String::new();
    push_label_value(&mut out, "a\\b\"c\nd");
    assert_eq!(out, "a\\\\b\\\"c\\nd");
}

#[test]
fn every_family_has_one_header_before_its_samples() {
    let status = StatisticsStatus {
        can_statistics: Some(true),
        reason: Some(2),
        event: Some(StatisticsEvent {
            id: Some(1),
            status: Some("active".into()),
            created_at: Some("2025-06-04T16:14:29+08:00".into()),
            updated_at: Some("2025-06-04T16:14:29+08:00".into()),
            ..Default::default()
        }),
    };
    let text = render(&[ok(1, status.clone()), ok(2, status)], SystemTime::now());
    let mut seen = std::collections::HashSet::new();
    let mut current = "";
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            current = rest.split(' ').next().unwrap();
            assert!(seen.insert(current.to_owned()), "{current} has two headers");
        } else if !line.starts_with('#') {
            assert!(
                line.starts_with(current),
                "{line} outside its family {current}"
            );
        }
    }
    assert_eq!(seen.len(), 13, "every family but error: {seen:?}");
}

#[test]
fn help_names_the_api_field() {
    for spec in [
        &names::CAN_STATISTICS,
        &names::REASON,
        &names::EVENT_UPDATED,
        &names::EVENT_ID,
    ] {
        assert!(spec.help.contains("API field"), "{}", spec.name);
    }
}

fn with_push(updated_at: &str, pushed_at: Option<f64>, up: bool) -> RepositoryResult {
    let status = StatisticsStatus {
        can_statistics: Some(true),
        reason: Some(0),
        event: Some(StatisticsEvent {
            updated_at: Some(updated_at.into()),
            ..Default::default()
        }),
    };
    RepositoryResult {
        last_push: Some(LastPush { up, pushed_at }),
        ..ok(4, status)
    }
}

fn series(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find(|line| line.starts_with(&format!("{name}{{")))
        .map(|line| line.rsplit(' ').next().unwrap_or_default().to_owned())
}

#[test]
fn lag_is_the_push_minus_the_statistics_update() {
    // Statistics updated at 1,000 s, pushed at 4,600 s: an hour behind.
    let text = render(
        &[with_push("1970-01-01T00:16:40Z", Some(4_600.0), true)],
        SystemTime::now(),
    );
    assert_eq!(
        series(&text, "codearts_repo_statistics_lag_seconds").as_deref(),
        Some("3600")
    );
    assert_eq!(
        series(
            &text,
            "codearts_repo_statistics_last_push_timestamp_seconds"
        )
        .as_deref(),
        Some("4600")
    );
    assert_eq!(
        series(&text, "codearts_repo_statistics_last_push_up").as_deref(),
        Some("1")
    );
}

#[test]
fn lag_is_zero_when_the_statistics_are_newer_than_the_push() {
    let text = render(
        &[with_push("1970-01-01T00:16:40Z", Some(400.0), true)],
        SystemTime::now(),
    );
    assert_eq!(
        series(&text, "codearts_repo_statistics_lag_seconds").as_deref(),
        Some("0")
    );
}

#[test]
fn no_lag_without_a_recorded_push_or_when_the_push_request_failed() {
    let never = render(
        &[with_push("1970-01-01T00:16:40Z", None, true)],
        SystemTime::now(),
    );
    assert_eq!(series(&never, "codearts_repo_statistics_lag_seconds"), None);
    assert_eq!(
        series(
            &never,
            "codearts_repo_statistics_last_push_timestamp_seconds"
        ),
        None
    );
    assert_eq!(
        series(&never, "codearts_repo_statistics_last_push_up").as_deref(),
        Some("1")
    );
    let failed = render(
        &[with_push("1970-01-01T00:16:40Z", None, false)],
        SystemTime::now(),
    );
    assert_eq!(
        series(&failed, "codearts_repo_statistics_lag_seconds"),
        None
    );
    assert_eq!(
        series(&failed, "codearts_repo_statistics_last_push_up").as_deref(),
        Some("0")
    );
    assert_eq!(
        series(&failed, "codearts_repo_statistics_up").as_deref(),
        Some("1"),
        "the statistics stand"
    );
}

#[test]
fn no_lag_without_statistics_or_with_an_update_time_from_the_future() {
    let mut failed = with_push("1970-01-01T00:16:40Z", Some(4_600.0), true);
    failed.status = None;
    failed.error = Some(ErrorClass::Forbidden);
    let text = render(&[failed], SystemTime::now());
    assert_eq!(series(&text, "codearts_repo_statistics_lag_seconds"), None);
    assert_eq!(
        series(
            &text,
            "codearts_repo_statistics_last_push_timestamp_seconds"
        )
        .as_deref(),
        Some("4600"),
        "the push is known even when the statistics are not"
    );
    // Fetched at 1,000 s (see ok()), updated "at" 1 h later: a broken time, no lag.
    let future = render(
        &[with_push("1970-01-01T01:16:40Z", Some(9_000.0), true)],
        SystemTime::now(),
    );
    assert_eq!(
        series(&future, "codearts_repo_statistics_lag_seconds"),
        None
    );
}

#[test]
fn without_last_push_there_are_no_push_series() {
    let status = StatisticsStatus::default();
    let text = render(&[ok(5, status)], SystemTime::now());
    assert!(!text.contains("last_push"), "{text}");
    assert!(!text.contains("lag_seconds"), "{text}");
}

#[test]
fn metrics_disable_takes_family_names_without_the_prefix() {
    let families = Families::without(&["event_info".into(), " http_status ".into()]).unwrap();
    assert_ne!(families, Families::ALL);
    assert!(Families::names().contains(&"lag_seconds"));
    assert!(!Families::names().contains(&"up"));
    assert_eq!(Families::without(&[]).unwrap(), Families::ALL);
}

#[test]
fn metrics_disable_refuses_up_unknown_names_and_duplicates_naming_the_entry() {
    let error = |names: &[&str]| {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        Families::without(&names).unwrap_err().to_string()
    };
    assert!(error(&["up"]).starts_with("metrics.disable[0]: up cannot be disabled"));
    let unknown = error(&["reason", "codearts_repo_statistics_reason"]);
    assert!(unknown.starts_with("metrics.disable[1]:"), "{unknown}");
    assert!(unknown.contains("known: "), "{unknown}");
    assert!(error(&["reason", "reason"]).starts_with("metrics.disable[1]: reason is listed twice"));
}
