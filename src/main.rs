//! Entry point: parse flags, load the config, start the server, wait for signals.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tokio::net::TcpListener;

use codearts_repo_exporter::WebConfig;
use codearts_repo_exporter::{logging, router, serve};
use codearts_repo_exporter::{parse_listen_address, Flags};
use codearts_repo_exporter::{App, StartError};
use codearts_repo_exporter::{CheckMode, Config, Shard};

/// Exit code for a configuration the exporter refuses to start with.
const EXIT_BAD_CONFIG: u8 = 2;
/// How long the start waits for the first discovery before serving anyway.
const FIRST_DISCOVERY_WAIT: Duration = Duration::from_secs(15);
/// How long in-flight scrapes may take to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    codearts_repo_exporter::use_one_arena();
    let flags = Flags::parse();
    logging::init(flags.log_level, &flags.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(flags))
}

async fn run(flags: Flags) -> ExitCode {
    if flags.config_check_syntax_only {
        return check_syntax_only(&flags);
    }
    let web = match &flags.web_config_file {
        None => None,
        Some(path) => match WebConfig::load(path) {
            Ok(web) => Some(Arc::new(web)),
            Err(err) => {
                eprintln!("--web.config.file: {err}");
                return ExitCode::from(EXIT_BAD_CONFIG);
            }
        },
    };
    let (mut config, config_path, _demo) = if flags.demo {
        match start_demo(flags.demo_listen_address.as_deref()).await {
            Ok((config, demo)) => (config, None, Some(demo)),
            Err(err) => {
                eprintln!("--demo: cannot start the simulator: {err}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        match Config::load(&flags.config_file) {
            Ok(config) => (config, Some(flags.config_file.clone()), None),
            Err(err) => {
                eprintln!("{err}");
                return ExitCode::from(EXIT_BAD_CONFIG);
            }
        }
    };
    // `--shard` wins over the file's `shard`, now and at every reload (App keeps the flag).
    let shard_flag = flags.shard;
    if let Some(shard) = shard_flag {
        config.shard = shard;
    }
    if flags.config_check {
        return check(&config, shard_flag, web.as_deref());
    }
    // Server limits apply at start; a reload does not re-bind the listeners.
    let limits = config.server.clone();

    let summary = config.summary();
    let app = match App::new(config, config_path, flags.shard) {
        Ok(app) => app,
        Err(err @ StartError::Config(_)) => {
            eprintln!("{err}");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
        Err(err @ StartError::Metrics(_)) => {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    };

    let mut listeners = Vec::new();
    for text in &flags.listen_addresses {
        let addr = match parse_listen_address(text) {
            Ok(addr) => addr,
            Err(err) => {
                eprintln!("--web.listen-address {err}");
                return ExitCode::from(EXIT_BAD_CONFIG);
            }
        };
        match TcpListener::bind(addr).await {
            Ok(listener) => listeners.push(listener),
            Err(err) => {
                eprintln!("--web.listen-address {text}: cannot listen: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    let web_summary = web
        .as_ref()
        .map_or_else(|| "none".to_owned(), |web| web.summary());
    for listener in &listeners {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(address = %addr, version = env!("CARGO_PKG_VERSION"), %summary,
                web = %web_summary, "listening");
        }
    }
    for warning in web.iter().flat_map(|web| web.warnings()) {
        tracing::warn!("{warning}");
    }

    // The first discovery runs before the server answers, so the first scrape sees the whole
    // list — but for a bounded time, so /healthz answers soon even when the API does not; the
    // background loop then keeps trying.
    let _ = tokio::time::timeout(FIRST_DISCOVERY_WAIT, app.refresh_discovery()).await;
    app.start();
    let router = router(app.clone(), &flags.telemetry_path);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut servers = tokio::task::JoinSet::new();
    for listener in listeners {
        let serving = serve(
            listener,
            router.clone(),
            &limits,
            web.clone(),
            stop_rx.clone(),
        );
        servers.spawn(serving);
    }

    wait_for_shutdown(&app).await;
    tracing::info!("shutting down: finishing in-flight scrapes");
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while servers.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("in-flight requests did not finish in time; exiting anyway");
    }
    ExitCode::SUCCESS
}

/// `--config.check`: the one-line summary, then what every setting resolved to, then every
/// warning the start would log (on stderr). Exits 2 when the config is refused.
fn check(config: &Config, shard_flag: Option<Shard>, web: Option<&WebConfig>) -> ExitCode {
    let auth_warnings = match codearts_repo_exporter::check(config) {
        Ok(warnings) => warnings,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    println!("config OK: {}", config.summary());
    for line in config.resolved(shard_flag) {
        println!("  {line}");
    }
    if let Some(web) = web {
        println!("web config OK: {}", web.summary());
    }
    let web_warnings = web.map(WebConfig::warnings).unwrap_or_default();
    for warning in auth_warnings.iter().chain(&web_warnings) {
        eprintln!("warning: {warning}");
    }
    ExitCode::SUCCESS
}

/// `--config.check-syntax-only`: the config and web config without the files they name and
/// without unset variables, which it lists instead.
fn check_syntax_only(flags: &Flags) -> ExitCode {
    match Config::load_checked(&flags.config_file, CheckMode::SyntaxOnly) {
        Ok((config, unchecked)) => {
            println!("config OK (syntax only): {}", config.summary());
            for line in unchecked.lines() {
                println!("  {line}");
            }
        }
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    }
    if let Some(path) = &flags.web_config_file {
        match WebConfig::check_syntax(path) {
            Ok(summary) => println!("web config OK (syntax only): {summary}"),
            Err(err) => {
                eprintln!("--web.config.file: {err}");
                return ExitCode::from(EXIT_BAD_CONFIG);
            }
        }
    }
    ExitCode::SUCCESS
}

#[cfg(feature = "demo")]
async fn start_demo(
    listen: Option<&str>,
) -> Result<(codearts_repo_exporter::Config, impl Sized), String> {
    use codearts_repo_exporter::demo;
    let listen = parse_listen_address(listen.unwrap_or(demo::DEFAULT_LISTEN))
        .map_err(|err| format!("--demo.listen-address {err}"))?;
    let (config, demo) = demo::start(listen).await?;
    tracing::info!(endpoint = %demo.endpoint(), "demo: serving the built-in CodeArts simulator");
    Ok((config, demo))
}

#[cfg(not(feature = "demo"))]
async fn start_demo(_listen: Option<&str>) -> Result<(codearts_repo_exporter::Config, ()), String> {
    Err("this build has no simulator (built without the `demo` feature)".to_owned())
}

/// Reloads on SIGHUP; returns on SIGTERM or SIGINT.
async fn wait_for_shutdown(app: &Arc<App>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut hangup), Ok(mut terminate), Ok(mut interrupt)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop with SIGKILL");
        std::future::pending::<()>().await;
        return;
    };
    loop {
        tokio::select! {
            _ = hangup.recv() => {
                // The result is logged and counted by reload itself.
                let _ = app.reload().await;
            }
            _ = terminate.recv() => return,
            _ = interrupt.recv() => return,
        }
    }
}
