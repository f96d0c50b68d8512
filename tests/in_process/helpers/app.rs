//! The exporter in-process: an app built from a config, and requests through its router as
//! Prometheus, a probe or an operator sends them.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body as RequestBody;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use codearts_repo_exporter::router;
use codearts_repo_exporter::App;
use codearts_repo_exporter::Config;

use super::Body;

/// `yaml` parsed as the exporter does at start (no environment variables); panics with the
/// error and the YAML when it is refused.
pub fn parse_config(yaml: &str) -> Config {
    Config::parse(yaml, &|_| None).unwrap_or_else(|err| panic!("config: {err}\n{yaml}"))
}

/// An app built from `yaml`, without a config file (no reload).
pub fn app(yaml: &str) -> Arc<App> {
    App::new(parse_config(yaml), None, None).expect("app")
}

/// An app whose config lives in a file, so it can be reloaded.
pub fn app_from_file(path: &Path) -> Arc<App> {
    let config = Config::load(path).expect("config file");
    App::new(config, Some(path.to_path_buf()), None).expect("app")
}

/// An answer from the router.
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Body,
    /// How long the router took to answer.
    pub elapsed: Duration,
}

/// Sends `method path` through the router, with Prometheus' scrape-timeout header when
/// `scrape_timeout` (seconds) is given.
pub async fn request(
    app: &Arc<App>,
    method: &str,
    path: &str,
    scrape_timeout: Option<&str>,
) -> Answer {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(timeout) = scrape_timeout {
        builder = builder.header("X-Prometheus-Scrape-Timeout-Seconds", timeout);
    }
    let started = Instant::now();
    let response = router(app.clone(), "/metrics")
        .oneshot(builder.body(RequestBody::empty()).expect("request"))
        .await
        .expect("router never fails");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Answer {
        status,
        content_type,
        body: String::from_utf8(bytes.to_vec())
            .expect("utf-8 body")
            .into(),
        elapsed: started.elapsed(),
    }
}

/// `GET path`, without a scrape-timeout header (the landing page, a probe, …).
pub async fn get(app: &Arc<App>, path: &str) -> Answer {
    request(app, "GET", path, None).await
}

/// `GET /readyz`: 200 when ready, 503 with the reasons when not.
pub async fn readyz(app: &Arc<App>) -> Answer {
    get(app, "/readyz").await
}

/// `POST /-/reload`: 200 when the config file was reloaded, 500 with the reason when not.
pub async fn reload(app: &Arc<App>) -> Answer {
    request(app, "POST", "/-/reload", None).await
}

/// `GET /metrics`, with Prometheus' scrape-timeout header when `scrape_timeout` (seconds) is
/// given; fails the test unless it answers 200.
pub async fn scrape(app: &Arc<App>, scrape_timeout: Option<&str>) -> Answer {
    let answer = request(app, "GET", "/metrics", scrape_timeout).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer
}

/// `GET /readyz` answers 503, and its body names each of `reasons`.
pub async fn assert_not_ready(app: &Arc<App>, reasons: &[&str]) {
    let ready = readyz(app).await;
    assert_eq!(ready.status, 503, "{}", ready.body);
    for reason in reasons {
        assert!(ready.body.contains(reason), "{reason:?} in {}", ready.body);
    }
}

/// `POST /-/reload` answers 500, and its body names `reason`.
pub async fn assert_reload_refused(app: &Arc<App>, reason: &str) {
    let answer = reload(app).await;
    assert_eq!(answer.status, 500, "{}", answer.body);
    assert!(
        answer.body.contains(reason),
        "{reason:?} in {}",
        answer.body
    );
}
