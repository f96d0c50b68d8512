//! gzip on `/metrics` and `/probe`: compressed when the request's `Accept-Encoding` allows it,
//! identity otherwise, the same samples either way, through TLS and basic auth too.

use std::io::Read;
use std::sync::Arc;

use axum::body::Body as RequestBody;
use axum::http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::helpers::*;
use crate::helpers::{https_client, serve_app, users_yaml, Pki, TLS_ONLY};
use codearts_repo_exporter::router;
use codearts_repo_exporter::App;

/// An upstream where every repository is healthy and answers the same (times fixed), and an
/// app with a cache, so two scrapes show the same answers.
async fn cached_app(ids: &[u32]) -> (Upstream, Arc<App>) {
    let upstream = Upstream::start().await;
    upstream.every_status(ok_status()).await;
    let app = app(&config_yaml(&upstream.uri(), ids, "  min_interval: 1h\n"));
    (upstream, app)
}

struct Raw {
    encoding: Option<String>,
    vary: Option<String>,
    body: Vec<u8>,
}

async fn get(app: &Arc<App>, path: &str, accept_encoding: Option<&str>) -> Raw {
    let mut builder = Request::builder().uri(path);
    if let Some(value) = accept_encoding {
        builder = builder.header("Accept-Encoding", value);
    }
    let response = router(app.clone(), "/metrics")
        .oneshot(builder.body(RequestBody::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (encoding, vary) = (header("content-encoding"), header("vary"));
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Raw {
        encoding,
        vary,
        body,
    }
}

fn gunzip(bytes: &[u8]) -> Body {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_string(&mut text)
        .expect("a gzip body");
    text.into()
}

/// The per-repository samples but those that change from scrape to scrape.
fn stable_samples(text: &str) -> Vec<Sample> {
    samples(text)
        .into_iter()
        .filter(|s| {
            s.name.starts_with("codearts_repo_statistics_")
                && !GROWING_FAMILIES.contains(&s.name.as_str())
        })
        .collect()
}

#[tokio::test]
async fn gzip_when_accepted_with_the_same_samples_as_identity() {
    let (_upstream, app) = cached_app(&(1..=300).collect::<Vec<_>>()).await;
    let plain = get(&app, "/metrics", None).await;
    assert_eq!(plain.encoding, None);
    let text = String::from_utf8(plain.body).unwrap();
    let gzipped = get(&app, "/metrics", Some("gzip")).await;
    assert_eq!(gzipped.encoding.as_deref(), Some("gzip"));
    assert!(gzipped
        .vary
        .is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")));
    assert!(
        gzipped.body.len() * 8 < text.len(),
        "{} compressed bytes for {} of text",
        gzipped.body.len(),
        text.len()
    );
    assert_eq!(
        stable_samples(&gunzip(&gzipped.body)),
        stable_samples(&text)
    );
}

#[tokio::test]
async fn probe_is_compressed_too() {
    let (_upstream, app) = cached_app(&[1]).await;
    let answer = get(&app, "/probe?repository_id=1", Some("gzip, deflate")).await;
    assert_eq!(answer.encoding.as_deref(), Some("gzip"));
    assert_eq!(gunzip(&answer.body).up(1), Some(1.0));
}

#[tokio::test]
async fn identity_wherever_gzip_is_not_acceptable() {
    let (_upstream, app) = cached_app(&[1, 2]).await;
    // `*` allows gzip but identity too, which is what tower-http answers it with: correct either
    // way, as long as the answer says what it is.
    for accept in [
        "gzip;q=0",
        "br",
        "identity",
        "",
        "garbage;;;=,",
        "zstd;q=1, gzip;q=0",
        "*",
    ] {
        let answer = get(&app, "/metrics", Some(accept)).await;
        assert_eq!(answer.encoding, None, "Accept-Encoding: {accept:?}");
        let text = Body::from(String::from_utf8(answer.body).expect("identity text"));
        assert_eq!(text.up(2), Some(1.0), "Accept-Encoding: {accept:?}");
    }
    for accept in ["gzip;q=0.5, identity;q=0.1", "GZIP", "br, gzip"] {
        let answer = get(&app, "/metrics", Some(accept)).await;
        assert_eq!(
            answer.encoding.as_deref(),
            Some("gzip"),
            "Accept-Encoding: {accept:?}"
        );
        gunzip(&answer.body);
    }
}

#[tokio::test]
async fn other_routes_are_not_compressed() {
    let (_upstream, app) = cached_app(&[1]).await;
    for path in ["/", "/healthz", "/readyz"] {
        assert_eq!(get(&app, path, Some("gzip")).await.encoding, None, "{path}");
    }
}

#[tokio::test]
async fn gzip_through_tls_and_basic_auth() {
    let (_upstream, app) = cached_app(&[1]).await;
    let pki = Pki::with_server_cert("exporter");
    let web = pki.path("web.yml");
    std::fs::write(
        &web,
        format!("{TLS_ONLY}{}", users_yaml("prometheus", "s3cret")),
    )
    .unwrap();
    let limits = codearts_repo_exporter::ServerConfig::default();
    let server = serve_app(app, &limits, Some(&web)).await;
    let answer = https_client(&pki, None)
        .get(server.url("https", "/metrics"))
        .basic_auth("prometheus", Some("s3cret"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-encoding"], "gzip");
    assert_eq!(gunzip(&answer.bytes().await.unwrap()).up(1), Some(1.0));
}
