//! The exporter's HTTP endpoints (docs/metrics.md, "Endpoints"): `/`, `/metrics`, `/probe`, `/healthz`,
//! `/readyz` and `POST /-/reload`; and how they are served: [`server`] (the accept loop and its
//! limits), [`web_config`] (`--web.config.file`: TLS, headers, rate limit and basic auth), applied
//! to each request by `web_guard` and `basic_auth`.

mod basic_auth;
mod compression;
mod landing;
mod scrape_timeout;
pub(crate) mod server;
pub(crate) mod web_config;
mod web_guard;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::app::{App, Exposition};
use crate::config::RepositoryId;
use crate::metrics;
use scrape_timeout::scrape_timeout;

/// The liveness route; open even behind basic auth.
pub(crate) const HEALTHZ_PATH: &str = "/healthz";

/// The router for `app`, with the metrics at `telemetry_path`.
pub fn router(app: Arc<App>, telemetry_path: &str) -> Router {
    // The expositions are compressed when the client accepts gzip, as Prometheus does by
    // default and client_golang's handler serves: a large answer is megabytes of text.
    let expositions = Router::new()
        .route(telemetry_path, get(scrape))
        .route("/probe", get(probe))
        .layer(compression::layer());
    Router::new()
        .route("/", get(landing::page))
        .merge(expositions)
        .route(HEALTHZ_PATH, get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/-/reload", post(reload))
        .with_state(app)
}

fn text_answer(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// An exposition as the answer's body, streamed piece by piece as the connection takes it:
/// a large answer is megabytes, never held whole without a cache.
fn exposition(exposition: Exposition) -> Response {
    let pieces = futures::stream::iter(exposition.map(Ok::<_, std::convert::Infallible>));
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        Body::from_stream(pieces),
    )
        .into_response()
}

/// `/metrics`: the fan-out scrape. Always 200: failures are per-repository series.
async fn scrape(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    exposition(app.scrape(scrape_timeout(&headers)).await)
}

/// `/probe?repository_id=N`: the per-repository metrics of one repository.
async fn probe(
    State(app): State<Arc<App>>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let id = match parse_probe_id(&query) {
        Ok(id) => id,
        Err(message) => return text_answer(StatusCode::BAD_REQUEST, format!("{message}\n")),
    };
    match app.probe(id, scrape_timeout(&headers)).await {
        Ok(answer) => exposition(answer),
        Err(refused) => text_answer(StatusCode::FORBIDDEN, format!("{refused}\n")),
    }
}

/// Why a `/probe` request names no usable repository: one line, whatever the request held.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ProbeIdError {
    #[error("missing query parameter repository_id")]
    Missing,
    #[error("repository_id is given more than once")]
    Repeated,
    /// `shown` is the value as given, cut short.
    #[error("repository_id {shown:?} is not a number in 1..{max}", max = RepositoryId::MAX)]
    NotANumber { shown: String },
    #[error("repository_id {shown:?} is out of range 1..{max}", max = RepositoryId::MAX)]
    OutOfRange { shown: String },
}

/// The id of a `/probe` request, or why it is unusable.
pub(crate) fn parse_probe_id(query: &[(String, String)]) -> Result<RepositoryId, ProbeIdError> {
    let mut values = query
        .iter()
        .filter(|(key, _)| key == "repository_id")
        .map(|(_, value)| value);
    let Some(raw) = values.next() else {
        return Err(ProbeIdError::Missing);
    };
    if values.next().is_some() {
        return Err(ProbeIdError::Repeated);
    }
    let shown = || metrics::bounded(raw, 32).to_owned();
    if raw.is_empty() || raw.len() > 10 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProbeIdError::NotANumber { shown: shown() });
    }
    raw.parse::<i64>()
        .ok()
        .and_then(RepositoryId::new)
        .ok_or_else(|| ProbeIdError::OutOfRange { shown: shown() })
}

async fn ready(State(app): State<Arc<App>>) -> Response {
    match app.readiness() {
        Ok(()) => text_answer(StatusCode::OK, "ready\n".to_owned()),
        Err(reason) => text_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        ),
    }
}

async fn reload(State(app): State<Arc<App>>) -> Response {
    match app.reload().await {
        Ok(()) => text_answer(StatusCode::OK, "configuration reloaded\n".to_owned()),
        Err(error) => text_answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reload failed, keeping the running configuration: {error}\n"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn accepts_a_plain_id() {
        assert_eq!(
            parse_probe_id(&query(&[("repository_id", "2111915566")]))
                .unwrap()
                .get(),
            2111915566
        );
    }

    #[test]
    fn rejects_unusable_ids_with_a_reason() {
        for bad in [
            "",
            "-1",
            "0",
            "1e3",
            "+5",
            " 5",
            "99999999999",
            "2147483648",
            "\0",
            "abc",
        ] {
            let err = parse_probe_id(&query(&[("repository_id", bad)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains("repository_id"), "{bad:?}: {err}");
        }
        let long = "9".repeat(10_000);
        let err = parse_probe_id(&query(&[("repository_id", &long)]))
            .unwrap_err()
            .to_string();
        assert!(err.len() < 200, "the reason stays one short line");
    }

    #[test]
    fn rejects_missing_and_repeated_ids() {
        assert!(parse_probe_id(&query(&[]))
            .unwrap_err()
            .to_string()
            .contains("missing"));
        assert!(
            parse_probe_id(&query(&[("repository_id", "1"), ("repository_id", "2")]))
                .unwrap_err()
                .to_string()
                .contains("more than once")
        );
    }
}
