//! End to end with a real Prometheus (Debian `prometheus`): its scrapes of `/metrics` are answered
//! gzip-compressed (it asks for gzip by default), and what it stores equals the identity
//! exposition sample for sample.
//!
//! A recording proxy sits between Prometheus and the exporter: it passes each scrape through
//! untouched and notes what Prometheus asked for (`Accept-Encoding`) and how the exporter answered
//! (`Content-Encoding`). The exporter watches 50 repositories of a simulator with uniform answers
//! and serves them from its cache (`min_interval: 1h`), so every scrape shows the same samples
//! except `event_age_seconds`, which grows with the clock.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::helpers::*;
use axum::body::Body as AxumBody;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;

const JOB: &str = "gzip";
const REPOSITORIES: u32 = 50;
const FIRST_ID: u32 = 2_111_915_000;

/// What one scrape through the proxy asked for and got.
#[derive(Debug, Clone)]
struct Seen {
    accept_encoding: String,
    content_encoding: String,
    body_bytes: usize,
}

#[derive(Clone)]
struct Proxy {
    exporter: String,
    client: reqwest::Client,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// Passes `request` to the exporter with its headers and returns the answer as it came, bytes
/// and encoding untouched (reqwest here has no gzip feature: it neither asks nor decodes).
async fn pass_through(State(proxy): State<Proxy>, request: Request) -> Response {
    let accept = header_text(request.headers(), header::ACCEPT_ENCODING);
    let mut upstream = proxy
        .client
        .get(format!("http://{}{}", proxy.exporter, request.uri()));
    for (name, value) in request.headers() {
        if name != header::HOST {
            upstream = upstream.header(name, value);
        }
    }
    let answer = upstream.send().await.expect("the exporter answers");
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.expect("the exporter's body");
    proxy.seen.lock().unwrap().push(Seen {
        accept_encoding: accept,
        content_encoding: header_text(&headers, header::CONTENT_ENCODING),
        body_bytes: bytes.len(),
    });
    let mut response = Response::new(AxumBody::from(bytes));
    *response.status_mut() = status;
    for name in [header::CONTENT_TYPE, header::CONTENT_ENCODING] {
        if let Some(value) = headers.get(&name) {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> String {
    headers
        .get(name)
        .map(HeaderValue::to_str)
        .and_then(Result::ok)
        .unwrap_or("")
        .to_owned()
}

/// A proxy to `exporter` on a free port; returns its `host:port` and what it saw.
async fn start_proxy(exporter: &str) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let proxy = Proxy {
        exporter: exporter.to_owned(),
        client: reqwest::Client::new(),
        seen: seen.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the proxy");
    let addr = listener.local_addr().expect("proxy address").to_string();
    let app = axum::Router::new().fallback(pass_through).with_state(proxy);
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

/// A sample's identity: its name and labels, without the target labels Prometheus adds.
fn key(name: &str, labels: impl IntoIterator<Item = (String, String)>) -> String {
    let labels: BTreeMap<String, String> = labels
        .into_iter()
        .filter(|(k, _)| k != "job" && k != "instance" && k != "__name__")
        .collect();
    format!("{name}{labels:?}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus (apt-get install prometheus); scripts/test-all.sh runs it"]
async fn prometheus_scrapes_are_answered_gzip_and_store_the_identity_samples() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, endpoint) = spawn_sim(
        SIMULATOR,
        &[
            "--repositories",
            &REPOSITORIES.to_string(),
            "--latency",
            "0ms",
            "--answers",
            "uniform",
        ],
        dir.path(),
    )
    .await;
    let ids: Vec<u32> = (FIRST_ID..FIRST_ID + REPOSITORIES).collect();
    let exporter = spawn_exporter_with_config(
        EXPORTER,
        &sim_config(&endpoint, &ids, "  min_interval: 1h\n"),
        dir.path(),
    )
    .await;
    let (proxy, seen) = start_proxy(&exporter.addr).await;
    let prometheus_config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: ['{proxy}']\n"
    );
    let (_prometheus, url) = spawn_prometheus(dir.path(), &prometheus_config).await;

    let up = query_until(
        &url,
        &format!("codearts_repo_statistics_up{{job=\"{JOB}\"}} == 1"),
        Duration::from_secs(60),
        |result| result.len() == REPOSITORIES as usize,
    )
    .await;
    assert_eq!(
        up.len(),
        REPOSITORIES as usize,
        "every repository up in Prometheus"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while seen.lock().unwrap().len() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Every scrape asked for gzip and was answered gzip.
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() >= 3, "scrapes through the proxy: {seen:?}");
    let identity = exporter.scrape(Some("1")).await;
    let identity_bytes = identity.len();
    for scrape in &seen {
        assert!(
            scrape.accept_encoding.contains("gzip"),
            "Prometheus asks for gzip: {scrape:?}"
        );
        assert_eq!(scrape.content_encoding, "gzip", "{scrape:?}");
        assert!(
            scrape.body_bytes * 4 < identity_bytes,
            "a gzip body of {} bytes for {identity_bytes} bytes of text",
            scrape.body_bytes
        );
    }

    // What Prometheus stored equals the identity exposition, sample for sample (but the ages of
    // the events and of the answers, which grow between the two readings).
    let expected: BTreeMap<String, f64> = samples(&identity)
        .iter()
        .filter(|s| {
            s.name.starts_with("codearts_repo_statistics_")
                && !GROWING_FAMILIES.contains(&s.name.as_str())
        })
        .map(|s| (key(&s.name, s.labels.clone()), s.value))
        .collect();
    assert!(
        expected.len() >= 10 * REPOSITORIES as usize,
        "{} samples",
        expected.len()
    );
    let stored = query_until(
        &url,
        &format!(
            "{{__name__=~\"codearts_repo_statistics_.+\",__name__!~\"{}\",job=\"{JOB}\"}}",
            GROWING_FAMILIES.join("|")
        ),
        Duration::from_secs(10),
        |result| result.len() == expected.len(),
    )
    .await;
    let stored: BTreeMap<String, f64> = stored
        .iter()
        .map(|s| {
            let metric = s["metric"].as_object().expect("metric labels");
            let name = metric["__name__"].as_str().expect("__name__");
            let labels = metric
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()));
            let value: f64 = s["value"][1]
                .as_str()
                .and_then(|v| v.parse().ok())
                .expect("a number");
            (key(name, labels), value)
        })
        .collect();
    assert_eq!(
        stored, expected,
        "Prometheus' samples against the identity exposition"
    );
    println!(
        "e2e gzip: {} scrapes by Prometheus, each answered gzip ({} bytes for {identity_bytes} \
         bytes of text); its {} per-repository samples equal the identity exposition's",
        seen.len(),
        seen[0].body_bytes,
        stored.len()
    );
}
