use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::client::{StatisticsEvent, StatisticsStatus};
use crate::collect::LastPush;
use crate::config::{Project, Repository, RepositoryId};
use crate::upstream::ErrorClass;

/// 600 repositories (three blocks, the last one short): answers with and without events, some
/// failures, some names.
fn results() -> Vec<RepositoryResult> {
    (1..=600).map(result).collect()
}

fn result(id: i64) -> RepositoryResult {
    let failed = id % 7 == 0;
    let status = StatisticsStatus {
        can_statistics: Some(id % 2 == 0),
        reason: Some(id % 4),
        event: (id % 3 != 0).then(|| StatisticsEvent {
            id: Some(id * 10),
            branch: Some(format!("release/{id}")),
            status: Some("finish".into()),
            created_at: Some(format!("2026-01-01T00:00:{:02}Z", id % 60)),
            updated_at: Some(format!("2026-01-01T00:{:02}:00Z", id % 60)),
            ..Default::default()
        }),
    };
    RepositoryResult {
        repository: Repository {
            id: RepositoryId::new(id).unwrap(),
            name: (id % 5 == 0).then(|| Arc::from(format!("group/repo-{id}").as_str())),
            project: (id % 7 == 0).then(|| {
                Arc::new(Project {
                    name: Some(format!("project-{}", id % 3)),
                    id: Some(format!("{:032x}", id % 3)),
                })
            }),
        },
        status: (!failed).then(|| Arc::new(status)),
        error: failed.then_some(ErrorClass::Throttled),
        http_status: if failed { 429 } else { 200 },
        duration: Duration::from_millis(id as u64),
        last_success: Some(UNIX_EPOCH + Duration::from_secs(1_790_000_000 + id as u64)),
        answered: Some(UNIX_EPOCH + Duration::from_secs(1_790_000_000 + id as u64)),
        last_push: (id % 4 != 3).then(|| LastPush {
            up: id % 11 != 0,
            pushed_at: (id % 11 != 0 && id % 2 == 0).then_some(1_767_225_600.0 + id as f64),
        }),
    }
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn written(mut text: RepositoryText) -> String {
    let mut out = Vec::new();
    while let Some(piece) = text.next_piece() {
        assert!(piece.ends_with(b"\n"), "a piece ends at a line");
        out.extend_from_slice(&piece);
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn text_from_a_cache_is_the_text_written_from_scratch() {
    let cache = Arc::new(TextCache::default());
    let first = cache.text(results(), at(1_800_000_000), true, Families::ALL);
    assert_eq!(first.reused_blocks(), 0);
    assert_eq!(
        written(first),
        render_repositories(&results(), at(1_800_000_000))
    );
}

#[test]
fn unchanged_results_reuse_every_block_and_still_age_their_events() {
    let cache = Arc::new(TextCache::default());
    let results = results();
    written(cache.text(results.clone(), at(1_800_000_000), true, Families::ALL));

    let later = at(1_800_000_100);
    let second = cache.text(results.clone(), later, true, Families::ALL);
    assert_eq!(second.reused_blocks(), 3);
    let text = written(second);
    assert_eq!(text, render_repositories(&results, later));
    // 2026-01-01T00:01:00Z is 1767225660.
    assert!(
        text.contains("codearts_repo_statistics_event_age_seconds{repository_id=\"1\"} 32774440\n")
    );
}

#[test]
fn reused_text_keeps_escaped_label_values_and_extra_labels() {
    let cache = Arc::new(TextCache::default());
    let mut results = results();
    results[0].repository.name = Some(Arc::from("odd/\"quoted\"\\back\nslash"));
    written(cache.text(results.clone(), at(1_800_000_000), true, Families::ALL));

    let second = cache.text(results.clone(), at(1_800_000_000), true, Families::ALL);
    assert_eq!(second.reused_blocks(), 3);
    let text = written(second);
    assert_eq!(text, render_repositories(&results, at(1_800_000_000)));
    assert!(text.contains(
        "codearts_repo_statistics_event_status{repository_id=\"1\",repository=\"odd/\\\"quoted\\\"\\\\back\\nslash\",status=\"finish\"} 1\n"
    ));
}

#[test]
fn a_new_answer_rewrites_its_block_and_shows() {
    let cache = Arc::new(TextCache::default());
    let mut results = results();
    written(cache.text(results.clone(), at(1_800_000_000), true, Families::ALL));

    // A new fetch of repository 300 (second block) that now says it cannot run.
    let mut refreshed = (*results[299].status.clone().unwrap()).clone();
    refreshed.can_statistics = Some(false);
    results[299].status = Some(Arc::new(refreshed));

    let second = cache.text(results.clone(), at(1_800_000_000), true, Families::ALL);
    assert_eq!(second.reused_blocks(), 2);
    let text = written(second);
    assert!(text.contains(
        "codearts_repo_statistics_can_statistics{repository_id=\"300\",repository=\"group/repo-300\"} 0\n"
    ));
    assert_eq!(text, render_repositories(&results, at(1_800_000_000)));
}

#[test]
fn a_new_fetch_with_equal_content_is_written_again() {
    // Identity, not content, decides: an equal answer fetched again may carry a new
    // last_success or duration, and comparing content would cost as much as writing it.
    let cache = Arc::new(TextCache::default());
    let mut results = results();
    written(cache.text(results.clone(), at(1_800_000_000), true, Families::ALL));
    results[0].status = Some(Arc::new((*results[0].status.clone().unwrap()).clone()));
    assert_eq!(
        cache
            .text(results, at(1_800_000_000), true, Families::ALL)
            .reused_blocks(),
        2
    );
}

#[test]
fn a_changed_error_duration_or_last_success_is_written_again() {
    let changes: [fn(&mut RepositoryResult); 4] = [
        |r| r.error = Some(ErrorClass::Timeout),
        |r| r.duration += Duration::from_millis(1),
        |r| r.last_success = None,
        |r| r.repository.name = Some(Arc::from("renamed")),
    ];
    for change in changes {
        let cache = Arc::new(TextCache::default());
        let mut results = results();
        written(cache.text(results.clone(), at(1_800_000_000), true, Families::ALL));
        change(&mut results[599]);
        let second = cache.text(results.clone(), at(1_800_000_000), true, Families::ALL);
        assert_eq!(second.reused_blocks(), 2);
        assert_eq!(
            written(second),
            render_repositories(&results, at(1_800_000_000))
        );
    }
}

#[test]
fn repositories_that_left_leave_the_text() {
    let cache = Arc::new(TextCache::default());
    let results = results();
    written(cache.text(results.clone(), at(1_800_000_000), true, Families::ALL));
    let fewer: Vec<_> = results.into_iter().take(300).collect();
    let second = cache.text(fewer.clone(), at(1_800_000_000), true, Families::ALL);
    assert_eq!(second.reused_blocks(), 1);
    let text = written(second);
    assert!(!text.contains("repository_id=\"301\""));
    assert_eq!(text, render_repositories(&fewer, at(1_800_000_000)));
}

#[test]
fn without_keep_nothing_is_reused_or_kept() {
    let cache = Arc::new(TextCache::default());
    let results = results();
    written(cache.text(results.clone(), at(1_800_000_000), true, Families::ALL));
    let uncached = cache.text(results.clone(), at(1_800_000_000), false, Families::ALL);
    assert_eq!(uncached.reused_blocks(), 0, "keep off means no reuse");
    written(uncached);
    assert_eq!(
        cache
            .text(results, at(1_800_000_000), true, Families::ALL)
            .reused_blocks(),
        0,
        "keep off empties the cache"
    );
}

#[test]
fn a_text_not_written_to_the_end_is_not_kept() {
    let cache = Arc::new(TextCache::default());
    let results = results();
    let mut abandoned = cache.text(results.clone(), at(1_800_000_000), true, Families::ALL);
    abandoned.next_piece().unwrap();
    drop(abandoned);
    let next = cache.text(results.clone(), at(1_800_000_000), true, Families::ALL);
    assert_eq!(next.reused_blocks(), 0);
    assert_eq!(
        written(next),
        render_repositories(&results, at(1_800_000_000))
    );
}

#[test]
fn each_family_has_one_header_before_its_first_sample() {
    let text = written(RepositoryText::new(
        results(),
        at(1_800_000_000),
        Families::ALL,
    ));
    for (spec, _) in &FAMILIES {
        let header = format!("# TYPE {} gauge\n", spec.name);
        assert_eq!(text.matches(&header).count(), 1, "{}", spec.name);
        let header_at = text.find(&header).unwrap();
        let first_sample = text.find(&format!("\n{}{{", spec.name)).unwrap();
        assert!(header_at < first_sample, "{}", spec.name);
    }
}

#[test]
fn disabled_families_are_left_out_and_the_rest_is_unchanged() {
    let families = Families::without(&["event_status".into(), "lag_seconds".into()]).unwrap();
    let all = written(RepositoryText::new(
        results(),
        at(1_800_000_000),
        Families::ALL,
    ));
    let some = written(RepositoryText::new(results(), at(1_800_000_000), families));
    assert!(!some.contains("codearts_repo_statistics_event_status"));
    assert!(!some.contains("codearts_repo_statistics_lag_seconds"));
    let others = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.contains("event_status") && !l.contains("lag_seconds"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(others(&some), others(&all));
}

#[test]
fn a_change_of_families_writes_anew_instead_of_reusing() {
    let cache = Arc::new(TextCache::default());
    let results = results();
    let some = Families::without(&["reason".into()]).unwrap();
    written(cache.text(results.clone(), at(1_800_000_000), true, some));
    let all = cache.text(results.clone(), at(1_800_000_000), true, Families::ALL);
    assert_eq!(all.reused_blocks(), 0);
    assert!(written(all).contains("codearts_repo_statistics_reason"));
    let again = cache.text(results, at(1_800_000_000), true, Families::ALL);
    assert!(again.reused_blocks() > 0);
}
