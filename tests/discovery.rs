//! Discovery through `GET /v4/user/repositories` and the `/probe` multi-target endpoint.

mod common;

use common::*;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

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

/// One listing (archived ones, or the default without them), 100 entries a page, in stable
/// order, and the empty page that ends it; each page at the offset of the entries before it.
async fn mount_listing(server: &MockServer, archived: bool, entries: Vec<serde_json::Value>) {
    let mut pages: Vec<Vec<serde_json::Value>> = entries
        .chunks(100)
        .map(<[serde_json::Value]>::to_vec)
        .collect();
    pages.push(Vec::new());
    let mut offset = 0;
    for page in pages {
        let listing = Mock::given(method("GET"))
            .and(path("/v4/user/repositories"))
            .and(query_param("offset", offset.to_string()))
            .and(query_param("limit", "100"))
            .and(query_param("order_by", "created_at"))
            .and(query_param("sort", "asc"));
        let listing = if archived {
            listing.and(query_param("archived", "true"))
        } else {
            listing.and(query_param_is_missing("archived"))
        };
        offset += page.len();
        listing
            .respond_with(ResponseTemplate::new(200).set_body_json(page))
            .mount(server)
            .await;
    }
}

async fn mount_statuses(server: &MockServer) {
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex(
            r"^/v4/repositories/\d+/repository/statistics-status$",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(status_body(
            true,
            0,
            "finish",
            "2025-06-04T16:14:29+08:00",
        )))
        .mount(server)
        .await;
}

fn discovery_yaml(endpoint: &str, statics: &str, discovery: &str) -> String {
    format!(
        "codearts:\n  endpoint: {endpoint}\n  auth:\n    token: t\nrepositories:\n{statics}discovery:\n  enabled: true\n  interval: 1h\n{discovery}scrape:\n  retries: 0\n  concurrency: 64\n"
    )
}

fn up_ids(body: &str) -> Vec<u32> {
    let mut ids: Vec<u32> = samples(body)
        .into_iter()
        .filter(|s| s.name == "codearts_repo_statistics_up")
        .map(|s| s.labels["repository_id"].parse().unwrap())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn pages_through_every_repository() {
    let server = MockServer::start().await;
    mount_listing(&server, false, entries(1..=240)).await;
    mount_listing(&server, true, entries(241..=250)).await;
    mount_statuses(&server).await;
    let app = app(&discovery_yaml(&server.uri(), "", "  archived: true\n"));
    app.refresh_discovery().await;
    let body = scrape(&app, None).await.body;
    assert_eq!(up_ids(&body), (1..=250).collect::<Vec<_>>());
    assert_eq!(
        value(
            &body,
            "codearts_repo_exporter_repositories",
            &[("source", "discovered")]
        ),
        Some(250.0)
    );
    assert_eq!(
        value(
            &body,
            "codearts_repo_statistics_up",
            &[("repository_id", "7"), ("repository", "team/core/r7")]
        ),
        Some(1.0),
        "the repository label is the full path, namespace/path"
    );
    assert_eq!(
        value(
            &body,
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
    let server = MockServer::start().await;
    let mut listed = entries(1..=60);
    listed[40]["project_is_delete"] = true.into();
    listed.push(
        serde_json::json!({"id": 61, "name": "Elsewhere", "path": "r61", "namespace": "other"}),
    );
    mount_listing(&server, false, listed).await;
    let mut archived = entries(70..=70);
    archived[0]["archived"] = true.into();
    mount_listing(&server, true, archived).await;
    mount_statuses(&server).await;
    let filters = "  include: ['^team/', '^legacy/']\n  exclude: ['^legacy/r(1|2)0$']\n";
    let without_archived = app(&discovery_yaml(&server.uri(), "", filters));
    without_archived.refresh_discovery().await;
    let ids = up_ids(&scrape(&without_archived, None).await.body);
    // 10 and 20 are excluded, 41 is in a deleted project, 61 is outside the groups; 70 is
    // archived, listed only with `archived: true`.
    let expected: Vec<u32> = (1..=60).filter(|id| ![10, 20, 41].contains(id)).collect();
    assert_eq!(ids, expected);

    let with_archived = app(&discovery_yaml(
        &server.uri(),
        "",
        &format!("{filters}  archived: true\n"),
    ));
    with_archived.refresh_discovery().await;
    let ids = up_ids(&scrape(&with_archived, None).await.body);
    assert_eq!(ids.last(), Some(&70));
    assert_eq!(ids.len(), expected.len() + 1);
}

#[tokio::test]
async fn merges_static_and_discovered_with_the_static_name_winning() {
    let server = MockServer::start().await;
    mount_listing(&server, false, entries(1..=3)).await;
    mount_statuses(&server).await;
    let app = app(&discovery_yaml(
        &server.uri(),
        "  - id: 2\n    name: my/own-name\n  - id: 999\n",
        "",
    ));
    app.refresh_discovery().await;
    let body = scrape(&app, None).await.body;
    assert_eq!(up_ids(&body), [1, 2, 3, 999]);
    assert_eq!(
        value(
            &body,
            "codearts_repo_statistics_up",
            &[("repository_id", "2"), ("repository", "my/own-name")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &body,
            "codearts_repo_exporter_repositories",
            &[("source", "static")]
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &body,
            "codearts_repo_exporter_repositories",
            &[("source", "discovered")]
        ),
        Some(2.0)
    );
}

#[tokio::test]
async fn a_repository_removed_upstream_leaves_after_the_next_refresh() {
    let server = MockServer::start().await;
    // The first listing has three; the next one two.
    Mock::given(method("GET"))
        .and(path("/v4/user/repositories"))
        .and(query_param("offset", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(entries(1..=3)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v4/user/repositories"))
        .and(query_param("offset", "3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .mount(&server)
        .await;
    mount_listing(&server, false, entries(1..=2)).await;
    mount_statuses(&server).await;
    let app = app(&discovery_yaml(&server.uri(), "", ""));
    app.refresh_discovery().await;
    assert_eq!(up_ids(&scrape(&app, None).await.body), [1, 2, 3]);
    app.refresh_discovery().await;
    let body = scrape(&app, None).await.body;
    assert_eq!(up_ids(&body), [1, 2]);
    assert!(!body.contains("repository_id=\"3\""));
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_previous_list() {
    let server = MockServer::start().await;
    // The first refresh lists three (a page and the empty page); then the API fails.
    Mock::given(method("GET"))
        .and(path("/v4/user/repositories"))
        .and(query_param("offset", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(entries(1..=3)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v4/user/repositories"))
        .and(query_param("offset", "3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v4/user/repositories"))
        .respond_with(ResponseTemplate::new(503).set_body_raw("<html>down</html>", "text/html"))
        .mount(&server)
        .await;
    mount_statuses(&server).await;
    let app = app(&discovery_yaml(&server.uri(), "", ""));
    app.refresh_discovery().await;
    app.refresh_discovery().await;
    let body = scrape(&app, None).await.body;
    assert_eq!(up_ids(&body), [1, 2, 3]);
    assert_eq!(
        value(
            &body,
            "codearts_repo_exporter_api_request_errors_total",
            &[("endpoint", "user_repositories"), ("class", "server_error")]
        ),
        Some(1.0)
    );
    let landing = request(&app, "GET", "/", None).await.body;
    assert!(landing.contains("Discovery failing"), "{landing}");
    assert!(landing.contains("server_error"), "{landing}");
}

#[tokio::test]
async fn a_page_that_is_not_a_list_fails_the_refresh() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v4/user/repositories"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"repositories": []})),
        )
        .mount(&server)
        .await;
    let app = app(&discovery_yaml(&server.uri(), "  - id: 5\n", ""));
    app.refresh_discovery().await;
    let discovery = app.landing().discovery.expect("discovery is on");
    assert!(discovery.last_error.unwrap().contains("invalid_response"));
}

#[tokio::test]
async fn probe_answers_for_one_repository_only() {
    let server = MockServer::start().await;
    mount_statuses(&server).await;
    let app = app(&config_yaml(&server.uri(), &[1, 2, 3], ""));
    let answer = request(&app, "GET", "/probe?repository_id=2", Some("5")).await;
    assert_eq!(answer.status.as_u16(), 200);
    assert_eq!(up_ids(&answer.body), [2]);
    assert_eq!(
        value(
            &answer.body,
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
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let app = app(&config_yaml(&server.uri(), &[1], ""));
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
        let answer = request(&app, "GET", &format!("/probe{query}"), None).await;
        assert_eq!(answer.status.as_u16(), 400, "{query}: {}", answer.body);
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
    let server = MockServer::start().await;
    mount_statuses(&server).await;
    let open = app(&config_yaml(&server.uri(), &[1], ""));
    let answer = request(&open, "GET", "/probe?repository_id=77", None).await;
    assert_eq!(answer.status.as_u16(), 200);
    assert_eq!(up_ids(&answer.body), [77]);

    let closed = app(&format!(
        "{}probe:\n  allow_unlisted: false\n",
        config_yaml(&server.uri(), &[1], "")
    ));
    let answer = request(&closed, "GET", "/probe?repository_id=77", None).await;
    assert_eq!(answer.status.as_u16(), 403, "{}", answer.body);
    let listed = request(&closed, "GET", "/probe?repository_id=1", None).await;
    assert_eq!(listed.status.as_u16(), 200);
}

#[tokio::test]
async fn shard_keeps_only_its_share_of_the_repositories() {
    let server = MockServer::start().await;
    mount_statuses(&server).await;
    let ids: Vec<u32> = (1..=40).collect();
    let mut all = Vec::new();
    for index in 0..4 {
        let yaml = format!(
            "{}shard:\n  index: {index}\n  count: 4\n",
            config_yaml(&server.uri(), &ids, "")
        );
        let app = app(&yaml);
        all.extend(up_ids(&scrape(&app, None).await.body));
    }
    all.sort();
    assert_eq!(all, ids, "every id in exactly one shard");
}

#[tokio::test]
async fn landing_page_shows_repositories_not_yet_asked_as_pending() {
    let server = MockServer::start().await;
    mount_statuses(&server).await;
    let app = app(&config_yaml(&server.uri(), &[1, 2], ""));
    let before = request(&app, "GET", "/", None).await.body;
    assert!(
        before.contains(">pending<") && !before.contains(">timeout<"),
        "{before}"
    );
    scrape(&app, None).await;
    let after = request(&app, "GET", "/", None).await.body;
    assert!(
        after.contains(">ok<") && !after.contains("pending"),
        "{after}"
    );
}

#[tokio::test]
async fn landing_summary_counts_static_and_discovered_repositories_like_its_table() {
    let server = MockServer::start().await;
    mount_listing(&server, false, entries(1..=5)).await;
    mount_statuses(&server).await;
    // Repository 1 is listed statically and discovered: it counts once, as static.
    let statics = "  - id: 1\n    name: pinned\n  - id: 99\n";
    let app = app(&discovery_yaml(&server.uri(), statics, ""));
    app.refresh_discovery().await;
    let landing = request(&app, "GET", "/", None).await.body;
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
