//! The simulator's HTTP surface: routes, handlers, and the JSON answer helpers they share.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde_json::json;

use super::access::{Denied, Gate};
use super::activity::{whole_second, RunRecord, World};
use super::catalog::Catalog;
use super::faults::fault_at;
use super::iam::{self, Tokens};
use super::metadata::{Metadata, MetadataFault};
use super::recorder::{kept_body, RecordedRequest, Recorder};
use super::stats::SimStats;
use super::{answers, last_push, listing, scenarios};
use super::{Answers, Latency, SimConfig, FIRST_ID};

/// Everything a handler needs; shared by all requests.
pub(crate) struct Sim {
    gate: Gate,
    latency: Latency,
    answers: Answers,
    inject_failures: bool,
    catalog: Arc<Catalog>,
    stats: Arc<SimStats>,
    /// Present when requests are recorded.
    recorder: Option<Recorder>,
    /// Present with activity: what pushes did to each repository.
    world: Option<World>,
}

impl Sim {
    pub(crate) fn new(config: SimConfig, catalog: Arc<Catalog>, stats: Arc<SimStats>) -> Arc<Self> {
        let inject_failures = config.injects_failures();
        let world = config.activity.map(|activity| {
            let count = u32::try_from(catalog.repositories().len()).unwrap_or(u32::MAX);
            World::new(activity, count, FIRST_ID, now_seconds())
        });
        Arc::new(Self {
            gate: Gate {
                tokens: Tokens::new(rand::random(), config.token_lifetime),
                metadata: Metadata::new(
                    rand::random(),
                    config.temporary_credential_lifetime,
                    config.metadata_session_tokens,
                ),
                project_ids: iam::project_ids(),
                credentials: config.credentials,
            },
            latency: config.latency,
            answers: config.answers,
            inject_failures,
            catalog,
            stats,
            recorder: config.record_requests.then(Recorder::default),
            world,
        })
    }

    pub(crate) fn activity_runs(&self) -> Vec<RunRecord> {
        self.world
            .as_ref()
            .map(|world| world.runs(now_seconds()))
            .unwrap_or_default()
    }

    pub(crate) fn metadata(&self) -> &Metadata {
        &self.gate.metadata
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

    /// Checks the credentials of a body-less request, counting refusals.
    fn authorize(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<(), Denied> {
        self.gate
            .authorize(method, uri, headers, b"", now_micros())
            .inspect_err(|_| {
                self.stats.auth_failures.fetch_add(1, Relaxed);
            })
    }

    /// The repository `raw_id` names: its position in the catalog.
    fn repository(&self, raw_id: &str) -> Result<u32, NoRepository> {
        let id = raw_id
            .parse::<u32>()
            .ok()
            .filter(|id| (1..=i32::MAX.unsigned_abs()).contains(id))
            .ok_or(NoRepository::Malformed)?;
        self.catalog.index_of(id).ok_or(NoRepository::Missing)
    }
}

/// Why a path names no repository.
enum NoRepository {
    /// Not an id in 1..2147483647: 400.
    Malformed,
    /// No such repository: 404.
    Missing,
}

impl NoRepository {
    fn response(&self) -> Response {
        match self {
            Self::Malformed => error_response(
                StatusCode::BAD_REQUEST,
                "CH.00000001",
                "repository_id must be an integer in 1..2147483647",
            ),
            Self::Missing => repository_not_found(),
        }
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
        .route(
            "/v4/repositories/{repository_id}/last-push-event",
            get(last_push_event),
        )
        .route("/v4/user/repositories", get(user_repositories))
        .route("/v3/auth/tokens", post(issue_token))
        .route("/v3/projects", get(projects))
        .route("/meta-data/latest/api/token", put(metadata_token))
        .route("/openstack/latest/securitykey", get(security_key))
        .fallback(no_such_api)
        .layer(middleware::from_fn_with_state(sim.clone(), record))
        .layer(middleware::from_fn_with_state(stats, count_and_tag))
        // Added after the layers, so that these neither count nor get recorded.
        .route("/-/stats", get(stats_json))
        .route("/-/requests", get(recorded).delete(forget_recorded))
        .route(
            "/-/metadata-fault",
            get(metadata_fault).put(set_metadata_fault),
        )
        .route("/-/scenarios", get(scenario_list))
        .route("/-/activity", get(activity_json))
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

/// Records the request when recording is on. Reads the whole body first (bodies here are
/// small: the IAM token request is the largest).
async fn record(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let Some(recorder) = &sim.recorder else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "APIG.0201",
            "Request entity too large",
        );
    };
    recorder.record(RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: (!bytes.is_empty()).then(|| kept_body(&bytes)),
    });
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

impl Sim {
    /// What a repository's route does before it answers: wait the latency, check the
    /// credential, find the repository `raw_id` names. `Err` is the answer to send instead.
    async fn repository_request(
        &self,
        raw_id: &str,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<u32, Response> {
        self.delay().await;
        self.authorize(method, uri, headers)
            .map_err(|denied| denied.response())?;
        self.repository(raw_id)
            .map_err(|missing| missing.response())
    }
}

async fn statistics_status(
    State(sim): State<Arc<Sim>>,
    Path(raw_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    sim.stats.status_requests.fetch_add(1, Relaxed);
    let index = match sim
        .repository_request(&raw_id, &method, &uri, &headers)
        .await
    {
        Ok(index) => index,
        Err(answer) => return answer,
    };
    let id = FIRST_ID + index;
    if sim.answers == Answers::Scenarios {
        return scenarios::status(index, id);
    }
    let now = now_micros().div_euclid(1_000_000);
    if sim.inject_failures {
        if let Some(fault) = fault_at(index) {
            if let Some(answer) = fault.answer(now).await {
                return answer;
            }
        }
    }
    let body = match &sim.world {
        Some(world) => world.status_body(index, id, now_seconds()),
        None => answers::statistics_status(index, id, now, sim.answers),
    };
    let mut response = json_response(StatusCode::OK, body.to_string());
    // The SDK's response model reads it (`x_total`); for one object it is always "1".
    response
        .headers_mut()
        .insert("x-total", HeaderValue::from_static("1"));
    response
}

async fn last_push_event(
    State(sim): State<Arc<Sim>>,
    Path(raw_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    sim.stats.last_push_requests.fetch_add(1, Relaxed);
    let index = match sim
        .repository_request(&raw_id, &method, &uri, &headers)
        .await
    {
        Ok(index) => index,
        Err(answer) => return answer,
    };
    let repository = &sim.catalog.repositories()[index as usize];
    if let Some(pushed) = sim
        .world
        .as_ref()
        .and_then(|w| w.pushed(index, now_seconds()))
    {
        return last_push::ok(repository, Some(("master", whole_second(pushed))));
    }
    let now = now_micros().div_euclid(1_000_000);
    last_push::answer(repository, index, now, sim.answers)
}

async fn user_repositories(
    State(sim): State<Arc<Sim>>,
    RawQuery(query): RawQuery,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    sim.stats.list_requests.fetch_add(1, Relaxed);
    sim.delay().await;
    if let Err(denied) = sim.authorize(&method, &uri, &headers) {
        return denied.response();
    }
    let now = now_micros().div_euclid(1_000_000);
    let pushed = sim
        .world
        .as_ref()
        .map(|world| world.all_pushed(now_seconds()));
    listing::page(
        &sim.catalog,
        query.as_deref().unwrap_or(""),
        now,
        pushed.as_deref(),
    )
}

async fn issue_token(
    State(sim): State<Arc<Sim>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    sim.stats.iam_token_requests.fetch_add(1, Relaxed);
    sim.delay().await;
    let nocatalog = url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .any(|(key, value)| key == "nocatalog" && !value.is_empty());
    iam::issue_token(
        &sim.gate.credentials,
        &sim.gate.tokens,
        &body,
        nocatalog,
        now_micros(),
        rand::random(),
    )
}

async fn projects(
    State(sim): State<Arc<Sim>>,
    RawQuery(query): RawQuery,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    sim.stats.iam_project_requests.fetch_add(1, Relaxed);
    sim.delay().await;
    if let Err(denied) = sim.authorize(&method, &uri, &headers) {
        return denied.response();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("127.0.0.1");
    iam::list_projects(
        &sim.gate.credentials.iam_domain,
        &format!("http://{host}"),
        query.as_deref().unwrap_or(""),
    )
}

async fn metadata_token(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    sim.stats.metadata_requests.fetch_add(1, Relaxed);
    sim.metadata()
        .put_token(&headers, now_micros(), rand::random())
        .await
}

async fn security_key(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    sim.stats.metadata_requests.fetch_add(1, Relaxed);
    sim.metadata().security_key(&headers, now_micros()).await
}

async fn recorded(State(sim): State<Arc<Sim>>) -> Response {
    match &sim.recorder {
        Some(recorder) => match serde_json::to_string(&recorder.snapshot()) {
            Ok(body) => json_response(StatusCode::OK, body),
            Err(error) => error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "SIM.0001",
                &error.to_string(),
            ),
        },
        None => recording_off(),
    }
}

async fn forget_recorded(State(sim): State<Arc<Sim>>) -> Response {
    match &sim.recorder {
        Some(recorder) => {
            recorder.clear();
            StatusCode::NO_CONTENT.into_response()
        }
        None => recording_off(),
    }
}

fn recording_off() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "SIM.0002",
        "request recording is off: start the simulator with record_requests (--record-requests)",
    )
}

async fn metadata_fault(State(sim): State<Arc<Sim>>) -> Response {
    json_response(
        StatusCode::OK,
        json!({"mode": sim.metadata().fault().as_str()}).to_string(),
    )
}

/// `PUT /-/metadata-fault?mode=none|error|garbage|slow|no_agency`.
async fn set_metadata_fault(State(sim): State<Arc<Sim>>, RawQuery(query): RawQuery) -> Response {
    let mode = url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .find(|(key, _)| key == "mode")
        .map(|(_, value)| value.into_owned());
    match mode.as_deref().and_then(MetadataFault::parse) {
        Some(fault) => {
            sim.metadata().set_fault(fault);
            json_response(StatusCode::OK, json!({"mode": fault.as_str()}).to_string())
        }
        None => error_response(
            StatusCode::BAD_REQUEST,
            "SIM.0003",
            "mode must be one of none, error, garbage, slow, no_agency",
        ),
    }
}

async fn scenario_list(State(sim): State<Arc<Sim>>) -> Response {
    scenarios::listing(sim.answers == Answers::Scenarios)
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

/// 404 `CH.00402000`, for ids that do not exist.
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

/// Every run activity started, with the moments of its changes (`[]` without activity).
async fn activity_json(State(sim): State<Arc<Sim>>) -> Response {
    let runs = sim.activity_runs();
    json_response(
        StatusCode::OK,
        serde_json::to_string(&runs).unwrap_or_else(|_| "[]".to_owned()),
    )
}

/// The wall clock in Unix seconds, with fractions.
fn now_seconds() -> f64 {
    now_micros() as f64 / 1e6
}

/// Now, in Unix microseconds.
fn now_micros() -> i64 {
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000;
    i64::try_from(nanos).unwrap_or(i64::MAX)
}
