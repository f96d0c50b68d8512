//! docs/metrics.md against a real scrape: the families its tables list (every table under a
//! `metric-families` marker) are exactly the families of a `/metrics` answer of an exporter
//! that has every family on ([`config_with_every_family`]), scraped through its router from the
//! simulator. A family the scrape has and the page lacks fails the test, and so does a family
//! the page lists and the scrape lacks.

use std::collections::BTreeSet;
use std::time::Duration;

use codearts_sim::{Latency, SimConfig, SimCredentials, SimHandle};

use crate::helpers::*;

/// A config under which one scrape shows every family the exporter has, against `sim`. Each
/// setting says which families it brings; a setting that brings new families gets its line
/// here, and the families their rows in docs/metrics.md. (The simulator's failing repositories
/// bring `error` and the error counter.)
fn config_with_every_family(sim: &SimHandle) -> String {
    let credentials = SimCredentials::default();
    let first = sim.repositories()[0].id;
    format!(
        "\
codearts:
  endpoint: {endpoint}
  auth:
    iam:                    # the credential's expiry gauge (a static token has none)
      endpoint: {endpoint}
      domain: {domain}
      user: {user}
      password: {password}
      project: cn-north-4
repositories:               # a static list and discovery: both sources of the repositories gauge
  - id: {first}
discovery:
  enabled: true             # repository_info, the discovery timestamp
last_push:
  enabled: true             # the last push, its up, lag_seconds
refresh:
  mode: on_change           # why requests were made, what they saved, the looks at the list
scrape:
  min_interval: 1m          # the cache on, for what only the cache brings
  request_timeout: 1s       # the repository that never answers fails after 1 s, not at the deadline
",
        endpoint = sim.endpoint(),
        domain = credentials.iam_domain,
        user = credentials.iam_user,
        password = credentials.iam_password,
    )
}

/// The simulator with its failing repositories, answering at once.
async fn start_simulator() -> SimHandle {
    let config = SimConfig {
        latency: Latency::Fixed(Duration::ZERO),
        ..SimConfig::demo()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    codearts_sim::serve(config, listener)
        .await
        .expect("the simulator starts")
}

/// The families of an exposition: the names of its `# TYPE` lines.
fn families(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The families the documentation's metric tables list.
fn documented_families() -> BTreeSet<String> {
    doc_rows_after_every("<!-- metric-families")
        .into_iter()
        .map(|row| row[0].clone())
        // The process collector is the `prometheus` crate's for Linux, as the page says; on
        // another system the scrape has none of its families.
        .filter(|name| cfg!(target_os = "linux") || !name.starts_with("process_"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metric_tables_list_exactly_the_families_of_a_scrape_with_every_family_on() {
    let sim = start_simulator().await;
    let app = app(&config_with_every_family(&sim));
    app.refresh_discovery().await;
    // The second scrape serves from the cache: what saving a request brings.
    scrape(&app, Some("5")).await;
    let scraped = families(&scrape(&app, Some("5")).await.body);

    let documented = documented_families();
    let undocumented: Vec<&String> = scraped.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "the scrape has families that docs/metrics.md's tables lack: {undocumented:?}"
    );
    let absent: Vec<&String> = documented.difference(&scraped).collect();
    assert!(
        absent.is_empty(),
        "docs/metrics.md's tables list families that a scrape with every family on lacks \
         (the setting that brings them belongs in config_with_every_family): {absent:?}"
    );
}
