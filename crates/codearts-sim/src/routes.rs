//! The simulator's HTTP surface: routes, handlers, and the JSON answer helpers they share.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

use super::access::{authorize, Denied};
use super::answers::{self, mix};
use super::catalog::Catalog;
use super::faults::fault_at;
use super::iam::{self, Tokens};
use super::stats::SimStats;
use super::{Answers, Latency, SimConfig, SimCredentials};

/// Everything a handler needs; shared read-only by all requests.
pub(crate) struct Sim {
    credentials: SimCredentials,
    latency: Latency,
    answers: Answers,
    inject_failures: bool,
    catalog: Arc<Catalog>,
    stats: Arc<SimStats>,
    tokens: Tokens,
}

impl Sim {
    pub(crate) fn new(config: SimConfig, catalog: Arc<Catalog>, stats: Arc<SimStats>) -> Arc<Self> {
        Arc::new(Self {
            tokens: Tokens::new(rand::random(), config.token_lifetime),
            credentials: config.credentials,
            latency: config.latency,
            answers: config.answers,
            inject_failures: config.inject_failures,
            catalog,
            stats,
        })
    }

    /// Waits as long as the configured latency says, so that every route feels remote.
    async fn delay(&self) {
        let delay = match self.latency {
            Latency::Fixed(delay) => delay,
            Latency::Realistic => realistic_delay(),
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }

    /// Checks the credentials, counting refusals.
    fn authorize(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<(), Denied> {
        authorize(
            &self.credentials,
            &self.tokens,
            method,
            uri,
            headers,
            now_micros(),
        )
        .inspect_err(|_| {
            self.stats
                .auth_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
    }
}

/// Mostly 5–150 ms, leaning to the fast end; one request in fifty takes 0.4–1.5 s.
fn realistic_delay() -> Duration {
    use rand::Rng;
    let mut rng = rand::rng();
    let millis = if rng.random_bool(0.02) {
        rng.random_range(400..=1500)
    } else {
        let u: f64 = rng.random();
        5 + (u * u * 145.0) as u64
    };
    Duration::from_millis(millis)
}

pub(crate) fn router(sim: Arc<Sim>) -> Router {
    let stats = sim.stats.clone();
    Router::new()
        .route(
            "/v4/repositories/{repository_id}/repository/statistics-status",
            get(statistics_status),
        )
        .route("/v4/user/repositories", get(user_repositories))
        .route("/v3/auth/tokens", post(issue_token))
        .fallback(no_such_api)
        .layer(middleware::from_fn_with_state(stats, count_and_tag))
        // Added after the layer so that reading the counters does not change them.
        .route("/-/stats", get(stats_json))
        .with_state(sim)
}

/// Counts the request, tracks it in flight, and gives the answer an `X-Request-Id`.
async fn count_and_tag(
    State(stats): State<Arc<SimStats>>,
    request: Request,
    next: Next,
) -> Response {
    let _in_flight = stats.begin_request();
    let mut response = next.run(request).await;
    if let Ok(id) = HeaderValue::from_str(&format!("{:032x}", rand::random::<u128>())) {
        response.headers_mut().insert("x-request-id", id);
    }
    response
}

async fn statistics_status(
    State(sim): State<Arc<Sim>>,
    Path(raw_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    sim.stats
        .status_requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    sim.delay().await;
    if let Err(denied) = sim.authorize(&method, &uri, &headers) {
        return denied.response();
    }
    let Some(id) = raw_id
        .parse::<u32>()
        .ok()
        .filter(|id| (1..=i32::MAX.unsigned_abs()).contains(id))
    else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "CH.00000001",
            "repository_id must be an integer in 1..2147483647",
        );
    };
    let Some(index) = sim.catalog.index_of(id) else {
        return repository_not_found();
    };
    let now = now_micros().div_euclid(1_000_000);
    if sim.inject_failures {
        if let Some(fault) = fault_at(index) {
            if let Some(answer) = fault.answer(now).await {
                return answer;
            }
        }
    }
    let body = answers::statistics_status(index, id, now, sim.answers);
    json_response(StatusCode::OK, body.to_string())
}

async fn user_repositories(
    State(sim): State<Arc<Sim>>,
    RawQuery(query): RawQuery,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    sim.stats
        .list_requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    sim.delay().await;
    if let Err(denied) = sim.authorize(&method, &uri, &headers) {
        return denied.response();
    }
    let page = match PageQuery::parse(query.as_deref().unwrap_or("")) {
        Ok(page) => page,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, "CH.080002", &message),
    };
    let matching: Vec<_> = sim
        .catalog
        .repositories()
        .iter()
        .filter(|repo| {
            page.archived
                .is_none_or(|archived| repo.archived == archived)
        })
        .filter(|repo| {
            page.search
                .as_ref()
                .is_none_or(|s| repo.name.contains(s.as_str()))
        })
        .collect();
    let now = now_micros().div_euclid(1_000_000);
    let items: Vec<_> = matching
        .iter()
        .skip(page.offset)
        .take(page.limit)
        .map(|repo| repository_json(repo, now))
        .collect();
    let mut response = json_response(StatusCode::OK, serde_json::Value::Array(items).to_string());
    response
        .headers_mut()
        .insert("x-total", HeaderValue::from(matching.len()));
    response
}

/// `offset`, `limit` (1..=100, default 20), and the `archived` and `search` filters. Without
/// `archived` every repository is listed: the real default is not documented well enough to copy.
struct PageQuery {
    offset: usize,
    limit: usize,
    archived: Option<bool>,
    search: Option<String>,
}

impl PageQuery {
    fn parse(query: &str) -> Result<Self, String> {
        let mut page = Self {
            offset: 0,
            limit: 20,
            archived: None,
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
                    page.limit = value
                        .parse()
                        .ok()
                        .filter(|limit| (1..=100).contains(limit))
                        .ok_or_else(|| format!("limit must be in 1..100, not {value:?}"))?;
                }
                "archived" => {
                    page.archived =
                        Some(value.parse().map_err(|_| {
                            format!("archived must be true or false, not {value:?}")
                        })?);
                }
                "search" => page.search = Some(value.into_owned()),
                _ => {}
            }
        }
        Ok(page)
    }
}

/// One `RepositorySimplestDto` (reference §3.1).
fn repository_json(repo: &super::SimRepository, now: i64) -> serde_json::Value {
    let (namespace, name) = repo
        .name
        .split_once('/')
        .unwrap_or(("", repo.name.as_str()));
    let seed = mix(u64::from(repo.id));
    let host = "codehub.devcloud.cn-north-4.huaweicloud.com";
    let last_activity = now - (seed % 86_400) as i64;
    let (y, mo, d, h, mi, s) = answers::civil(last_activity + 8 * 3600);
    json!({
        "id": repo.id,
        "name": name,
        "path": name,
        "namespace": namespace,
        "path_with_namespace": repo.name,
        "name_with_namespace": format!("{namespace} / {name}"),
        "archived": repo.archived,
        "project_id": format!("{:016x}{:016x}", mix(seed ^ 0x1d), mix(seed ^ 0x2d)),
        "project_name": namespace,
        "uuid": format!("{:016x}{:016x}", mix(seed ^ 0x3d), mix(seed ^ 0x4d)),
        "visibility": "private",
        "http_url_to_repo": format!("https://{host}/{}.git", repo.name),
        "ssh_url_to_repo": format!("git@{host}:{}.git", repo.name),
        "last_activity_at": format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}+08:00"),
        "member_count": 2 + seed % 30,
        "creator_id": 8_412_115 + seed % 1000,
    })
}

async fn issue_token(
    State(sim): State<Arc<Sim>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    sim.stats
        .iam_token_requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    sim.delay().await;
    let nocatalog = url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .any(|(key, value)| key == "nocatalog" && !value.is_empty());
    iam::issue_token(
        &sim.credentials,
        &sim.tokens,
        &body,
        nocatalog,
        now_micros(),
        rand::random(),
    )
}

async fn stats_json(State(sim): State<Arc<Sim>>) -> Response {
    match serde_json::to_string(&sim.stats.snapshot()) {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(error) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SIM.0001",
            &error.to_string(),
        ),
    }
}

async fn no_such_api() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "APIG.0101",
        "The API does not exist or has not been published in the environment",
    )
}

/// 404 `CH.00402000`, for ids that do not exist (and for the repository injected as deleted).
pub(crate) fn repository_not_found() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "CH.00402000",
        "The repository does not exist or you do not have permission to access it.",
    )
}

/// A v4 error: `{"error_code": ..., "error_msg": ...}`.
pub(crate) fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        json!({"error_code": code, "error_msg": message}).to_string(),
    )
}

pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body,
    )
        .into_response()
}

/// Now, in Unix microseconds.
fn now_micros() -> i64 {
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000;
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_query_defaults_to_the_first_twenty() {
        let page = PageQuery::parse("").unwrap();
        assert_eq!((page.offset, page.limit, page.archived), (0, 20, None));
    }

    #[test]
    fn page_query_refuses_limits_outside_1_to_100() {
        assert!(PageQuery::parse("limit=0").is_err());
        assert!(PageQuery::parse("limit=101").is_err());
        assert!(
            PageQuery::parse("limit=100&offset=7&archived=false&search=a%2Fb").is_ok_and(|p| p
                .limit
                == 100
                && p.offset == 7
                && p.archived == Some(false)
                && p.search.as_deref() == Some("a/b"))
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_list_queries_never_panic(query in "\\PC*") {
            let _ = PageQuery::parse(&query);
        }
    }
}
