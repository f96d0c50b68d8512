//! Change-driven refresh (`refresh.mode: on_change`), through the router, against a CodeArts
//! whose repository list and statuses a test changes between scrapes: which repositories are
//! asked again and why, where a look at the list stops, the full listing as the safety net, and
//! what is shown meanwhile.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::helpers::*;
use serde_json::{json, Value};
use wiremock::{Request, Respond, ResponseTemplate};

/// A moment in the repositories' life, and the times around it (Unix seconds).
const T: i64 = 1_780_000_000;

/// An API time `seconds` after [`T`].
fn at(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(T + seconds)
        .unwrap()
        .to_offset(time::macros::offset!(+8))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// A settled status: a finished run, statistics possible.
fn settled() -> Value {
    status_body(true, 0, "finish", UPDATED_AT)
}

/// One repository as the fake CodeArts holds it.
#[derive(Clone)]
struct Repo {
    /// `last_repository_updated_at` and `last_activity_at` as sent (`None`: left out).
    updated: Option<String>,
    active: Option<String>,
    /// Whether the list has it at all.
    listed: bool,
    status: Value,
    /// Its status request answers 403.
    forbidden: bool,
}

#[derive(Default)]
struct State {
    repos: BTreeMap<u32, Repo>,
    /// Every look (`order_by=updated_at`) and full listing (`order_by=created_at`) page fails.
    listing_fails: bool,
    /// Sorted as if this repository were the oldest: a list whose order cannot be trusted.
    sorted_last: Option<u32>,
    /// Status requests by repository, and list requests by order.
    status_requests: BTreeMap<u32, usize>,
    looks: usize,
    full_listings: usize,
}

/// A CodeArts Repo whose list (newest first by the later of its two times, or by id) and
/// statuses a test sets; it counts what it is asked.
#[derive(Clone, Default)]
struct Fleet(Arc<Mutex<State>>);

impl Fleet {
    /// `ids`, each settled and listed, updated `seconds` after [`T`] (the same for all).
    fn new(ids: &[u32], seconds: i64) -> Self {
        let fleet = Fleet::default();
        for id in ids {
            fleet.set(*id, |repo| repo.updated = Some(at(seconds)));
        }
        fleet
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }

    /// Changes repository `id` (created settled and listed when new).
    fn set(&self, id: u32, change: impl FnOnce(&mut Repo)) {
        let mut state = self.state();
        let repo = state.repos.entry(id).or_insert_with(|| Repo {
            updated: None,
            active: None,
            listed: true,
            status: settled(),
            forbidden: false,
        });
        change(repo);
    }

    /// A push to `id`, `seconds` after [`T`]: both listed times move.
    fn push(&self, id: u32, seconds: i64) {
        self.set(id, |repo| {
            repo.updated = Some(at(seconds));
            repo.active = Some(at(seconds));
        });
    }

    /// How often repository `id`'s status was asked.
    fn asked(&self, id: u32) -> usize {
        self.state().status_requests.get(&id).copied().unwrap_or(0)
    }

    fn asked_total(&self) -> usize {
        self.state().status_requests.values().sum()
    }

    fn looks(&self) -> usize {
        self.state().looks
    }

    fn entry(id: u32, repo: &Repo) -> Value {
        let mut entry = json!({
            "id": id, "name": format!("Repo {id}"), "path": format!("repo-{id}"),
            "namespace": "group", "archived": false, "project_is_delete": false,
        });
        for (key, value) in [
            ("last_repository_updated_at", &repo.updated),
            ("last_activity_at", &repo.active),
        ] {
            if let Some(value) = value {
                entry[key] = json!(value);
            }
        }
        entry
    }

    fn page(&self, request: &Request) -> ResponseTemplate {
        let query: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
        let offset: usize = query["offset"].parse().unwrap();
        let limit: usize = query["limit"].parse().unwrap();
        let mut state = self.state();
        let recent_first = query.get("order_by").map(String::as_str) == Some("updated_at");
        if recent_first {
            assert_eq!(query.get("sort").map(String::as_str), Some("desc"));
            state.looks += usize::from(offset == 0);
        } else {
            state.full_listings += usize::from(offset == 0);
        }
        if state.listing_fails {
            return error(500, "CH.00000001", "System error, please wait.");
        }
        let mut listed: Vec<(u32, &Repo)> = state
            .repos
            .iter()
            .filter(|(_, repo)| repo.listed)
            .map(|(id, repo)| (*id, repo))
            .collect();
        if recent_first {
            let newest = |repo: &Repo| {
                [&repo.updated, &repo.active]
                    .into_iter()
                    .flatten()
                    .filter_map(|t| {
                        time::OffsetDateTime::parse(
                            t,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .ok()
                    })
                    .max()
            };
            let sorted_last = state.sorted_last;
            listed.sort_by_key(|(id, repo)| {
                (
                    std::cmp::Reverse((Some(*id) != sorted_last).then(|| newest(repo)).flatten()),
                    *id,
                )
            });
        }
        let page: Vec<Value> = listed
            .iter()
            .skip(offset)
            .take(limit)
            .map(|(id, repo)| Self::entry(*id, repo))
            .collect();
        answer_json(200, Value::Array(page))
    }
}

impl Respond for Fleet {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path();
        if path == "/v4/user/repositories" {
            return self.page(request);
        }
        let id: u32 = path
            .strip_prefix("/v4/repositories/")
            .and_then(|rest| rest.strip_suffix("/repository/statistics-status"))
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("unexpected request {path}"));
        let mut state = self.state();
        *state.status_requests.entry(id).or_default() += 1;
        match state.repos.get(&id) {
            Some(repo) if repo.forbidden => error(403, "CH.004403", "Insufficient permissions."),
            Some(repo) => answer_json(200, repo.status.clone()),
            None => error(404, "CH.004404", "The repository does not exist."),
        }
    }
}

/// An upstream serving `fleet`, and an app watching `ids` with change-driven refresh and the
/// `refresh:` lines `refresh` (indented by two spaces).
async fn on_change(
    fleet: &Fleet,
    ids: &[u32],
    refresh: &str,
) -> (Upstream, std::sync::Arc<codearts_repo_exporter::App>) {
    let upstream = Upstream::start().await;
    upstream.every_get(fleet.clone()).await;
    let yaml = config_yaml(
        &upstream.uri(),
        ids,
        &format!("refresh:\n  mode: on_change\n{refresh}"),
    );
    let app = app(&yaml);
    (upstream, app)
}

fn saved(body: &Body, reason: &str) -> f64 {
    body.value(
        "codearts_repo_exporter_requests_saved_total",
        &[("endpoint", "statistics_status"), ("reason", reason)],
    )
    .unwrap_or(0.0)
}

fn asked_for(body: &Body, reason: &str) -> f64 {
    body.value(
        "codearts_repo_exporter_refresh_requests_total",
        &[("endpoint", "statistics_status"), ("reason", reason)],
    )
    .unwrap_or(0.0)
}

#[tokio::test]
async fn a_settled_unchanged_repository_is_shown_from_its_last_answer_not_asked_again() {
    let fleet = Fleet::new(&[], 0);
    for id in [1, 2, 3] {
        fleet.push(id, -3600 * i64::from(id));
    }
    let (_upstream, app) = on_change(&fleet, &[1, 2, 3], "").await;
    let first = scrape(&app, None).await.body;
    assert_eq!(asked_for(&first, "never_asked"), 3.0);
    assert_eq!(fleet.asked_total(), 3);

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let second = scrape(&app, None).await.body;
    assert_eq!(fleet.asked_total(), 3, "nothing changed: nothing asked");
    assert_eq!(saved(&second, "unchanged"), 3.0);
    for id in [1, 2, 3] {
        assert_eq!(second.up(id), Some(1.0));
        assert_eq!(
            second.series("codearts_repo_statistics_can_statistics", id),
            Some(1.0)
        );
        let age = second
            .series("codearts_repo_statistics_answer_age_seconds", id)
            .unwrap();
        assert!(age >= 1.0, "the answer shown is the first scrape's: {age}");
    }
    assert_eq!(fleet.looks(), 2, "one look at the list per fan-out");
    assert_eq!(
        second.value(
            "codearts_repo_exporter_listing_pages",
            &[("listing", "changes")]
        ),
        Some(1.0),
        "a quiet fleet is one page"
    );
    assert!(second
        .value(
            "codearts_repo_exporter_listing_duration_seconds",
            &[("listing", "changes")]
        )
        .is_some());
}

#[tokio::test]
async fn a_moved_listed_time_asks_that_repository_once() {
    let fleet = Fleet::new(&[1, 2, 3], 0);
    let (_upstream, app) = on_change(&fleet, &[1, 2, 3], "").await;
    scrape(&app, None).await;
    fleet.push(2, 60);
    fleet.set(2, |repo| {
        repo.status = status_body(true, 0, "finish", &at(90))
    });
    let body = scrape(&app, None).await.body;
    assert_eq!((fleet.asked(1), fleet.asked(2), fleet.asked(3)), (1, 2, 1));
    assert_eq!(asked_for(&body, "changed"), 1.0);
    assert_eq!(
        body.series(
            "codearts_repo_statistics_event_updated_timestamp_seconds",
            2
        ),
        Some((T + 90) as f64),
        "the new answer is shown at once"
    );
    scrape(&app, None).await;
    assert_eq!(fleet.asked(2), 2, "asked once per move, not again");
}

#[tokio::test]
async fn unsettled_and_failed_repositories_are_asked_at_every_scrape() {
    let ids = [1, 2, 3, 4, 5, 6, 7];
    let fleet = Fleet::new(&ids, 0);
    fleet.set(1, |r| {
        r.status = status_body(false, 0, "waiting", UPDATED_AT)
    });
    fleet.set(2, |r| {
        r.status = status_body(false, 0, "active", UPDATED_AT)
    });
    fleet.set(3, |r| r.status = status_body(true, 0, "failed", UPDATED_AT));
    fleet.set(4, |r| {
        r.status = status_body(false, 1, "finish", UPDATED_AT)
    });
    fleet.set(5, |r| {
        r.status = json!({"can_statistics": true, "reason": 0})
    });
    fleet.set(6, |r| r.forbidden = true);
    let (_upstream, app) = on_change(&fleet, &ids, "").await;
    for _ in 0..3 {
        scrape(&app, None).await;
    }
    for id in 1..=5 {
        assert_eq!(fleet.asked(id), 3, "repository {id} is not settled");
    }
    assert_eq!(fleet.asked(7), 1, "the settled one was asked once");
    let body = scrape(&app, None).await.body;
    assert_eq!(
        asked_for(&body, "unsettled"),
        15.0,
        "5 repositories x 3 later scrapes"
    );
    assert_eq!(asked_for(&body, "failed"), 3.0);
    assert_eq!(body.class(6), Some("forbidden"));
}

#[tokio::test]
async fn a_repository_that_does_not_exist_is_asked_again_at_every_scrape() {
    // Repository 1 is configured but exists nowhere: 404 at every scrape, never "unchanged".
    let fleet = Fleet::new(&[2], 0);
    let (_upstream, app) = on_change(&fleet, &[1, 2], "").await;
    for _ in 0..3 {
        let body = scrape(&app, None).await.body;
        assert_eq!(body.class(1), Some("not_found"));
    }
    assert_eq!((fleet.asked(1), fleet.asked(2)), (3, 1));
}

#[tokio::test]
async fn the_longest_staleness_asks_a_quiet_repository_again() {
    let fleet = Fleet::new(&[1, 2], 0);
    let (_upstream, app) = on_change(
        &fleet,
        &[1, 2],
        "  max_staleness: 2s\n  listing_overlap: 1s\n",
    )
    .await;
    // A scrape timeout of 1 s: each scrape shows what it has within 0.5 s, which the staleness
    // must allow for.
    scrape(&app, Some("1")).await;
    scrape(&app, Some("1")).await;
    assert_eq!(fleet.asked_total(), 2);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let body = scrape(&app, Some("1")).await.body;
    assert_eq!(fleet.asked_total(), 4, "both asked again after 2 s");
    assert_eq!(asked_for(&body, "stale"), 2.0);
    for id in [1, 2] {
        let age = body
            .series("codearts_repo_statistics_answer_age_seconds", id)
            .unwrap();
        assert!(age < 1.0, "fresh again: {age}");
    }
}

#[tokio::test]
async fn repositories_the_list_never_returns_or_without_a_readable_time_are_never_skipped() {
    let fleet = Fleet::new(&[1, 2, 3], 0);
    fleet.set(2, |repo| repo.listed = false);
    fleet.set(3, |repo| {
        repo.updated = Some("yesterday".into());
        repo.active = None;
    });
    let (_upstream, app) = on_change(&fleet, &[1, 2, 3], "").await;
    for _ in 0..3 {
        scrape(&app, None).await;
    }
    assert_eq!((fleet.asked(1), fleet.asked(2), fleet.asked(3)), (1, 3, 3));
    let body = scrape(&app, None).await.body;
    assert_eq!(asked_for(&body, "unlisted"), 3.0);
    assert_eq!(asked_for(&body, "no_listed_time"), 3.0);
}

#[tokio::test]
async fn a_failed_look_asks_every_repository_never_showing_silently_stale_data() {
    let fleet = Fleet::new(&[1, 2, 3], 0);
    let (_upstream, app) = on_change(&fleet, &[1, 2, 3], "").await;
    scrape(&app, None).await;
    fleet.state().listing_fails = true;
    let body = scrape(&app, None).await.body;
    assert_eq!(fleet.asked_total(), 6, "every repository asked again");
    assert_eq!(asked_for(&body, "listing_failed"), 3.0);
    assert_eq!(body.errors("user_repositories", "server_error"), Some(1.0));
    fleet.state().listing_fails = false;
    scrape(&app, None).await;
    assert_eq!(
        fleet.asked_total(),
        6,
        "the list works again: back to asking what changed"
    );
}

#[tokio::test]
async fn a_look_reads_only_the_pages_newer_than_the_previous_look() {
    let ids: Vec<u32> = (1..=250).collect();
    // Repository n was updated n seconds after T: the newest is 250.
    let fleet = Fleet::new(&[], 0);
    for id in &ids {
        fleet.push(*id, i64::from(*id));
    }
    let (upstream, app) = on_change(&fleet, &ids, "  listing_overlap: 10s\n").await;
    let pages = |body: &Body| {
        body.value(
            "codearts_repo_exporter_listing_pages",
            &[("listing", "changes")],
        )
    };
    let first = scrape(&app, None).await.body;
    assert_eq!(
        pages(&first),
        Some(4.0),
        "no look before: the whole list, to its empty page"
    );
    let listing_requests = || async {
        upstream
            .requests()
            .await
            .iter()
            .filter(|r| r.url.path() == "/v4/user/repositories")
            .count()
    };
    let before = listing_requests().await;
    fleet.push(17, 300);
    let second = scrape(&app, None).await.body;
    assert_eq!(
        listing_requests().await - before,
        1,
        "one page: its last entry is older than 250 - 10"
    );
    assert_eq!(pages(&second), Some(1.0));
    assert_eq!(fleet.asked(17), 2);
    assert_eq!(fleet.asked_total(), 251);
}

#[tokio::test]
async fn an_update_with_the_newest_time_already_seen_is_still_seen() {
    // Two repositories updated in the same second; the list shows the second one's update only
    // after the first look (it reached the list late). With no overlap at all, the look must
    // still read entries equal to the newest time it saw.
    let fleet = Fleet::new(&[1, 2, 3], 0);
    fleet.push(1, 100);
    let (_upstream, app) = on_change(&fleet, &[1, 2, 3], "  listing_overlap: 0s\n").await;
    scrape(&app, None).await;
    fleet.push(2, 100);
    let body = scrape(&app, None).await.body;
    assert_eq!(
        fleet.asked(2),
        2,
        "an equal timestamp is not older than the cut-off"
    );
    assert_eq!(asked_for(&body, "changed"), 1.0);
}

/// 250 repositories, repository n updated n seconds after [`T`], watched with
/// `listing_overlap`; after a first scrape, repository 3 is updated with a time 130 s before the
/// newest (a clock behind, or an update indexed late). Returns how often repository 3 was asked
/// after the next scrape, the pages that scrape's look read, and how often repository 3 was
/// asked after a full listing and one more scrape.
async fn late_update(overlap: &str) -> (usize, f64, usize) {
    let ids: Vec<u32> = (1..=250).collect();
    let fleet = Fleet::new(&[], 0);
    for id in &ids {
        fleet.push(*id, i64::from(*id));
    }
    let (_upstream, app) =
        on_change(&fleet, &ids, &format!("  listing_overlap: {overlap}\n")).await;
    scrape(&app, None).await;
    fleet.push(3, 120);
    let body = scrape(&app, None).await.body;
    let after_look = fleet.asked(3);
    let pages = body
        .value(
            "codearts_repo_exporter_listing_pages",
            &[("listing", "changes")],
        )
        .unwrap();
    app.refresh_discovery().await;
    scrape(&app, None).await;
    (after_look, pages, fleet.asked(3))
}

#[tokio::test]
async fn an_update_that_reaches_the_list_late_is_seen_within_the_overlap() {
    // The cut-off is 250 - 200 = 50: pages of 250..151, 150..51 (120 is here) and 50..1.
    assert_eq!(late_update("200s").await, (2, 3.0, 2));
}

#[tokio::test]
async fn an_update_beyond_the_overlap_is_seen_by_the_full_listing() {
    // The cut-off is 240: the first page (250..151) ends the look; 120 is on the second.
    let (after_look, pages, after_full_listing) = late_update("10s").await;
    assert_eq!((after_look, pages), (1, 1.0), "a look cannot see it");
    assert_eq!(
        after_full_listing, 2,
        "the full listing, the safety net, does"
    );
}

#[tokio::test]
async fn a_list_out_of_order_is_caught_by_the_full_listing() {
    let ids: Vec<u32> = (1..=150).collect();
    let fleet = Fleet::new(&[], 0);
    for id in &ids {
        fleet.push(*id, i64::from(*id));
    }
    let (_upstream, app) = on_change(&fleet, &ids, "").await;
    scrape(&app, None).await;
    // Repository 5 moves to the newest time, but the list sorts it last: a look stops on the
    // first page and never reaches it.
    fleet.push(5, 1000);
    fleet.state().sorted_last = Some(5);
    scrape(&app, None).await;
    assert_eq!(fleet.asked(5), 1);
    app.refresh_discovery().await;
    scrape(&app, None).await;
    assert_eq!(
        fleet.asked(5),
        2,
        "the full listing has every repository's time"
    );
}

#[tokio::test]
async fn a_change_during_a_scrape_is_asked_at_the_next_one() {
    let fleet = Fleet::new(&[1], 0);
    let (upstream, app) = on_change(&fleet, &[1], "").await;
    scrape(&app, None).await;
    // The push lands after the look and before the status answer of the next scrape: that
    // answer may predate it, so the time asked at is the look's, and the next look sees a move.
    fleet.push(1, 50);
    let pushing = fleet.clone();
    upstream
        .status(1, move |_: &Request| {
            pushing.push(1, 70);
            answer_json(200, settled())
        })
        .first(1)
        .await;
    scrape(&app, None).await;
    assert_eq!(
        fleet.asked(1),
        1,
        "the answer came from the mock that pushed"
    );
    let body = scrape(&app, None).await.body;
    assert_eq!(
        fleet.asked(1),
        2,
        "the push during the scrape is asked about"
    );
    assert_eq!(asked_for(&body, "changed"), 2.0);
}

#[tokio::test]
async fn without_change_driven_refresh_every_scrape_asks_every_repository_and_the_list_is_not_read()
{
    let fleet = Fleet::new(&[1, 2], 0);
    let upstream = Upstream::start().await;
    upstream.every_get(fleet.clone()).await;
    let app = app(&config_yaml(&upstream.uri(), &[1, 2], ""));
    scrape(&app, None).await;
    let body = scrape(&app, None).await.body;
    assert_eq!(fleet.asked_total(), 4);
    assert_eq!(fleet.looks(), 0);
    assert!(!body.contains("codearts_repo_exporter_refresh_requests_total{"));
}

#[tokio::test]
async fn the_last_push_comes_from_the_list_without_a_request() {
    let fleet = Fleet::new(&[1, 2], 0);
    fleet.push(1, 500);
    fleet.set(2, |repo| repo.listed = false);
    let upstream = Upstream::start().await;
    upstream
        .every_last_push(error(500, "x", "must not be asked"))
        .expect(0)
        .await;
    upstream.every_get(fleet.clone()).await;
    let yaml = config_yaml(
        &upstream.uri(),
        &[1, 2],
        "refresh:\n  mode: on_change\nlast_push:\n  enabled: true\n  source: listing\n",
    );
    let app = app(&yaml);
    let body = scrape(&app, None).await.body;
    assert_eq!(
        body.series("codearts_repo_statistics_last_push_timestamp_seconds", 1),
        Some((T + 500) as f64)
    );
    // The status's event was updated at UPDATED_AT (2025), long before.
    assert_eq!(
        body.series("codearts_repo_statistics_lag_seconds", 1),
        Some((T + 500 - 1_749_024_869) as f64)
    );
    assert_eq!(
        body.series("codearts_repo_statistics_last_push_up", 1),
        Some(1.0)
    );
    assert_eq!(
        body.series("codearts_repo_statistics_last_push_up", 2),
        Some(0.0),
        "not listed"
    );
    assert_eq!(
        body.value(
            "codearts_repo_exporter_requests_saved_total",
            &[("endpoint", "last_push_event"), ("reason", "listing")]
        ),
        Some(2.0)
    );
}

#[tokio::test]
async fn a_last_push_is_asked_again_only_when_its_listed_time_moved() {
    let fleet = Fleet::new(&[1, 2], 0);
    let upstream = Upstream::start().await;
    upstream
        .every_last_push(answer_json(
            200,
            json!({"ref": "master", "created_at": at(0)}),
        ))
        .await;
    upstream.every_get(fleet.clone()).await;
    // A minute's timer would ask again at once (min_interval is tiny): the listed time rules.
    let yaml = config_yaml(
        &upstream.uri(),
        &[1, 2],
        "refresh:\n  mode: on_change\nlast_push:\n  enabled: true\n  min_interval: 1ms\n",
    );
    let app = app(&yaml);
    let push_requests = || async {
        let mut per_id = [0; 3];
        for request in upstream.requests().await {
            for id in [1, 2] {
                if request.url.path() == push_path(id) {
                    per_id[id as usize] += 1;
                }
            }
        }
        per_id
    };
    scrape(&app, None).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    scrape(&app, None).await;
    assert_eq!(push_requests().await, [0, 1, 1]);
    fleet.push(2, 90);
    scrape(&app, None).await;
    assert_eq!(push_requests().await, [0, 1, 2]);
}

#[test]
fn refresh_settings_are_checked_naming_the_key() {
    let with = |extra: &str| config_yaml("http://127.0.0.1:1", &[1], extra);
    assert_refused(
        &with("refresh:\n  mode: sometimes\n"),
        "refresh.mode",
        "every_scrape, on_change",
    );
    assert_refused(
        &with("refresh:\n  max_staleness: 0s\n"),
        "refresh.max_staleness",
        "greater than 0",
    );
    assert_refused(
        &with("refresh:\n  max_staleness: 1m\n  listing_overlap: 2m\n"),
        "refresh.listing_overlap",
        "refresh.max_staleness",
    );
    assert_refused(
        &with("last_push:\n  enabled: true\n  source: listing\n"),
        "last_push.source",
        "refresh.mode: on_change",
    );
    assert_refused(
        &with("last_push:\n  source: git\n"),
        "last_push.source",
        "request, listing",
    );
    assert!(parse(&with(
        "refresh:\n  mode: on_change\nlast_push:\n  enabled: true\n  source: listing\n"
    ))
    .is_ok());
    assert!(parse(&with("refresh:\n  mode: every_scrape\n")).is_ok());
}
