//! Discovery through `GET /v4/user/repositories` and the `/probe` multi-target endpoint.

use std::sync::Arc;

use crate::helpers::*;
use codearts_repo_exporter::App;
use wiremock::ResponseTemplate;

/// List entries as the API sends them (`RepositorySimplestDto`): no `path_with_namespace`; the
/// full path is `namespace/path`, and `name` is a display name.
fn entries(ids: std::ops::RangeInclusive<u32>) -> Vec<serde_json::Value> {
    ids.map(|id| {
        let namespace = if id % 10 == 0 { "legacy" } else { "team/core" };
        serde_json::json!({
            "id": id, "name": format!("Repository {id}"), "path": format!("r{id}"),
            "namespace": namespace, "name_with_namespace": format!("{namespace} / Repository {id}"),
            "http_url_to_repo": format!("https://codehub.example.com/{namespace}/r{id}.git"),
            "project_id": format!("{id:032x}"), "project_name": format!("project-{}", id % 3),
            "project_is_delete": false, "archived": false, "visibility": "private", "status": "0"
        })
    })
    .collect()
}

/// One listing page of [`entries`] `ids`.
fn page(ids: std::ops::RangeInclusive<u32>) -> ResponseTemplate {
    answer_json(200, entries(ids).into())
}

/// The empty page that ends a listing.
fn empty_page() -> ResponseTemplate {
    answer_json(200, serde_json::json!([]))
}

fn discovery_yaml(endpoint: &str, statics: &str, discovery: &str) -> String {
    format!(
        "codearts:\n  endpoint: {endpoint}\n  auth:\n    token: t\nrepositories:\n{statics}discovery:\n  enabled: true\n  interval: 1h\n{discovery}scrape:\n  retries: 0\n  concurrency: 64\n"
    )
}

#[tokio::test]
async fn pages_through_every_repository() {
    let upstream = Upstream::start().await;
    upstream.listing(false, entries(1..=240)).await;
    upstream.listing(true, entries(241..=250)).await;
    upstream.every_status(ok_status()).await;
    let app = app(&discovery_yaml(&upstream.uri(), "", "  archived: true\n"));
    app.refresh_discovery().await;
    let body = scrape(&app, None).await.body;
    assert_eq!(body.repositories(), (1..=250).collect::<Vec<_>>());
    assert_eq!(
        body.value(
            "codearts_repo_exporter_repositories",
            &[("source", "discovered")]
        ),
        Some(250.0)
    );
    assert_eq!(
        body.value(
            "codearts_repo_statistics_up",
            &[("repository_id", "7"), ("repository", "team/core/r7")]
        ),
        Some(1.0),
        "the repository label is the full path, namespace/path"
    );
    assert_eq!(
        body.value(
            "codearts_repo_statistics_repository_info",
            &[
                ("repository_id", "7"),
                ("project", "project-1"),
                ("project_id", "00000000000000000000000000000007")
            ]
        ),
        Some(1.0)
    );
    assert!(body.contains("codearts_repo_exporter_discovery_last_success_timestamp_seconds"));
}

#[tokio::test]
async fn filters_by_include_exclude_and_archived() {
    let upstream = Upstream::start().await;
    let mut listed = entries(1..=60);
    listed[40]["project_is_delete"] = true.into();
    listed.push(
        serde_json::json!({"id": 61, "name": "Elsewhere", "path": "r61", "namespace": "other"}),
    );
    upstream.listing(false, listed).await;
    let mut archived = entries(70..=70);
    archived[0]["archived"] = true.into();
    upstream.listing(true, archived).await;
    upstream.every_status(ok_status()).await;
    let filters = "  include: ['^team/', '^legacy/']\n  exclude: ['^legacy/r(1|2)0$']\n";
    let without_archived = app(&discovery_yaml(&upstream.uri(), "", filters));
    without_archived.refresh_discovery().await;
    let ids = scrape(&without_archived, None).await.body.repositories();
    // 10 and 20 are excluded, 41 is in a deleted project, 61 is outside the groups; 70 is
    // archived, listed only with `archived: true`.
    let expected: Vec<u32> = (1..=60).filter(|id| ![10, 20, 41].contains(id)).collect();
    assert_eq!(ids, expected);

    let with_archived = app(&discovery_yaml(
        &upstream.uri(),
        "",
        &format!("{filters}  archived: true\n"),
    ));
    with_archived.refresh_discovery().await;
    let ids = scrape(&with_archived, None).await.body.repositories();
    assert_eq!(ids.last(), Some(&70));
    assert_eq!(ids.len(), expected.len() + 1);
}

#[tokio::test]
async fn merges_static_and_discovered_with_the_static_name_winning() {
    let upstream = Upstream::start().await;
    upstream.listing(false, entries(1..=3)).await;
    upstream.every_status(ok_status()).await;
    let app = app(&discovery_yaml(
        &upstream.uri(),
        "  - id: 2\n    name: my/own-name\n  - id: 999\n",
        "",
    ));
    app.refresh_discovery().await;
    let body = scrape(&app, None).await.body;
    assert_eq!(body.repositories(), [1, 2, 3, 999]);
    assert_eq!(
        body.value(
            "codearts_repo_statistics_up",
            &[("repository_id", "2"), ("repository", "my/own-name")]
        ),
        Some(1.0)
    );
    for source in ["static", "discovered"] {
        assert_eq!(
            body.value("codearts_repo_exporter_repositories", &[("source", source)]),
            Some(2.0),
            "{source}"
        );
    }
}

#[tokio::test]
async fn a_repository_removed_upstream_leaves_after_the_next_refresh() {
    let upstream = Upstream::start().await;
    // The first listing has three; the next one two.
    upstream.listing_page(0, page(1..=3)).first(1).await;
    upstream.listing_page(3, empty_page()).await;
    upstream.listing(false, entries(1..=2)).await;
    upstream.every_status(ok_status()).await;
    let app = app(&discovery_yaml(&upstream.uri(), "", ""));
    app.refresh_discovery().await;
    assert_eq!(scrape(&app, None).await.body.repositories(), [1, 2, 3]);
    app.refresh_discovery().await;
    let body = scrape(&app, None).await.body;
    assert_eq!(body.repositories(), [1, 2]);
    assert!(!body.contains("repository_id=\"3\""));
}

/// An app whose first discovery refresh lists repositories 1–3 (a page and the empty page) and
/// whose second gets `failure` for every page; both refreshes done.
async fn listed_then_failing(failure: ResponseTemplate) -> (Upstream, Arc<App>) {
    let upstream = Upstream::start().await;
    upstream.listing_page(0, page(1..=3)).first(1).await;
    upstream.listing_page(3, empty_page()).first(1).await;
    upstream.every_listing_page(failure).await;
    upstream.every_status(ok_status()).await;
    let app = app(&discovery_yaml(&upstream.uri(), "", ""));
    app.refresh_discovery().await;
    app.refresh_discovery().await;
    (upstream, app)
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_previous_list() {
    let (_upstream, app) = listed_then_failing(
        ResponseTemplate::new(503).set_body_raw("<html>down</html>", "text/html"),
    )
    .await;
    let body = scrape(&app, None).await.body;
    assert_eq!(body.repositories(), [1, 2, 3]);
    assert_eq!(body.errors("user_repositories", "server_error"), Some(1.0));
    let landing = get(&app, "/").await.body;
    assert!(landing.contains("Discovery failing"), "{landing}");
    assert!(landing.contains("server_error"), "{landing}");
}

#[tokio::test]
async fn a_short_page_does_not_end_the_listing_only_an_empty_one_does() {
    // A page may come back short (the API's own limit, entries filtered out server-side); only
    // the empty page says there is no more.
    let upstream = Upstream::start().await;
    upstream.listing_page(0, page(1..=40)).await;
    upstream.listing_page(40, page(41..=140)).await;
    upstream.listing_page(140, empty_page()).expect(1).await;
    upstream.every_status(ok_status()).await;
    let app = app(&discovery_yaml(&upstream.uri(), "", ""));
    app.refresh_discovery().await;
    let body = scrape(&app, None).await.body;
    assert_eq!(body.repositories(), (1..=140).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_page_of_the_wrong_shape_keeps_the_previous_list() {
    let (_upstream, app) =
        listed_then_failing(answer_json(200, serde_json::json!({"repositories": []}))).await;
    let body = scrape(&app, None).await.body;
    assert_eq!(body.repositories(), [1, 2, 3]);
    assert_eq!(
        body.errors("user_repositories", "invalid_response"),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_page_that_is_not_a_list_fails_the_refresh() {
    let upstream = Upstream::start().await;
    upstream
        .every_listing_page(answer_json(200, serde_json::json!({"repositories": []})))
        .await;
    let app = app(&discovery_yaml(&upstream.uri(), "  - id: 5\n", ""));
    app.refresh_discovery().await;
    let discovery = app.landing().discovery.expect("discovery is on");
    assert!(discovery.last_error.unwrap().contains("invalid_response"));
}

#[tokio::test]
async fn probe_answers_for_one_repository_only() {
    let upstream = Upstream::start().await;
    upstream.every_status(ok_status()).await;
    let app = app(&config_yaml(&upstream.uri(), &[1, 2, 3], ""));
    let answer = request(&app, "GET", "/probe?repository_id=2", Some("5")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body.repositories(), [2]);
    assert_eq!(
        answer.body.value(
            "codearts_repo_statistics_up",
            &[("repository_id", "2"), ("repository", "group/repo-2")]
        ),
        Some(1.0)
    );
    assert!(
        !answer.body.contains("codearts_repo_exporter_"),
        "self metrics stay on /metrics"
    );
    assert!(!answer.body.contains("process_"));
}

#[tokio::test]
async fn probe_rejects_unusable_ids_without_asking_upstream() {
    let upstream = Upstream::start().await;
    upstream
        .every_get(ResponseTemplate::new(200))
        .expect(0)
        .await;
    let app = app(&config_yaml(&upstream.uri(), &[1], ""));
    let long = "7".repeat(5000);
    for query in [
        "",
        "?repository_id=",
        "?repository_id=-1",
        "?repository_id=0",
        "?repository_id=1e3",
        "?repository_id=99999999999",
        "?repository_id=%00",
        "?repository_id=abc",
        &format!("?repository_id={long}"),
        "?repository_id=1&repository_id=2",
    ] {
        let answer = get(&app, &format!("/probe{query}")).await;
        assert_eq!(answer.status, 400, "{query}: {}", answer.body);
        assert_eq!(
            answer.body.lines().count(),
            1,
            "one-line reason: {}",
            answer.body
        );
        assert!(answer.body.len() < 200);
    }
}

#[tokio::test]
async fn probe_of_unlisted_ids_follows_the_switch() {
    let upstream = Upstream::start().await;
    upstream.every_status(ok_status()).await;
    let open = app(&config_yaml(&upstream.uri(), &[1], ""));
    let answer = get(&open, "/probe?repository_id=77").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body.repositories(), [77]);

    let closed = app(&format!(
        "{}probe:\n  allow_unlisted: false\n",
        config_yaml(&upstream.uri(), &[1], "")
    ));
    let answer = get(&closed, "/probe?repository_id=77").await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    let listed = get(&closed, "/probe?repository_id=1").await;
    assert_eq!(listed.status, 200);
}

#[tokio::test]
async fn shard_keeps_only_its_share_of_the_repositories() {
    let upstream = Upstream::start().await;
    upstream.every_status(ok_status()).await;
    let ids: Vec<u32> = (1..=40).collect();
    let mut all = Vec::new();
    for index in 0..4 {
        let yaml = format!(
            "{}shard:\n  index: {index}\n  count: 4\n",
            config_yaml(&upstream.uri(), &ids, "")
        );
        let app = app(&yaml);
        all.extend(scrape(&app, None).await.body.repositories());
    }
    all.sort();
    assert_eq!(all, ids, "every id in exactly one shard");
}

#[tokio::test]
async fn landing_summary_counts_static_and_discovered_repositories_like_its_table() {
    let upstream = Upstream::start().await;
    upstream.listing(false, entries(1..=5)).await;
    upstream.every_status(ok_status()).await;
    // Repository 1 is listed statically and discovered: it counts once, as static.
    let statics = "  - id: 1\n    name: pinned\n  - id: 99\n";
    let app = app(&discovery_yaml(&upstream.uri(), statics, ""));
    app.refresh_discovery().await;
    let landing = get(&app, "/").await.body;
    assert!(
        landing.contains(" repositories=6 static=2 discovered=4 "),
        "{landing}"
    );
    assert!(landing.contains("<h2>Repositories (6)</h2>"), "{landing}");
    // --config.check and the start-up log know only the static list.
    assert!(
        app.summary().contains(" repositories=2 "),
        "{}",
        app.summary()
    );
}
