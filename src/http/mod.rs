//! The exporter's HTTP endpoints (CONTRACT §5): `/`, `/metrics`, `/probe`, `/healthz`,
//! `/readyz` and `POST /-/reload`; and how they are served: [`server`] (the accept loop and its
//! limits), [`web_config`] (`--web.config.file`: TLS and basic auth).

mod basic_auth;
mod landing;
pub mod server;
mod tls;
pub mod web_config;

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures::StreamExt;

use crate::app::App;
use crate::collect::deadline::{scrape_budget, SCRAPE_TIMEOUT_HEADER};
use crate::collect::Collector;
use crate::config::{Repository, RepositoryId};
use crate::metrics::{self, names};

/// The liveness route; open even behind basic auth.
pub const HEALTHZ_PATH: &str = "/healthz";

/// The router for `app`, with the metrics at `telemetry_path`.
pub fn router(app: Arc<App>, telemetry_path: &str) -> Router {
    Router::new()
        .route("/", get(landing::page))
        .route(telemetry_path, get(scrape))
        .route("/probe", get(probe))
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

fn budget(app: &App, headers: &HeaderMap) -> std::time::Duration {
    let scrape = &app.current().config.scrape;
    let header = headers
        .get(SCRAPE_TIMEOUT_HEADER)
        .and_then(|v| v.to_str().ok());
    scrape_budget(header, scrape.timeout_offset, scrape.max_duration)
}

/// `/metrics`: the fan-out scrape. Always 200: failures are per-repository series.
///
/// The per-repository text is written piece by piece as the connection takes it, reusing the
/// previous scrape's text where answers did not change ([`metrics::TextCache`]); the exporter's
/// own metrics follow.
async fn scrape(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let budget = budget(&app, &headers);
    let generation = app.current();
    let snapshot = app.collector.scrape(&generation.plan, budget).await;
    let mut tail = String::new();
    if let Some(expiry) = generation.plan.client.auth().token_expiry() {
        let seconds = expiry
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        metrics::write_gauge(&mut tail, &names::TOKEN_EXPIRY, seconds);
    }
    let mut tail = tail.into_bytes();
    // Registered metrics always encode; if one ever did not, the scrape still answers.
    if let Err(err) = metrics::encode(&app.metrics.registry().gather(), &mut tail) {
        tracing::error!(error = %err, "cannot encode the exporter's own metrics");
    }
    // The text is worth keeping for the next scrape only while answers are kept.
    let keep = !generation.plan.scrape.min_interval.is_zero();
    let text = app
        .text_cache
        .text(snapshot.results, SystemTime::now(), keep);
    tracing::debug!(
        reused_blocks = text.reused_blocks(),
        "writing the per-repository text"
    );
    let pieces = futures::stream::unfold(text, |mut text| async move {
        text.next_piece().map(|piece| (piece, text))
    })
    .chain(futures::stream::once(async move { tail.into() }))
    .map(Ok::<_, std::convert::Infallible>);
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        axum::body::Body::from_stream(pieces),
    )
        .into_response()
}

fn exposition(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], body).into_response()
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
    let generation = app.current();
    let listed = generation
        .plan
        .repositories
        .iter()
        .find(|r| r.id == id)
        .cloned();
    let repository = match listed {
        Some(repository) => repository,
        None if generation.config.probe.allow_unlisted => Repository { id, name: None },
        None => {
            return text_answer(
                StatusCode::FORBIDDEN,
                format!("repository_id {id} is not configured or discovered, and probe.allow_unlisted is false\n"),
            )
        }
    };
    let budget = budget(&app, &headers);
    let result = Collector::probe(&generation.plan, repository, budget).await;
    exposition(
        metrics::render_repositories(std::slice::from_ref(&result), SystemTime::now()).into_bytes(),
    )
}

/// The id of a `/probe` request, or a one-line reason why it is unusable.
pub fn parse_probe_id(query: &[(String, String)]) -> Result<RepositoryId, String> {
    let mut values = query
        .iter()
        .filter(|(key, _)| key == "repository_id")
        .map(|(_, value)| value);
    let Some(raw) = values.next() else {
        return Err("missing query parameter repository_id".to_owned());
    };
    if values.next().is_some() {
        return Err("repository_id is given more than once".to_owned());
    }
    let shown = metrics::bounded(raw, 32);
    if raw.is_empty() || raw.len() > 10 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "repository_id {shown:?} is not a number in 1..{}",
            RepositoryId::MAX
        ));
    }
    raw.parse::<i64>()
        .ok()
        .and_then(RepositoryId::new)
        .ok_or_else(|| {
            format!(
                "repository_id {shown:?} is out of range 1..{}",
                RepositoryId::MAX
            )
        })
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
        Err(message) => text_answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reload failed, keeping the running configuration: {message}\n"),
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
            let err = parse_probe_id(&query(&[("repository_id", bad)])).unwrap_err();
            assert!(err.contains("repository_id"), "{bad:?}: {err}");
        }
        let long = "9".repeat(10_000);
        let err = parse_probe_id(&query(&[("repository_id", &long)])).unwrap_err();
        assert!(err.len() < 200, "the reason stays one short line");
    }

    #[test]
    fn rejects_missing_and_repeated_ids() {
        assert!(parse_probe_id(&query(&[])).unwrap_err().contains("missing"));
        assert!(
            parse_probe_id(&query(&[("repository_id", "1"), ("repository_id", "2")]))
                .unwrap_err()
                .contains("more than once")
        );
    }
}
