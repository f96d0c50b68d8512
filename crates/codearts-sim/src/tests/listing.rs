//! The repository listing: stable paging, the limit, order, filters, and the SDK's model of
//! an entry.

use super::*;

/// The full path of a list entry as a client must build it: `namespace/path`, which is also the
/// path of `http_url_to_repo` without `.git`.
fn full_path(entry: &Value) -> String {
    let built = format!(
        "{}/{}",
        entry["namespace"].as_str().unwrap(),
        entry["path"].as_str().unwrap()
    );
    let url = entry["http_url_to_repo"].as_str().unwrap();
    let from_url = url::Url::parse(url).unwrap().path()[1..]
        .strip_suffix(".git")
        .unwrap()
        .to_owned();
    assert_eq!(built, from_url);
    built
}

async fn list(sim: &SimHandle, query: &str) -> Vec<Value> {
    let response = get_with_token(&format!("{}/v4/user/repositories{query}", sim.endpoint())).await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    assert!(!response.headers().contains_key("x-total"));
    response.json().await.unwrap()
}

#[tokio::test]
async fn stable_paging_returns_every_repository_exactly_once() {
    let sim = start(SimConfig::bench(250, Duration::ZERO)).await;
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let page = list(
            &sim,
            &format!("?offset={offset}&limit=100&order_by=created_at&sort=asc"),
        )
        .await;
        if page.is_empty() {
            break;
        }
        for repo in &page {
            assert!(repo.get("path_with_namespace").is_none(), "{repo}");
            assert!(repo["archived"].is_boolean());
            assert!(repo["status"].is_string());
            seen.push(u32::try_from(repo["id"].as_u64().unwrap()).unwrap());
        }
        offset += page.len();
    }
    let expected: Vec<u32> = sim.repositories().iter().map(|r| r.id).collect();
    assert_eq!(seen, expected);
    assert_eq!(sim.stats.snapshot().list_requests, 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_limit_above_100_is_served_as_100() {
    let sim = start(SimConfig::bench(250, Duration::ZERO)).await;
    assert_eq!(list(&sim, "?limit=1000").await.len(), 100);
    assert_eq!(list(&sim, "?limit=101&offset=200").await.len(), 50);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_list_is_newest_first_unarchived_by_default_and_filters_archived_and_search() {
    let sim = start(demo_without_latency()).await;
    let first = list(&sim, "").await;
    assert_eq!(first.len(), 20);
    assert_eq!(
        first[0]["id"],
        FIRST_ID + DEMO_REPOSITORIES - 1,
        "newest first"
    );
    let unarchived = list(&sim, "?limit=100").await;
    assert_eq!(unarchived.len(), 46);
    assert!(unarchived.iter().all(|r| r["archived"] == false));
    assert_eq!(list(&sim, "?archived=false&limit=100").await, unarchived);
    let archived = list(&sim, "?archived=true&limit=100").await;
    let archived: Vec<String> = archived.iter().map(full_path).collect();
    assert_eq!(archived, ["legacy/crm", "legacy/billing-v1-archive"]);
    let payments = list(&sim, "?search=payments%2F&limit=100&sort=asc").await;
    let payments: Vec<String> = payments.iter().map(full_path).collect();
    assert_eq!(
        payments,
        [
            "payments/api",
            "payments/ledger",
            "payments/checkout-web",
            "payments/fraud/detection"
        ]
    );
    // The display name is searched too.
    let gateway = list(&sim, "?search=API%20Gateway").await;
    assert_eq!(gateway.len(), 1);
    assert_eq!(full_path(&gateway[0]), "platform/infra/api-gateway");
    sim.shutdown().await;
}

#[tokio::test]
async fn list_entries_are_the_sdk_model_with_nested_groups_deleted_projects_and_a_fork() {
    let sim = start(demo_without_latency()).await;
    let entries = list(&sim, "?limit=100&sort=asc").await;
    let gateway = entries.iter().find(|e| e["path"] == "api-gateway").unwrap();
    assert_eq!(gateway["namespace"], "platform/infra");
    assert_eq!(gateway["name"], "API Gateway");
    assert_eq!(
        gateway["name_with_namespace"],
        "platform / infra / API Gateway"
    );
    assert_eq!(gateway["project_name"], "Platform");
    assert_eq!(gateway["project_is_delete"], false);
    let project_id = gateway["project_id"].as_str().unwrap();
    assert!(project_id.len() == 32 && project_id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(entries.iter().any(|e| full_path(e).split('/').count() > 2));
    let deleted: Vec<String> = entries
        .iter()
        .filter(|e| e["project_is_delete"] == true)
        .map(full_path)
        .collect();
    assert_eq!(deleted, ["qa/e2e-suite", "qa/load-tests"]);
    let fork = entries
        .iter()
        .find(|e| e.get("forked_from_repository").is_some())
        .unwrap();
    assert_eq!(full_path(fork), "marketing/landing-pages");
    assert_eq!(
        fork["forked_from_repository"]["path_with_namespace"],
        "web/storefront"
    );
    // Exactly the SDK model's keys, every one of them a known RepositorySimplestDto field.
    const MODEL: [&str; 29] = [
        "id",
        "name",
        "namespace",
        "path",
        "develop_mode",
        "visibility",
        "security",
        "star_count",
        "forks_count",
        "open_issues_count",
        "open_merge_requests_count",
        "starred",
        "name_with_namespace",
        "last_activity_at",
        "forked_from_repository",
        "permissions",
        "archived",
        "member_count",
        "uuid",
        "description",
        "last_repository_updated_at",
        "ssh_url_to_repo",
        "http_url_to_repo",
        "status",
        "active_statistic",
        "project_name",
        "project_id",
        "project_is_delete",
        "creator_id",
    ];
    for entry in &entries {
        for key in entry.as_object().unwrap().keys() {
            assert!(MODEL.contains(&key.as_str()), "{key}");
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn ordering_by_update_time_follows_last_activity() {
    let sim = start(demo_without_latency()).await;
    let entries = list(&sim, "?limit=100&order_by=updated_at&sort=desc").await;
    let activity: Vec<&str> = entries
        .iter()
        .map(|e| e["last_activity_at"].as_str().unwrap())
        .collect();
    assert!(
        activity.windows(2).all(|pair| pair[0] >= pair[1]),
        "{activity:?}"
    );
    sim.shutdown().await;
}
