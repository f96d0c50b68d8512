//! The fan-out benchmark: the real exporter and simulator binaries as separate processes on
//! loopback, measured from outside through `/proc`, the simulator's `/-/stats` and the
//! exporter's own metrics.
//!
//! Two modes, chosen by the `--bench` argument:
//!
//! - `cargo bench --bench fanout` (cargo passes `--bench`): the full run, ~17 minutes once
//!   built; `cargo bench --bench fanout -- fanout` runs only the fan-out parts (~6 minutes),
//!   `cargo bench --bench fanout -- refresh` only change-driven refresh ([`refresh`], ~11
//!   minutes). At 50 ms latency and concurrency 100 the fan-out parts measure, side by side:
//!   - N = 100, 1,000 and 10,000 ([`fanouts`]): the scrape wall time against the ideal
//!     `ceil(N / C) × L`, the exporter's CPU per repository status, its idle and peak RSS, the
//!     TCP connections one scrape opens; and N = 10,000 with `last_push` on, cold and warm;
//!   - N = 10,000 served from the cache ([`cache`]): identity and gzip to the last byte, gzip
//!     levels compared on the same body, and the series per repository by default and with
//!     the "minimal" preset (docs/metrics.md);
//!   - N = 100,000 ([`large`]): a 100,000-entry config's start, idle memory, cold fan-outs
//!     (taking turns with N = 10,000), reload, cache and peak memory; a cold start under a
//!     10 s scrape deadline covered in rotation; discovery of 100,000 listed repositories;
//!   - the references ([`reference`]): Debian's `prometheus-blackbox-exporter` probing the
//!     same URLs, the simulator's own throughput, one wave sent straight to the simulator.
//!
//!   Change-driven refresh ([`refresh`]): 10,000 repositories with activity (1 % pushed to per
//!   minute, then ten times that), scraped every 5 s for 5 minutes by the default mode and by
//!   change-driven refresh side by side: upstream requests per scrape, how late each change
//!   the simulator made was shown (p99, maximum, missed), the oldest answer shown.
//!
//!   It prints a markdown table with each target and pass/fail ([`report`]; BENCHMARKS.md
//!   holds recorded runs). A missed target is reported, not a panic.
//! - Without `--bench` (as `cargo test --all-targets` runs a `harness = false` bench): a quick
//!   correctness check for CI — N = 100 at 5 ms; every repository must show
//!   `codearts_repo_statistics_up 1`, the simulator must have seen exactly N status requests,
//!   a gzip answer must be gzip and hold the same repositories, the minimal preset
//!   (docs/metrics.md) must load and leave at most 6 series per repository, and change-driven
//!   refresh beside the default mode on 200 repositories with activity must show every change
//!   and ask less. It checks no clock-based target, so a slow debug build or a busy machine
//!   cannot fail it.
//!
//! Every child process is killed when its guard drops, so a panic leaves no strays.
//! It is not a load test of CodeArts: only the simulator is ever contacted.

mod cache;
mod fanouts;
mod harness;
mod large;
mod reference;
mod refresh;
mod report;

use std::time::{Duration, Instant};

use codearts_testkit::proc_stats::clock_ticks;
use codearts_testkit::procs;

use harness::{
    check_all_up, get_metrics, gunzip, http_client, load_average, minimal_preset,
    repository_samples, scrape, sim_counters, start_simulator, Encoding, Exporter, ExporterConfig,
    LATENCY, LONG_TIMEOUT, MIB,
};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Result<T> = std::result::Result<T, BoxError>;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|arg| arg == "--bench");
    let only = |part: &str| {
        let named: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
        named.is_empty() || named.iter().any(|a| *a == part)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if !full {
        return runtime.block_on(quick_check());
    }
    if only("fanout") {
        runtime.block_on(full_run())?;
    }
    if only("refresh") {
        runtime.block_on(refresh_run())?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Quick mode

async fn quick_check() -> Result<()> {
    const N: usize = 100;
    let client = http_client()?;
    let dir = tempfile::tempdir()?;
    let (_sim, endpoint) = start_simulator(dir.path(), N, Duration::from_millis(5)).await?;
    let exporter = Exporter::start(dir.path(), &ExporterConfig::new(&endpoint, N)).await?;
    let before = sim_counters(&client, &endpoint).await?;
    let (body, _) = scrape(&client, &exporter.base, LONG_TIMEOUT).await?;
    let asked = (sim_counters(&client, &endpoint).await? - before).status_requests;
    check_all_up(&body, N)?;
    if asked != N as u64 {
        return Err(format!("the simulator saw {asked} status requests, expected {N}").into());
    }
    // get_metrics refuses an answer whose Content-Encoding is not what was asked.
    let compressed = get_metrics(&client, &exporter.base, LONG_TIMEOUT, Encoding::Gzip)
        .await?
        .bytes()
        .await?;
    check_all_up(gunzip(&compressed)?.as_bytes(), N)?;

    let mut minimal = ExporterConfig::new(&endpoint, N);
    minimal.metrics = Some(minimal_preset());
    let exporter = Exporter::start(dir.path(), &minimal).await?;
    let (body, _) = scrape(&client, &exporter.base, LONG_TIMEOUT).await?;
    check_all_up(&body, N)?;
    let per_repository = repository_samples(std::str::from_utf8(&body)?) as f64 / N as f64;
    if per_repository > 6.0 {
        return Err(
            format!("the minimal preset leaves {per_repository} series per repository").into(),
        );
    }
    let refresh = refresh::quick_check(&client, dir.path()).await?;
    println!(
        "fanout quick check: {N} repositories up, {asked} status requests, gzip answered, \
         minimal preset {per_repository} series per repository; {refresh} (run `cargo bench \
         --bench fanout` for figures)"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Change-driven refresh

async fn refresh_run() -> Result<()> {
    let started = Instant::now();
    let client = http_client()?;
    let dir = tempfile::tempdir()?;
    eprintln!("load average before: {}", load_average());
    let mut scenarios = Vec::new();
    for (pushes, modes) in [
        (
            refresh::STEADY,
            &[
                refresh::Mode::EveryScrape,
                refresh::Mode::OnChange,
                refresh::Mode::OnChangeShortStaleness,
            ][..],
        ),
        (
            refresh::BUSY,
            &[refresh::Mode::EveryScrape, refresh::Mode::OnChange][..],
        ),
    ] {
        let scenario = refresh::scenario(
            &client,
            dir.path(),
            refresh::REPOSITORIES,
            pushes,
            modes,
            refresh::INTERVAL,
            refresh::DURATION,
        )
        .await?;
        eprintln!(
            "refresh at {pushes}/min: {} runs, {} changes, load average {}",
            scenario.runs,
            scenario.changes,
            load_average()
        );
        scenarios.push(scenario);
    }
    report::print_refresh(&scenarios);
    println!(
        "\nTotal run time {:.0} s; load average at the end {}.",
        started.elapsed().as_secs_f64(),
        load_average()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Full run

async fn full_run() -> Result<()> {
    // The benchmark compares against blackbox_exporter: without it, stop before measuring.
    procs::require_binary(&[reference::BLACKBOX], reference::BLACKBOX_INSTALL);
    let started = Instant::now();
    let ticks = clock_ticks();
    let client = http_client()?;
    let dir = tempfile::tempdir()?;
    eprintln!("load average before: {}", load_average());

    let simulator_rate = reference::measure_simulator(&client, dir.path()).await?;
    eprintln!("simulator: {simulator_rate:.0} requests/s at latency 0");
    let direct_wave = reference::measure_direct_wave(&client, dir.path()).await?;
    eprintln!("direct wave of 100 at 50 ms: {direct_wave:?}");

    let mut subjects = fanouts::Subjects::start(dir.path()).await?;
    subjects.measure(&client, ticks).await?;
    for subject in &subjects.all {
        eprintln!(
            "{}: walls {:?}, connections {:?}",
            subject.label(),
            subject.walls,
            subject.connections
        );
    }
    let fanouts = subjects.finish();
    eprintln!("load average after the fan-outs: {}", load_average());

    // Right after the fan-outs, as in every recorded run (the N = 10,000 subject idles
    // meanwhile).
    let cached = cache::measure(&client, dir.path(), 10_000).await?;
    eprintln!(
        "cache N=10000: identity {:?} ({} bytes), gzip {:?} ({} bytes), peak RSS {:.1} MiB",
        cached.identity,
        cached.identity_bytes,
        cached.gzip,
        cached.gzip_bytes,
        cached.peak_rss / MIB
    );
    let minimal = cache::minimal_series(&client, dir.path()).await?;

    // N = 100,000, its cold fan-outs taking turns with N = 10,000's.
    let (large_sim, large_endpoint) = start_simulator(dir.path(), large::LARGE, LATENCY).await?;
    let large = large::measure(
        &client,
        dir.path(),
        ticks,
        &large_endpoint,
        subjects.get(10_000, fanouts::LastPush::Off),
    )
    .await?;
    drop(subjects);
    eprintln!(
        "N=100000: cold {:?} ({:.1} µs/status vs {:.1} at 10k), from cache {:?} / gzip {:?}, peak {:.1} MiB",
        large.cold_walls,
        large.cpu_per_status * 1e6,
        large.cpu_per_status_10k * 1e6,
        large.cached_identity,
        large.cached_gzip,
        large.peak_rss / MIB
    );
    let rotation = large::rotation(&client, dir.path(), &large_endpoint).await?;
    drop(large_sim);
    eprintln!(
        "rotation: covered after {:?} scrapes",
        rotation.covered_after
    );
    let discovery = large::discovery(&client, dir.path(), ticks).await?;
    eprintln!(
        "discovery: {:?} to list, {:.1} MiB after",
        discovery.listed_after,
        discovery.rss / MIB
    );

    let mut blackbox = Vec::new();
    for probes in [1_000, 10_000] {
        let measured = reference::measure_blackbox(&client, dir.path(), probes, ticks).await?;
        eprintln!(
            "blackbox N={probes}: {:.1} µs CPU/probe, {:?}",
            measured.cpu_per_probe * 1e6,
            measured.wall
        );
        blackbox.push(measured);
    }
    eprintln!("load average after: {}", load_average());

    report::print(&report::Run {
        fanouts,
        cached,
        blackbox,
        simulator_rate,
        direct_wave,
        large,
        rotation,
        discovery,
        minimal,
    });
    println!(
        "\nTotal run time {:.0} s; load average at the end {}.",
        started.elapsed().as_secs_f64(),
        load_average()
    );
    Ok(())
}
