//! `codearts-sim`: the built-in CodeArts Repo simulator (the `codearts-sim` crate) as a process
//! of its own, for benchmarks, end-to-end tests and manual poking. Prints its endpoint on one line, serves until SIGINT or SIGTERM, and shows
//! its counters at `GET /-/stats`.
//!
//! It accepts the demo credentials of `SimCredentials::default()`: token `demo-token`, IAM user
//! `demo` / `demo-password` in domain `demo-domain`, AK `DEMOACCESSKEY` / SK `demo-secret-key`,
//! and the temporary AK/SK + security token its ECS metadata service hands out
//! (`GET /openstack/latest/securitykey`).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use codearts_sim::{
    self as sim, Activity, Answers, Latency, SessionTokens, SimConfig, SimCredentials,
};

#[derive(Parser)]
#[command(
    version,
    about = "A CodeArts Repo look-alike for demos, tests and benchmarks"
)]
struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Number of repositories, with ids from 2111915000 up.
    #[arg(long, default_value_t = sim::DEMO_REPOSITORIES)]
    repositories: u32,
    /// Fixed answer latency, e.g. `0ms` or `50ms`; without it latency varies realistically.
    #[arg(long, value_parser = humantime::parse_duration)]
    latency: Option<Duration>,
    /// Make a fixed set of repositories fail with every error class.
    #[arg(long)]
    inject_failures: bool,
    /// `uniform`: same-size healthy answers (benchmarks); `varied`: realistic, changing ones;
    /// `scenarios`: one fixed repository per edge case (conformance; ignores --repositories).
    #[arg(long, value_enum, default_value_t = AnswersArg::Uniform)]
    answers: AnswersArg,
    /// Lifetime of the IAM tokens it issues.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10m")]
    token_lifetime: Duration,
    /// Lifetime of the temporary AK/SK and security token of the metadata service.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30m")]
    temporary_credential_lifetime: Duration,
    /// Whether the metadata service requires a session token (`PUT /meta-data/latest/api/token`),
    /// only hands them out, or answers that PUT with 404.
    #[arg(long, value_enum, default_value_t = SessionTokensArg::Required)]
    metadata_session_tokens: SessionTokensArg,
    /// Keep the last requests received for `GET /-/requests`. They hold signatures and
    /// tokens: for tests only.
    #[arg(long)]
    record_requests: bool,
    /// Activity: the share of repositories pushed to per minute (0.01 = 1 %); each push moves
    /// the listed times and the last push and starts a statistics run (`GET /-/activity` lists
    /// them). Uniform answers only.
    #[arg(long)]
    pushes_per_minute: Option<f64>,
    /// With activity: how long a run waits before it runs.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    run_waiting: Duration,
    /// With activity: how long a run runs.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "90s")]
    run_active: Duration,
    /// With activity: the seed of which repositories are pushed to.
    #[arg(long, default_value_t = 21)]
    activity_seed: u64,
}

#[derive(Clone, Copy, ValueEnum)]
enum AnswersArg {
    Uniform,
    Varied,
    Scenarios,
}

#[derive(Clone, Copy, ValueEnum)]
enum SessionTokensArg {
    Required,
    Optional,
    Unsupported,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let activity = match args.pushes_per_minute {
        Some(_) if !matches!(args.answers, AnswersArg::Uniform) => {
            anyhow::bail!("--pushes-per-minute needs --answers uniform")
        }
        Some(rate) if !(rate.is_finite() && rate >= 0.0) => {
            anyhow::bail!("--pushes-per-minute must be 0 or more, not {rate}")
        }
        Some(rate) => Some(Activity {
            pushes_per_repository_per_minute: rate,
            waiting: args.run_waiting,
            active: args.run_active,
            seed: args.activity_seed,
        }),
        None => None,
    };
    let config = SimConfig {
        repositories: args.repositories,
        latency: args.latency.map_or(Latency::Realistic, Latency::Fixed),
        answers: match args.answers {
            AnswersArg::Uniform => Answers::Uniform,
            AnswersArg::Varied => Answers::Varied,
            AnswersArg::Scenarios => Answers::Scenarios,
        },
        inject_failures: args.inject_failures,
        token_lifetime: args.token_lifetime,
        temporary_credential_lifetime: args.temporary_credential_lifetime,
        metadata_session_tokens: match args.metadata_session_tokens {
            SessionTokensArg::Required => SessionTokens::Required,
            SessionTokensArg::Optional => SessionTokens::Optional,
            SessionTokensArg::Unsupported => SessionTokens::Unsupported,
        },
        record_requests: args.record_requests,
        credentials: SimCredentials::default(),
        activity,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let handle = sim::serve(config, listener)
        .await
        .context("cannot start the simulator")?;
    println!("{}", handle.endpoint());
    stopped().await?;
    handle.shutdown().await;
    Ok(())
}

/// Resolves on the first SIGINT or SIGTERM.
async fn stopped() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted.context("cannot listen for SIGINT"),
        _ = terminate.recv() => Ok(()),
    }
}
