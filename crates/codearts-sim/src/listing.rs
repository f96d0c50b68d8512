//! `GET /v4/user/repositories`: a top-level JSON array of `RepositorySimplestDto`, exactly the
//! fields of the SDK's model (`huaweicloudsdkcodeartsrepo.v4.model.RepositorySimplestDto`) — no
//! `path_with_namespace` at the top level (only inside `forked_from_repository`).
//!
//! Query parameters, as `ListCurrentUserRepositoriesRequest` has them:
//! - `offset` (from 0, default 0) and `limit` (default 20). **A `limit` above 100 is served as
//!   100**, the way GitLab-based APIs cap `per_page`: the API documents no maximum, and a client
//!   that pages must stop at an empty page rather than at a short one. `limit=0` or a negative
//!   one is a 400.
//! - `order_by`: `created_at` (default) or `updated_at` (`last_activity_at`: which of the two
//!   times CodeArts sorts by is not documented; here the later one); `sort`: `desc` (default) or
//!   `asc`. Ties fall back to the id, so `order_by=created_at&sort=asc` pages stably.
//! - `archived`: absent or `false` lists only repositories that are not archived (the API's
//!   default); `true` lists only archived ones.
//! - `search`: a case-insensitive substring of the full path or the display name.
//! - `starred`, `membership`, `user_created`, `include_abnormal` are accepted and ignored (the
//!   caller created and is a member of everything here). Repositories of deleted CodeArts
//!   projects are listed, with `project_is_delete: true`.
//!
//! Without activity, `last_activity_at` moves with the clock (the repository was active some
//! fixed time ago) and `last_repository_updated_at` trails it by up to ten minutes. With
//! activity (`activity.rs`) both are the repository's last push, and move only with pushes.
//!
//! No `X-Total` header: the SDK's response model has none for this operation.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::answers::{mix, timestamp};
use super::catalog::{Catalog, SimRepository};
use super::routes::{error_response, json_response};

/// The most entries one page holds, whatever `limit` asks.
pub(crate) const MAX_LIMIT: usize = 100;

/// The host in the clone URLs.
const GIT_HOST: &str = "codehub.devcloud.cn-north-4.huaweicloud.com";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrderBy {
    CreatedAt,
    UpdatedAt,
}

/// A parsed query.
#[derive(Debug)]
pub(crate) struct PageQuery {
    offset: usize,
    limit: usize,
    order_by: OrderBy,
    ascending: bool,
    archived: bool,
    search: Option<String>,
}

impl PageQuery {
    pub(crate) fn parse(query: &str) -> Result<Self, String> {
        let mut page = Self {
            offset: 0,
            limit: 20,
            order_by: OrderBy::CreatedAt,
            ascending: false,
            archived: false,
            search: None,
        };
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "offset" => {
                    page.offset = value
                        .parse()
                        .map_err(|_| format!("offset must be a whole number, not {value:?}"))?;
                }
                "limit" => {
                    let limit: usize = value
                        .parse()
                        .ok()
                        .filter(|limit| *limit >= 1)
                        .ok_or_else(|| format!("limit must be 1 or more, not {value:?}"))?;
                    page.limit = limit.min(MAX_LIMIT);
                }
                "order_by" => {
                    page.order_by = match value.as_ref() {
                        "created_at" => OrderBy::CreatedAt,
                        "updated_at" => OrderBy::UpdatedAt,
                        other => {
                            return Err(format!(
                                "order_by must be created_at or updated_at, not {other:?}"
                            ))
                        }
                    }
                }
                "sort" => {
                    page.ascending = match value.as_ref() {
                        "asc" => true,
                        "desc" => false,
                        other => return Err(format!("sort must be asc or desc, not {other:?}")),
                    }
                }
                "archived" => {
                    page.archived = value
                        .parse()
                        .map_err(|_| format!("archived must be true or false, not {value:?}"))?;
                }
                "search" => {
                    if value.is_empty() || value.len() > 512 {
                        return Err("search must be 1 to 512 characters long".to_owned());
                    }
                    page.search = Some(value.to_lowercase());
                }
                _ => {}
            }
        }
        Ok(page)
    }
}

/// One page of the list, at `now` (Unix seconds); `pushed`, with activity, has each
/// repository's last push by position, which is then both of its listed times.
pub(crate) fn page(catalog: &Catalog, query: &str, now: i64, pushed: Option<&[f64]>) -> Response {
    let page = match PageQuery::parse(query) {
        Ok(page) => page,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, "CH.080002", &message),
    };
    let selected = catalog
        .repositories()
        .iter()
        .enumerate()
        .filter(|(_, repo)| repo.archived == page.archived)
        .filter(|(_, repo)| {
            page.search.as_deref().is_none_or(|search| {
                repo.full_path.to_lowercase().contains(search)
                    || repo.display_name.to_lowercase().contains(search)
            })
        });
    // (last_activity_at, last_repository_updated_at) of the entry at a position.
    let times = |index: usize, repo: &SimRepository| match pushed.and_then(|p| p.get(index)) {
        Some(pushed) => {
            let at = pushed.floor() as i64;
            (at, at)
        }
        None => {
            let activity = last_activity(repo, now);
            (activity, activity - (mix(u64::from(repo.id)) % 600) as i64)
        }
    };
    let dto = |(index, repo): (usize, &SimRepository), (activity, updated): (i64, i64)| {
        let forked_from = u32::try_from(index)
            .ok()
            .and_then(|index| catalog.forked_from(index));
        simplest_dto(repo, forked_from, activity, updated)
    };
    let items: Vec<Value> = match page.order_by {
        // The catalog is in creation order (`created_at` grows strictly with the position), so
        // a page is a walk to its offset rather than a sort of the whole list. Sorting 100,000
        // entries for each of the 1,000 pages of a listing took 4.3 s of the simulator's CPU
        // against the exporter's 2.1 s (BENCHMARKS.md, discovery).
        OrderBy::CreatedAt => {
            let entries: Box<dyn Iterator<Item = (usize, &SimRepository)>> = if page.ascending {
                Box::new(selected)
            } else {
                Box::new(selected.rev())
            };
            entries
                .skip(page.offset)
                .take(page.limit)
                .map(|entry| dto(entry, times(entry.0, entry.1)))
                .collect()
        }
        OrderBy::UpdatedAt => {
            let mut matching: Vec<_> = selected
                .map(|entry| (entry, times(entry.0, entry.1)))
                .collect();
            // Ties fall back to the id, so the order is stable.
            matching.sort_by_key(|((_, repo), (activity, updated))| {
                ((*activity).max(*updated), repo.id)
            });
            if !page.ascending {
                matching.reverse();
            }
            matching
                .into_iter()
                .skip(page.offset)
                .take(page.limit)
                .map(|(entry, times)| dto(entry, times))
                .collect()
        }
    };
    json_response(StatusCode::OK, Value::Array(items).to_string())
}

/// When the repository was last active: within the last day, moving with the clock.
fn last_activity(repo: &SimRepository, now: i64) -> i64 {
    let seed = mix(u64::from(repo.id));
    now - (seed % 86_400) as i64
}

/// One `RepositorySimplestDto`.
fn simplest_dto(
    repo: &SimRepository,
    forked_from: Option<&SimRepository>,
    activity: i64,
    updated: i64,
) -> Value {
    let seed = mix(u64::from(repo.id));
    let stamp = |unix: i64| timestamp(unix, None);
    let namespace = repo.namespace();
    let mut dto = json!({
        "id": repo.id,
        "name": repo.display_name,
        "namespace": namespace,
        "path": repo.path(),
        "visibility": "private",
        "star_count": seed % 7,
        "forks_count": seed % 3,
        "starred": false,
        "name_with_namespace": format!("{} / {}", namespace.replace('/', " / "), repo.display_name),
        "last_activity_at": stamp(activity),
        "archived": repo.archived,
        "member_count": 2 + seed % 30,
        "uuid": format!("{:016x}{:016x}", mix(seed ^ 0x3d), mix(seed ^ 0x4d)),
        "description": "",
        "last_repository_updated_at": stamp(updated),
        "ssh_url_to_repo": format!("git@{GIT_HOST}:{}.git", repo.full_path),
        "http_url_to_repo": format!("https://{GIT_HOST}/{}.git", repo.full_path),
        "status": "normal",
        "active_statistic": (0..7).map(|day| mix(seed ^ day) % 12).collect::<Vec<_>>(),
        "project_name": repo.project_name,
        "project_id": repo.project_id,
        "project_is_delete": repo.project_is_delete,
        "creator_id": 8_412_115 + seed % 1000,
    });
    if let (Some(parent), Value::Object(fields)) = (forked_from, &mut dto) {
        fields.insert(
            "forked_from_repository".to_owned(),
            json!({
                "id": parent.id,
                "name": parent.display_name,
                "namespace": parent.namespace(),
                "name_with_namespace": format!(
                    "{} / {}", parent.namespace().replace('/', " / "), parent.display_name),
                "path_with_namespace": parent.full_path,
                "project_id": parent.project_id,
                "project_name": parent.project_name,
            }),
        );
    }
    dto
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_query_defaults_to_the_twenty_newest_unarchived() {
        let page = PageQuery::parse("").unwrap();
        assert_eq!((page.offset, page.limit), (0, 20));
        assert_eq!(page.order_by, OrderBy::CreatedAt);
        assert!(!page.ascending && !page.archived);
    }

    #[test]
    fn page_query_caps_the_limit_at_100_and_refuses_zero() {
        assert!(PageQuery::parse("limit=0").is_err());
        assert!(PageQuery::parse("limit=-1").is_err());
        assert_eq!(PageQuery::parse("limit=101").unwrap().limit, 100);
        assert_eq!(PageQuery::parse("limit=100000").unwrap().limit, 100);
        let page = PageQuery::parse(
            "limit=100&offset=7&archived=true&search=A%2Fb&order_by=updated_at&sort=asc",
        )
        .unwrap();
        assert_eq!((page.limit, page.offset), (100, 7));
        assert!(page.archived && page.ascending);
        assert_eq!(page.order_by, OrderBy::UpdatedAt);
        assert_eq!(page.search.as_deref(), Some("a/b"));
    }

    #[test]
    fn page_query_refuses_unknown_orders_and_sorts() {
        for query in [
            "order_by=name",
            "sort=up",
            "archived=maybe",
            "offset=-3",
            "search=",
        ] {
            assert!(PageQuery::parse(query).is_err(), "{query}");
        }
    }

    /// The ids and (`last_activity_at`, `last_repository_updated_at`) of a page's entries.
    async fn entries(response: Response) -> Vec<(u64, String, String)> {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let page: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
        page.iter()
            .map(|e| {
                let text = |key: &str| e[key].as_str().unwrap().to_owned();
                (
                    e["id"].as_u64().unwrap(),
                    text("last_activity_at"),
                    text("last_repository_updated_at"),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn with_activity_both_times_are_the_last_push_and_updated_at_sorts_by_them() {
        let catalog = Catalog::new(5, crate::Answers::Uniform).unwrap();
        let first = catalog.repositories()[0].id as u64;
        let pushed = [
            1_780_000_300.0,
            1_780_000_100.0,
            1_780_000_500.9,
            1_780_000_200.0,
            1_780_000_400.0,
        ];
        let newest_first = entries(page(
            &catalog,
            "order_by=updated_at&sort=desc&limit=3",
            1_780_001_000,
            Some(&pushed),
        ))
        .await;
        let ids: Vec<u64> = newest_first.iter().map(|e| e.0 - first).collect();
        assert_eq!(ids, [2, 4, 0]);
        let stamp = crate::activity::whole_second(1_780_000_500.9);
        assert_eq!(newest_first[0], (first + 2, stamp.clone(), stamp));
        let next = entries(page(
            &catalog,
            "order_by=updated_at&sort=desc&limit=3&offset=3",
            1_780_001_000,
            Some(&pushed),
        ))
        .await;
        assert_eq!(next.iter().map(|e| e.0 - first).collect::<Vec<_>>(), [3, 1]);
        let oldest_first = entries(page(
            &catalog,
            "order_by=updated_at&sort=asc&limit=1",
            1_780_001_000,
            Some(&pushed),
        ))
        .await;
        assert_eq!(oldest_first[0].0 - first, 1);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_list_queries_never_panic(query in "\\PC*") {
            let _ = PageQuery::parse(&query);
        }
    }
}
