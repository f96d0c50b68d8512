//! End to end: the exporter binary behind `--web.config.file` (TLS + basic auth), scraped by a
//! real Prometheus (`apt-get install prometheus`) with `scheme: https`, `tls_config.ca_file` and
//! `basic_auth`, until Prometheus reports `up == 1`.

use std::time::Duration;

use crate::helpers::*;

#[tokio::test]
#[ignore = "needs prometheus (apt-get install prometheus); scripts/test-all.sh runs it"]
async fn prometheus_scrapes_the_exporter_over_https_with_basic_auth() {
    let pki = Pki::with_server_cert("exporter");
    std::fs::write(
        pki.path("web.yml"),
        format!("{TLS_ONLY}{}", users_yaml("prometheus", "scrape-secret")),
    )
    .unwrap();
    std::fs::write(pki.path("exporter.yml"), exporter_config("")).unwrap();
    std::fs::write(pki.path("scrape-password"), "scrape-secret").unwrap();

    let (_exporter, exporter_port) = start_web_exporter(EXPORTER, &pki);

    // The scrape config the README shows.
    let prometheus_yml = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n\
         \x20 - job_name: codearts-repo\n\
         \x20   scheme: https\n\
         \x20   tls_config:\n\
         \x20     ca_file: {ca}\n\
         \x20   basic_auth:\n\
         \x20     username: prometheus\n\
         \x20     password_file: {password}\n\
         \x20   static_configs:\n\
         \x20     - targets: ['127.0.0.1:{exporter_port}']\n",
        ca = pki.path("ca.pem").display(),
        password = pki.path("scrape-password").display(),
    );
    let (_prometheus, url) = spawn_prometheus(pki.dir.path(), &prometheus_yml).await;
    let up = query_until(
        &url,
        "up{job=\"codearts-repo\"}",
        Duration::from_secs(30),
        |result| first_value(result) == Some("1"),
    )
    .await;
    if first_value(&up) != Some("1") {
        let health = match reqwest::get(format!("{url}/api/v1/targets")).await {
            Ok(answer) => answer.text().await.unwrap_or_default(),
            Err(err) => err.to_string(),
        };
        panic!("Prometheus never saw up == 1 (last: {up:?}); targets: {health}");
    }
}

/// The value of a query result's first sample.
fn first_value(result: &[serde_json::Value]) -> Option<&str> {
    result
        .first()
        .and_then(|sample| sample["value"][1].as_str())
}
