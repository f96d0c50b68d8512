//! The table a full run prints: every figure with its reference, target and pass/fail.

use std::time::Duration;

use super::cache::{Cached, Minimal, CACHE_SCRAPES};
use super::fanouts::{FanOut, LastPush, SCRAPES_PER_N};
use super::harness::{ideal, CONCURRENCY, LATENCY, MIB};
use super::large::{
    Discovery, Large, Rotation, CACHE_SCRAPES as LARGE_CACHE_SCRAPES, COLD_SCRAPES, LARGE,
    ROTATION_INTERVAL,
};
use super::reference::Blackbox;
use super::refresh::{Mode, Scenario, DURATION, INTERVAL, REPOSITORIES, SHORT_STALENESS, STEADY};

/// Everything one full run measured.
pub struct Run {
    pub fanouts: Vec<FanOut>,
    pub cached: Cached,
    pub blackbox: Vec<Blackbox>,
    pub simulator_rate: f64,
    pub direct_wave: Duration,
    pub large: Large,
    pub rotation: Rotation,
    pub discovery: Discovery,
    pub minimal: Minimal,
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "FAIL"
    }
}

fn us(seconds: f64) -> String {
    format!("{:.1} µs", seconds * 1e6)
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1e3)
}

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / MIB)
}

/// One row of the table.
fn row(
    measure: &str,
    n: &str,
    value: &str,
    reference: &str,
    ratio: &str,
    target: &str,
    result: &str,
) {
    println!("| {measure} | {n} | {value} | {reference} | {ratio} | {target} | {result} |");
}

/// A row with a target of at most `limit` for `ratio`.
fn at_most(
    measure: &str,
    n: &str,
    value: &str,
    reference: &str,
    ratio: f64,
    limit: f64,
    target: &str,
) {
    row(
        measure,
        n,
        value,
        reference,
        &format!("{ratio:.3}"),
        target,
        verdict(ratio <= limit),
    );
}

pub fn print(run: &Run) {
    let fanout = |n: usize, last_push: LastPush| {
        run.fanouts
            .iter()
            .find(|f| f.repositories == n && f.last_push == last_push)
            .expect("measured N")
    };
    let bb = |n: usize| {
        run.blackbox
            .iter()
            .find(|b| b.probes == n)
            .expect("measured N")
    };
    let plain: Vec<&FanOut> = run
        .fanouts
        .iter()
        .filter(|f| f.last_push == LastPush::Off)
        .collect();
    let (n100, n1k, n10k) = (
        fanout(100, LastPush::Off),
        fanout(1_000, LastPush::Off),
        fanout(10_000, LastPush::Off),
    );

    println!(
        "\nC = {CONCURRENCY}, L = {} ms; scrape wall time is the median of {SCRAPES_PER_N} scrapes \
         (N = 1,000 and 10,000 taking turns); CPU is user + sys of the exporter (or blackbox) \
         process only.\n",
        LATENCY.as_millis()
    );
    println!("| measure | N | value | ideal / reference | ratio | target | result |");
    println!("|---|---:|---:|---:|---:|---|---|");
    for f in &plain {
        let target = match f.repositories {
            100 => Some(1.25),
            10_000 => Some(1.10),
            _ => None,
        };
        row(
            "scrape wall time",
            &f.repositories.to_string(),
            &format!("{:.3} s", f.wall_median.as_secs_f64()),
            &format!("{:.3} s", f.ideal().as_secs_f64()),
            &format!("{:.3}", f.wall_ratio()),
            &target.map_or("—".to_owned(), |t| format!("≤ {t:.2}")),
            target.map_or("—", |t| verdict(f.wall_ratio() <= t)),
        );
    }
    let wave = run.direct_wave.as_secs_f64();
    row(
        "100 requests sent straight to the simulator, one wave (no exporter)",
        "100",
        &format!("{wave:.3} s"),
        "0.050 s",
        &format!("{:.3}", wave / LATENCY.as_secs_f64()),
        "—",
        "—",
    );
    row(
        "scrape wall time ÷ that direct wave",
        "100",
        &format!("{:.3} s", n100.wall_median.as_secs_f64()),
        &format!("{wave:.3} s"),
        &format!("{:.3}", n100.wall_median.as_secs_f64() / wave),
        "—",
        "—",
    );
    for f in &plain {
        row(
            "exporter CPU per status",
            &f.repositories.to_string(),
            &us(f.cpu_per_request),
            "",
            "",
            "",
            "",
        );
    }
    for b in &run.blackbox {
        row(
            "blackbox_exporter CPU per probe",
            &b.probes.to_string(),
            &us(b.cpu_per_probe),
            &format!("wall {:.3} s", b.wall.as_secs_f64()),
            "",
            "",
            "",
        );
    }
    at_most(
        "exporter CPU per status ÷ blackbox CPU per probe",
        "10000",
        &us(n10k.cpu_per_request),
        &us(bb(10_000).cpu_per_probe),
        n10k.cpu_per_request / bb(10_000).cpu_per_probe,
        0.5,
        "≤ 0.50",
    );
    at_most(
        "CPU per status at 10000 ÷ at 1000",
        "10000 / 1000",
        &us(n10k.cpu_per_request),
        &us(n1k.cpu_per_request),
        n10k.cpu_per_request / n1k.cpu_per_request,
        1.25,
        "≤ 1.25",
    );
    let limit = CONCURRENCY as u64 + 10;
    for f in &plain {
        row(
            &format!(
                "TCP connections per scrape (max of {SCRAPES_PER_N}; first scrape {})",
                f.connections_first
            ),
            &f.repositories.to_string(),
            &f.connections_max.to_string(),
            &format!("C + 10 = {limit}"),
            &format!("{:.2}", f.connections_max as f64 / limit as f64),
            &format!("≤ {limit}"),
            verdict(f.connections_max <= limit),
        );
    }
    for f in [n100, n1k] {
        row(
            "peak RSS (VmHWM)",
            &f.repositories.to_string(),
            &mib(f.peak_rss),
            "",
            "",
            "",
            "",
        );
    }
    let mib40 = 40.0 * MIB;
    at_most(
        "peak RSS (VmHWM)",
        "10000",
        &mib(n10k.peak_rss),
        "40 MiB",
        n10k.peak_rss / mib40,
        1.0,
        "≤ 40 MiB",
    );
    at_most(
        "peak RSS serving from the cache (`min_interval: 1h`, the answer's text kept)",
        "10000",
        &mib(run.cached.peak_rss),
        "40 MiB",
        run.cached.peak_rss / mib40,
        1.0,
        "≤ 40 MiB",
    );
    for f in &plain {
        at_most(
            "idle RSS after start (VmRSS)",
            &f.repositories.to_string(),
            &mib(f.idle_rss),
            "15 MiB",
            f.idle_rss / (15.0 * MIB),
            1.0,
            "≤ 15 MiB",
        );
    }
    let cached = &run.cached;
    at_most(
        &format!(
            "/metrics from cache (median of {CACHE_SCRAPES}, to the last byte; body {:.1} MiB)",
            cached.identity_bytes as f64 / MIB
        ),
        "10000",
        &ms(cached.identity),
        "50 ms",
        cached.identity.as_secs_f64() / 0.05,
        1.0,
        "≤ 50 ms",
    );
    let needed = CONCURRENCY as f64 / LATENCY.as_secs_f64();
    row(
        "simulator throughput (latency 0, 100 clients)",
        "30000 requests",
        &format!("{:.0} req/s", run.simulator_rate),
        &format!("C / L = {needed:.0} req/s"),
        &format!("{:.1}", run.simulator_rate / needed),
        "≫ 1 (not the bottleneck)",
        verdict(run.simulator_rate >= 2.0 * needed),
    );

    // last_push at 10,000.
    for last_push in [LastPush::Cold, LastPush::Warm] {
        let f = fanout(10_000, last_push);
        let name = match last_push {
            LastPush::Cold => "cold: every last push due, 2 requests per repository",
            _ => "warm: last pushes cached, statuses only",
        };
        row(
            &format!(
                "scrape wall time, `last_push` {name} (median of {})",
                f.walls.len()
            ),
            "10000",
            &format!("{:.3} s", f.wall_median.as_secs_f64()),
            &format!("{:.3} s", f.ideal().as_secs_f64()),
            &format!("{:.3}", f.wall_ratio()),
            "—",
            "—",
        );
        row(
            &format!(
                "exporter CPU per scrape, `last_push` {}",
                if last_push == LastPush::Cold {
                    "cold"
                } else {
                    "warm"
                }
            ),
            "10000",
            &format!(
                "{:.3} s ({} per request)",
                f.cpu_per_scrape,
                us(f.cpu_per_request)
            ),
            &format!("{:.3} s without last_push", n10k.cpu_per_scrape),
            &format!("{:.3}", f.cpu_per_scrape / n10k.cpu_per_scrape),
            "—",
            "—",
        );
    }

    // The targets at 100,000 repositories, gzip and the minimal preset.
    at_most(
        "gzip body ÷ identity body, from cache",
        "10000",
        &format!("{:.0} KiB", cached.gzip_bytes as f64 / 1024.0),
        &format!("{:.0} KiB", cached.identity_bytes as f64 / 1024.0),
        cached.gzip_bytes as f64 / cached.identity_bytes as f64,
        0.125,
        "≤ 0.125",
    );
    at_most(
        &format!("/metrics from cache, gzip (level Fastest), to the last byte, ÷ identity (medians of {CACHE_SCRAPES}, taking turns)"),
        "10000",
        &ms(cached.gzip),
        &ms(cached.identity),
        cached.gzip.as_secs_f64() / cached.identity.as_secs_f64(),
        2.0,
        "≤ 2",
    );
    for level in &cached.levels {
        row(
            &format!("gzip level {} on that body in the bench (flate2, one core, whole body): size ÷ identity, time", level.level),
            "10000",
            &ms(level.time),
            &format!("{:.0} KiB", level.bytes as f64 / 1024.0),
            &format!("{:.4}", level.bytes as f64 / cached.identity_bytes as f64),
            "—",
            "—",
        );
    }
    let default = cached.samples_per_repository;
    let minimal = &run.minimal;
    row(
        "series per healthy repository: default → the minimal preset",
        &format!("{} / 1000", cached.repositories),
        &format!("{default:.0} → {:.0}", minimal.samples_per_repository),
        "15 → 6",
        &format!("{:.2}", minimal.samples_per_repository / default),
        "15 → ≤ 6",
        verdict(minimal.samples_per_repository <= 6.0 && (default - 15.0).abs() < 0.5),
    );
    row(
        "bytes of those series per repository (identity): default → minimal",
        &format!("{} / 1000", cached.repositories),
        &format!(
            "{:.0} → {:.0} B",
            cached.bytes_per_repository, minimal.bytes_per_repository
        ),
        "",
        &format!(
            "{:.2}",
            minimal.bytes_per_repository / cached.bytes_per_repository
        ),
        "—",
        "—",
    );
    row(
        "series per healthy repository with `last_push`: default → minimal",
        "10000 / 1000",
        &format!(
            "{:.0} → {:.0}",
            fanout(10_000, LastPush::Warm).samples_per_repository,
            minimal.samples_with_last_push
        ),
        "",
        "",
        "—",
        "—",
    );
    let large = &run.large;
    let n = LARGE.to_string();
    at_most(
        "peak RSS, static config (two cold fan-outs, reload to `min_interval: 1h`, cache on, text kept)",
        &n,
        &mib(large.peak_rss),
        "160 MiB",
        large.peak_rss / (160.0 * MIB),
        1.0,
        "≤ 160 MiB",
    );
    row(
        "peak RSS, static config, cache off (after the two cold fan-outs, `min_interval: 0s`)",
        &n,
        &mib(large.peak_rss_uncached),
        "",
        "",
        "—",
        "—",
    );
    at_most(
        "idle RSS after start, 100,000-entry config (VmRSS)",
        &n,
        &mib(large.idle_rss),
        "40 MiB",
        large.idle_rss / mib40,
        1.0,
        "≤ 40 MiB",
    );
    at_most(
        "start to ready (`/readyz` 200), 100,000-entry config",
        &n,
        &format!("{:.3} s", large.ready_after.as_secs_f64()),
        "2 s",
        large.ready_after.as_secs_f64() / 2.0,
        1.0,
        "≤ 2 s",
    );
    row(
        "reload (`POST /-/reload`) of the 100,000-entry config",
        &n,
        &ms(large.reload),
        "",
        "",
        "—",
        "—",
    );
    at_most(
        &format!(
            "/metrics from cache, identity (median of {}, to the last byte; body {:.1} MiB)",
            LARGE_CACHE_SCRAPES,
            large.identity_bytes as f64 / MIB
        ),
        &n,
        &ms(large.cached_identity),
        "250 ms",
        large.cached_identity.as_secs_f64() / 0.25,
        1.0,
        "≤ 250 ms",
    );
    row(
        "/metrics from cache, gzip (median, to the last byte)",
        &n,
        &ms(large.cached_gzip),
        &format!("{:.1} MiB", large.gzip_bytes as f64 / MIB),
        &format!(
            "{:.3}",
            large.gzip_bytes as f64 / large.identity_bytes as f64
        ),
        "—",
        "—",
    );
    row(
        &format!("exporter CPU per status, {COLD_SCRAPES} cold fan-outs"),
        &n,
        &us(large.cpu_per_status),
        "",
        "",
        "",
        "",
    );
    at_most(
        &format!(
            "CPU per status at 100000 ÷ at 10000 (the {} N = 10,000 scrapes taking turns with them)",
            large.walls_10k.len()
        ),
        "100000 / 10000",
        &us(large.cpu_per_status),
        &us(large.cpu_per_status_10k),
        large.cpu_per_status / large.cpu_per_status_10k,
        1.25,
        "≤ 1.25",
    );
    at_most(
        &format!("cold fan-out wall time (median of {COLD_SCRAPES})"),
        &n,
        &format!("{:.2} s", large.cold_wall().as_secs_f64()),
        &format!("{:.2} s", ideal(LARGE).as_secs_f64()),
        large.wall_ratio(),
        1.10,
        "≤ 1.10",
    );
    let discovery = &run.discovery;
    row(
        "discovery of 100,000 listed repositories (latency 0): start to the last page served",
        &n,
        &format!("{:.2} s", discovery.listed_after.as_secs_f64()),
        &format!("{} list requests", discovery.list_requests),
        "",
        "works",
        "PASS",
    );
    row(
        "discovery: exporter RSS once listed (VmRSS; peak VmHWM)",
        &n,
        &mib(discovery.rss),
        &format!("peak {}", mib(discovery.peak_rss)),
        "",
        "—",
        "—",
    );
    row(
        &format!(
            "discovery: CPU of the exporter (start included; `/readyz` after {:.2} s) and of the simulator",
            discovery.ready_after.as_secs_f64()
        ),
        &n,
        &format!("{:.2} s", discovery.exporter_cpu),
        &format!("simulator {:.2} s", discovery.simulator_cpu),
        "",
        "—",
        "—",
    );
    let rotation = &run.rotation;
    let slowest = rotation
        .scrapes
        .iter()
        .map(|s| s.wall)
        .max()
        .unwrap_or_default();
    row(
        &format!(
            "cold start under a {} s scrape timeout, rotation (`max_duration: 9s`, `min_interval: 10m`): slowest answer",
            ROTATION_INTERVAL.as_secs()
        ),
        &n,
        &format!("{:.2} s", slowest.as_secs_f64()),
        &format!("{} s", ROTATION_INTERVAL.as_secs()),
        &format!("{:.3}", slowest.as_secs_f64() / ROTATION_INTERVAL.as_secs_f64()),
        "answers in time",
        verdict(slowest < ROTATION_INTERVAL),
    );
    row(
        "rotation: scrapes until every repository is up (asked again: cut off in flight)",
        &n,
        &rotation
            .covered_after
            .map_or("not covered".to_owned(), |k| k.to_string()),
        &format!("{} asked again", rotation.asked_again),
        "",
        "covers the list",
        verdict(rotation.covered_after.is_some()),
    );
    row(
        "rotation: peak RSS (VmHWM)",
        &n,
        &mib(rotation.peak_rss),
        "",
        "",
        "—",
        "—",
    );
    println!(
        "\nRotation, scrape by scrape (one every {} s):\n",
        ROTATION_INTERVAL.as_secs()
    );
    println!("| scrape | answered after | status requests | up | timeout |");
    println!("|---:|---:|---:|---:|---:|");
    for (index, s) in rotation.scrapes.iter().enumerate() {
        println!(
            "| {} | {:.2} s | {} | {} | {} |",
            index + 1,
            s.wall.as_secs_f64(),
            s.asked,
            s.up,
            s.timeouts
        );
    }
}

/// The table of the change-driven refresh run: for each scenario, each exporter's requests per
/// scrape against the default mode's, how late it showed the simulator's changes, and the
/// oldest answer it showed.
pub fn print_refresh(scenarios: &[Scenario]) {
    println!(
        "\nN = {REPOSITORIES} repositories with activity, each exporter scraped every {} s for {} s; \
         requests per scrape are upstream requests (statuses and list pages) from the exporter's own \
         api_requests_total, the first (cold) scrape left out; a change is seen when a scrape shows its \
         run at its stage or later; one scrape after the next look is 2 x {} s.\n",
        INTERVAL.as_secs(),
        DURATION.as_secs(),
        INTERVAL.as_secs()
    );
    println!("| measure | activity | value | reference | ratio | target | result |");
    println!("|---|---:|---:|---:|---:|---|---|");
    let within = 2.0 * INTERVAL.as_secs_f64();
    for scenario in scenarios {
        let activity = format!(
            "{:.0} %/min ({} runs, {:.1} % in progress)",
            scenario.pushes_per_minute * 100.0,
            scenario.runs,
            scenario.in_progress * 100.0
        );
        let Some(every) = scenario
            .exporters
            .iter()
            .find(|m| m.mode == Mode::EveryScrape)
        else {
            continue;
        };
        for measured in &scenario.exporters {
            let label = measured.mode.label();
            if measured.mode != Mode::EveryScrape {
                let ratio = measured.requests_per_scrape / every.requests_per_scrape;
                let target = (scenario.pushes_per_minute <= STEADY
                    && measured.mode == Mode::OnChange)
                    .then_some(0.05);
                row(
                    &format!("requests per scrape, {label}"),
                    &activity,
                    &format!(
                        "{:.1} ({:.1} list pages; {:.1} with the first scrape)",
                        measured.requests_per_scrape,
                        measured.list_requests_per_scrape,
                        measured.requests_per_scrape_with_first
                    ),
                    &format!("{:.1} (every_scrape)", every.requests_per_scrape),
                    &format!("{ratio:.4}"),
                    target.map_or("—", |_| "≤ 1/20"),
                    target.map_or("—", |limit| verdict(ratio <= limit)),
                );
            }
            row(
                &format!("delay until a change is shown, {label}"),
                &activity,
                &format!(
                    "p50 {:.1} s, p99 {:.1} s, max {:.1} s ({} changes, {} scrapes)",
                    measured.delay_quantile(0.5),
                    measured.delay_quantile(0.99),
                    measured.max_delay(),
                    measured.delays.len(),
                    measured.scrapes
                ),
                &format!("{within:.0} s"),
                &format!("{:.2}", measured.max_delay() / within),
                "max ≤ one scrape after the next look",
                verdict(measured.max_delay() <= within),
            );
            row(
                &format!("changes never shown, {label}"),
                &activity,
                &measured.missed.to_string(),
                "0",
                "—",
                "0",
                verdict(measured.missed == 0),
            );
            let staleness = match measured.mode {
                Mode::EveryScrape => None,
                Mode::OnChange => Some(3600.0),
                Mode::OnChangeShortStaleness => Some(SHORT_STALENESS.as_secs_f64()),
            };
            if let Some(limit) = staleness {
                row(
                    &format!("oldest answer shown, {label}"),
                    &activity,
                    &format!("{:.1} s", measured.oldest_answer),
                    &format!("{limit:.0} s (max_staleness)"),
                    &format!("{:.3}", measured.oldest_answer / limit),
                    "≤ max_staleness",
                    verdict(measured.oldest_answer <= limit),
                );
            }
        }
    }
}
