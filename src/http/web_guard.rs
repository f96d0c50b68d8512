//! The parts of the web config that apply to every request besides basic auth: the
//! `rate_limit` (a request finding the bucket empty is answered `429 Too Many Requests` before
//! anything else runs, bcrypt included) and the `http_server_config.headers`, set on every
//! answer — 401 and 429 included, as a browser may show those too.
//!
//! `/healthz` is not rate limited: a liveness probe refused with 429 would get a healthy
//! exporter restarted.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::web_config::WebConfig;
use super::HEALTHZ_PATH;

/// Puts `router` behind the web config's rate limit and response headers (both re-read with the
/// file).
pub(crate) fn apply(router: Router, web: Arc<WebConfig>) -> Router {
    router.layer(axum::middleware::from_fn_with_state(web, guard))
}

async fn guard(State(web): State<Arc<WebConfig>>, request: Request, next: Next) -> Response {
    let loaded = web.current();
    let mut response = if request.uri().path() == HEALTHZ_PATH || loaded.admit() {
        next.run(request).await
    } else {
        tracing::debug!(path = %request.uri().path(), "rate_limit of the web config: answering 429");
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            "Too Many Requests\n",
        )
            .into_response()
    };
    let headers = response.headers_mut();
    for (name, value) in loaded.headers() {
        headers.insert(name.clone(), value.clone());
    }
    response
}
