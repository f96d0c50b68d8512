//! A wiremock CodeArts (and IAM) that a test tells what to answer, in the words of the API:
//! `upstream.status(1, ok_status()).await`, `upstream.for_token("token-1", …).expect(1).await`.

use std::future::{Future, IntoFuture};
use std::ops::Deref;
use std::pin::Pin;
use std::time::Duration;

use wiremock::matchers::{
    body_partial_json, header, header_exists, method, path, path_regex, query_param,
    query_param_is_missing,
};
use wiremock::{Match, Mock, MockBuilder, MockServer, Request, Respond};

use super::answers::{answer_json, IamTokens};
use super::credentials::{KEY_PATH, TOKEN_PATH};

/// The API path of repository `id`'s statistics status.
pub fn status_path(id: u32) -> String {
    format!("/v4/repositories/{id}/repository/statistics-status")
}

/// The API path of repository `id`'s last push.
pub fn push_path(id: u32) -> String {
    format!("/v4/repositories/{id}/last-push-event")
}

/// Every statistics-status path.
const STATUS_PATHS: &str = r"^/v4/repositories/\d+/repository/statistics-status$";
const LISTING_PATH: &str = "/v4/user/repositories";
const IAM_TOKENS_PATH: &str = "/v3/auth/tokens";
const IAM_PROJECTS_PATH: &str = "/v3/projects";

/// A wiremock server standing in for CodeArts and IAM. It derefs to the [`MockServer`], for
/// `uri()`, `received_requests()` and mocks of a test's own.
pub struct Upstream(MockServer);

impl Upstream {
    /// A new server that answers nothing yet (an unmatched request gets 404).
    pub async fn start() -> Self {
        Self(MockServer::start().await)
    }

    /// Every request it received, in order.
    pub async fn requests(&self) -> Vec<Request> {
        self.0.received_requests().await.expect("requests recorded")
    }

    /// Every `GET`, whatever its path, answers `answer`.
    pub fn every_get<R: Respond + 'static>(&self, answer: R) -> Mounting<'_, R> {
        self.mount(Mock::given(method("GET")), answer)
    }

    /// Every statistics-status request answers `answer`.
    pub fn every_status<R: Respond + 'static>(&self, answer: R) -> Mounting<'_, R> {
        self.mount(
            Mock::given(method("GET")).and(path_regex(STATUS_PATHS)),
            answer,
        )
    }

    /// Repository `id`'s statistics-status request answers `answer`.
    pub fn status<R: Respond + 'static>(&self, id: u32, answer: R) -> Mounting<'_, R> {
        self.mount(
            Mock::given(method("GET")).and(path(status_path(id))),
            answer,
        )
    }

    /// Every `GET` that carries `X-Auth-Token: token` answers `answer` (whatever its path: the
    /// tests that use it ask nothing but statuses, and a stray request counts against `expect`).
    pub fn for_token<R: Respond + 'static>(&self, token: &str, answer: R) -> Mounting<'_, R> {
        self.mount(
            Mock::given(method("GET")).and(header("x-auth-token", token)),
            answer,
        )
    }

    /// Every `GET` that carries `X-Security-Token: token` (a temporary credential's) answers
    /// `answer`.
    pub fn for_security_token<R: Respond + 'static>(
        &self,
        token: &str,
        answer: R,
    ) -> Mounting<'_, R> {
        self.mount(
            Mock::given(method("GET")).and(header("x-security-token", token)),
            answer,
        )
    }

    /// Every last-push request (any method) answers `answer`.
    pub fn every_last_push<R: Respond + 'static>(&self, answer: R) -> Mounting<'_, R> {
        self.mount(Mock::given(path_regex("last-push-event")), answer)
    }

    /// Repository `id`'s last-push request answers `answer`.
    pub fn last_push<R: Respond + 'static>(&self, id: u32, answer: R) -> Mounting<'_, R> {
        self.mount(Mock::given(method("GET")).and(path(push_path(id))), answer)
    }

    /// Every IAM token request (`POST /v3/auth/tokens`) answers `answer`.
    pub fn iam<R: Respond + 'static>(&self, answer: R) -> Mounting<'_, R> {
        self.mount(
            Mock::given(method("POST")).and(path(IAM_TOKENS_PATH)),
            answer,
        )
    }

    /// IAM issues tokens living `lifetime` ([`IamTokens`]) to the request of
    /// [`iam_auth_yaml`](super::iam_auth_yaml)'s user, password, domain and project — and to
    /// no other. Returns the counter of tokens issued.
    pub async fn iam_tokens(&self, lifetime: Duration) -> IamTokens {
        let tokens = IamTokens::new(lifetime);
        self.mount(
            Mock::given(method("POST"))
                .and(path(IAM_TOKENS_PATH))
                .and(query_param("nocatalog", "true"))
                .and(body_partial_json(serde_json::json!({"auth": {
                    "identity": {"methods": ["password"], "password": {"user": {
                        "name": "exporter-bot", "password": "pw-s3cret", "domain": {"name": "acme"}}}},
                    "scope": {"project": {"name": "cn-north-4"}}}}))),
            tokens.clone(),
        )
        .await;
        tokens
    }

    /// Every IAM project lookup (`GET /v3/projects`) answers `answer`.
    pub fn project_lookups<R: Respond + 'static>(&self, answer: R) -> Mounting<'_, R> {
        self.mount(
            Mock::given(method("GET")).and(path(IAM_PROJECTS_PATH)),
            answer,
        )
    }

    /// A signed lookup of project `name` finds `projects` (a JSON list, see
    /// [`project`](super::project)).
    pub async fn projects(&self, name: &str, projects: serde_json::Value) {
        self.project_lookups(answer_json(
            200,
            serde_json::json!({
                "projects": projects,
                "links": {"self": "https://iam.example/v3/projects", "previous": null, "next": null}
            }),
        ))
        .and(query_param("name", name))
        .and(header_exists("authorization"))
        .and(header_exists("x-sdk-date"))
        .await;
    }

    /// Every request of the ECS metadata service for a session token
    /// (`PUT /meta-data/latest/api/token`) answers `answer`.
    pub fn metadata_sessions<R: Respond + 'static>(&self, answer: R) -> Mounting<'_, R> {
        self.mount(Mock::given(method("PUT")).and(path(TOKEN_PATH)), answer)
    }

    /// Every request of the ECS metadata service for the temporary credential
    /// (`GET /openstack/latest/securitykey`) answers `answer`.
    pub fn security_keys<R: Respond + 'static>(&self, answer: R) -> Mounting<'_, R> {
        self.mount(Mock::given(method("GET")).and(path(KEY_PATH)), answer)
    }

    /// One discovery listing (archived repositories, or the default without them) of `entries`:
    /// 100 a page, in stable order, each page at the offset of the entries before it, and the
    /// empty page that ends it.
    pub async fn listing(&self, archived: bool, entries: Vec<serde_json::Value>) {
        let mut pages: Vec<Vec<serde_json::Value>> = entries
            .chunks(100)
            .map(<[serde_json::Value]>::to_vec)
            .collect();
        pages.push(Vec::new());
        let mut offset = 0;
        for page in pages {
            let listing = Mock::given(method("GET"))
                .and(path(LISTING_PATH))
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
            self.mount(listing, answer_json(200, page.into())).await;
        }
    }

    /// The listing page at `offset` answers `answer`.
    pub fn listing_page<R: Respond + 'static>(&self, offset: usize, answer: R) -> Mounting<'_, R> {
        self.mount(
            Mock::given(method("GET"))
                .and(path(LISTING_PATH))
                .and(query_param("offset", offset.to_string())),
            answer,
        )
    }

    /// Every listing page answers `answer`.
    pub fn every_listing_page<R: Respond + 'static>(&self, answer: R) -> Mounting<'_, R> {
        self.mount(Mock::given(method("GET")).and(path(LISTING_PATH)), answer)
    }

    fn mount<R: Respond + 'static>(&self, mock: MockBuilder, answer: R) -> Mounting<'_, R> {
        Mounting {
            server: &self.0,
            mock,
            answer,
            expect: None,
            first: None,
        }
    }
}

impl Deref for Upstream {
    type Target = MockServer;

    fn deref(&self) -> &MockServer {
        &self.0
    }
}

/// An answer about to be mounted: awaiting it mounts it. Before that, `expect`, `first` and
/// `and` narrow or check it.
#[must_use = "an answer is mounted only when awaited"]
pub struct Mounting<'a, R> {
    server: &'a MockServer,
    mock: MockBuilder,
    answer: R,
    expect: Option<u64>,
    first: Option<u64>,
}

impl<R: Respond + 'static> Mounting<'_, R> {
    /// Fails the test (when the server drops) unless exactly `n` requests got this answer.
    pub fn expect(mut self, n: u64) -> Self {
        self.expect = Some(n);
        self
    }

    /// Only the first `n` matching requests get this answer, ahead of every other mounted one;
    /// later requests get what else is mounted ("a 401, then a 200").
    pub fn first(mut self, n: u64) -> Self {
        self.first = Some(n);
        self
    }

    /// Only requests that `matcher` accepts too get this answer.
    pub fn and(mut self, matcher: impl Match + 'static) -> Self {
        self.mock = self.mock.and(matcher);
        self
    }
}

impl<'a, R: Respond + 'static> IntoFuture for Mounting<'a, R> {
    type Output = ();
    type IntoFuture = Pin<Box<dyn Future<Output = ()> + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        let mut mock = self.mock.respond_with(self.answer);
        if let Some(n) = self.expect {
            mock = mock.expect(n);
        }
        if let Some(n) = self.first {
            mock = mock.up_to_n_times(n).with_priority(1);
        }
        Box::pin(mock.mount(self.server))
    }
}
