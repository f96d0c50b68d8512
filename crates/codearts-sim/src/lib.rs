//! A CodeArts Repo look-alike served over loopback HTTP: the backend of `--demo`, of the
//! end-to-end tests, of the benchmarks and of the conformance suite (`tests/conformance/`).
//!
//! It answers as the official Huawei Cloud Python SDK models the API (`huaweicloudsdkcodeartsrepo`
//! v4 models, `huaweicloudsdkcore`, `huaweicloudsdkiam`; see `docs/upstream-api.md`):
//!
//! | route | module |
//! |---|---|
//! | `GET /v4/repositories/{id}/repository/statistics-status` | `answers.rs`, `faults.rs`, `scenarios.rs` |
//! | `GET /v4/repositories/{id}/last-push-event` | `last_push.rs` |
//! | `GET /v4/user/repositories` | `listing.rs` (`catalog.rs` for what exists) |
//!
//! | `POST /v3/auth/tokens`, `GET /v3/projects` | `iam.rs` |
//! | `PUT /meta-data/latest/api/token`, `GET /openstack/latest/securitykey` | `metadata.rs` |
//!
//! and checks credentials the way the gateway does (`access.rs`): a static or issued
//! `X-Auth-Token`, or an `SDK-HMAC-SHA256` signature recomputed with [`huaweicloud_signer`],
//! by the permanent AK/SK or by a temporary one with its `X-Security-Token`; an `X-Project-Id`
//! must name one of the account's projects.
//!
//! With [`SimConfig::activity`], pushes arrive at random and start statistics runs
//! (`activity.rs`): the status, last-push and list answers follow them, and every change is
//! recorded with its true moment.
//!
//! Three kinds of answers ([`Answers`]): `Varied` ones move over time (events go waiting →
//! active → finish, quotas run out and reset, pushes come) and cover every documented value
//! and shape, loosely typed ones included; `Uniform` ones are identical in size and cheap, so a
//! benchmark measures the exporter and not the simulator; `Scenarios` are fixed, one repository
//! per edge case, for comparing two clients on the same bytes. With
//! [`SimConfig::inject_failures`] a fixed set of repositories fails with every error class (see
//! [`SimHandle::failing_repositories`] and the table in `faults.rs`).
//!
//! Routes for tests, never counted nor recorded: `GET /-/stats` (counters), `GET|DELETE
//! /-/requests` (the requests received, with [`SimConfig::record_requests`]), `GET|PUT
//! /-/metadata-fault?mode=…` (the metadata service's fault switch), `GET /-/scenarios`,
//! `GET /-/activity` (every run activity started, with the moments of its changes).
//!
//! It is not a faithful copy of CodeArts: where the API leaves a behaviour undocumented, the
//! simulator picks one plausible behaviour and says so in the module that implements it. The
//! product only reaches it behind `--demo`.

mod access;
mod activity;
mod answers;
mod catalog;
mod faults;
mod iam;
mod last_push;
mod listing;
mod metadata;
mod recorder;
mod routes;
mod scenarios;
mod stats;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use activity::{Activity, RunRecord};
pub use catalog::{SimRepository, DEMO_REPOSITORIES, FIRST_ID, MAX_REPOSITORIES};
pub use metadata::{MetadataFault, SessionTokens, METADATA_SLOW_DELAY};
pub use recorder::RecordedRequest;
pub use stats::{SimStats, SimStatsSnapshot};

/// How long the simulator takes to answer each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latency {
    /// Always this long; `Duration::ZERO` answers at once (benchmarks).
    Fixed(Duration),
    /// Mostly 5–150 ms, with about one request in fifty taking 0.4–1.5 s.
    Realistic,
}

/// What the statistics-status answers of healthy repositories look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answers {
    /// Realistic names and answers that change over time and cover every `reason`, every event
    /// status, a missing and a null `event`, and `reason` sent as a string.
    Varied,
    /// `bench/repo-NNNNN` names and answers of one fixed size: reason 0, a finished event, a
    /// push older than it.
    Uniform,
    /// `conformance/<case>` repositories, one per edge case, whose answers never change
    /// (`GET /-/scenarios` lists them). The `repositories` count and injected failures do not
    /// apply.
    Scenarios,
}

/// What the simulator serves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// How many repositories exist; their ids are `FIRST_ID..FIRST_ID + repositories`.
    /// At most [`MAX_REPOSITORIES`], so that every id stays a valid CodeArts id.
    pub repositories: u32,
    pub latency: Latency,
    pub answers: Answers,
    /// Make the repositories of [`SimHandle::failing_repositories`] and
    /// [`SimHandle::flaky_repositories`] fail.
    pub inject_failures: bool,
    /// Lifetime of the IAM tokens the simulator issues.
    pub token_lifetime: Duration,
    /// Lifetime of the temporary AK/SK and security token the metadata service hands out; a new
    /// one comes every half lifetime.
    pub temporary_credential_lifetime: Duration,
    /// Whether the metadata service hands out session tokens, and requires them.
    pub metadata_session_tokens: SessionTokens,
    /// Keep the last requests for `GET /-/requests`. They hold signatures, tokens and
    /// passwords: for tests only, never in the demo.
    pub record_requests: bool,
    /// The credentials it accepts.
    pub credentials: SimCredentials,
    /// Pushes arriving at random and starting statistics runs; `None`: only the clock moves
    /// the answers (`Varied`), or nothing does. With `Uniform` answers only.
    pub activity: Option<Activity>,
}

/// The credentials the simulator accepts; any one of them authorizes a request.
#[derive(Clone)]
pub struct SimCredentials {
    /// Accepted as `X-Auth-Token` for ever.
    pub static_token: String,
    pub iam_domain: String,
    pub iam_user: String,
    pub iam_password: String,
    pub access_key: String,
    pub secret_key: String,
}

impl Default for SimCredentials {
    /// The demo values; nothing secret.
    fn default() -> Self {
        Self {
            static_token: "demo-token".to_owned(),
            iam_domain: "demo-domain".to_owned(),
            iam_user: "demo".to_owned(),
            iam_password: "demo-password".to_owned(),
            access_key: "DEMOACCESSKEY".to_owned(),
            secret_key: "demo-secret-key".to_owned(),
        }
    }
}

impl std::fmt::Debug for SimCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCredentials")
            .field("iam_domain", &self.iam_domain)
            .field("iam_user", &self.iam_user)
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

impl SimConfig {
    /// Whether the fault table applies: asked for, and not in `Scenarios`, whose answers fix
    /// their own failures.
    pub(crate) fn injects_failures(&self) -> bool {
        self.inject_failures && self.answers != Answers::Scenarios
    }

    /// `--demo`: a few dozen realistic repositories, varied latency, every error class, and IAM
    /// tokens short-lived enough that their renewal shows within minutes.
    pub fn demo() -> Self {
        Self {
            repositories: DEMO_REPOSITORIES,
            latency: Latency::Realistic,
            answers: Answers::Varied,
            inject_failures: true,
            token_lifetime: Duration::from_secs(10 * 60),
            // Renewed within a demo session, as an exporter renews well before expiry.
            temporary_credential_lifetime: Duration::from_secs(30 * 60),
            metadata_session_tokens: SessionTokens::Required,
            record_requests: false,
            credentials: SimCredentials::default(),
            activity: None,
        }
    }

    /// Benchmarks: `repositories` uniform, always-healthy repositories answering after `latency`.
    pub fn bench(repositories: u32, latency: Duration) -> Self {
        Self {
            repositories,
            latency: Latency::Fixed(latency),
            answers: Answers::Uniform,
            inject_failures: false,
            token_lifetime: Duration::from_secs(24 * 60 * 60),
            temporary_credential_lifetime: Duration::from_secs(24 * 60 * 60),
            metadata_session_tokens: SessionTokens::Required,
            record_requests: false,
            credentials: SimCredentials::default(),
            activity: None,
        }
    }

    /// The conformance suite's simulator: the fixed scenario answers, no latency, requests
    /// recorded.
    pub fn scenarios() -> Self {
        Self {
            latency: Latency::Fixed(Duration::ZERO),
            answers: Answers::Scenarios,
            inject_failures: false,
            record_requests: true,
            ..Self::demo()
        }
    }
}

/// A running simulator. Dropping it leaves the server running until the runtime stops; call
/// [`SimHandle::shutdown`] to stop it earlier.
pub struct SimHandle {
    pub addr: SocketAddr,
    pub stats: Arc<SimStats>,
    catalog: Arc<catalog::Catalog>,
    sim: Arc<routes::Sim>,
    inject_failures: bool,
    stop: oneshot::Sender<()>,
    server: JoinHandle<()>,
}

impl SimHandle {
    /// The CodeArts endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The IAM endpoint: the same server, which also serves `POST /v3/auth/tokens` and
    /// `GET /v3/projects`.
    pub fn iam_endpoint(&self) -> String {
        self.endpoint()
    }

    /// The ECS metadata endpoint (`http://169.254.169.254` on a real ECS): the same server.
    pub fn metadata_endpoint(&self) -> String {
        self.endpoint()
    }

    /// The id `GET /v3/projects?name={name}` answers, if the account has such a project.
    pub fn project_id(&self, name: &str) -> Option<String> {
        iam::PROJECTS.contains(&name).then(|| iam::project_id(name))
    }

    /// Switches a fault of the metadata service on (or off with [`MetadataFault::None`]).
    pub fn set_metadata_fault(&self, fault: MetadataFault) {
        self.sim.metadata().set_fault(fault);
    }

    /// Every repository, in id order (`GET /v4/user/repositories` lists the unarchived ones by
    /// default, newest first).
    pub fn repositories(&self) -> Vec<SimRepository> {
        self.catalog.repositories().to_vec()
    }

    /// Repositories whose statistics-status fails on every request, with the error class the
    /// exporter must report for each. Empty unless failures are injected.
    pub fn failing_repositories(&self) -> Vec<(u32, &'static str)> {
        self.faulty(false)
    }

    /// Repositories that fail only part of the time (by the wall clock), with the class they
    /// fail with. Tests cannot rely on their state at a given moment; the demo shows them flap.
    pub fn flaky_repositories(&self) -> Vec<(u32, &'static str)> {
        self.faulty(true)
    }

    fn faulty(&self, flaky: bool) -> Vec<(u32, &'static str)> {
        if !self.inject_failures {
            return Vec::new();
        }
        faults::FAULTS
            .iter()
            .filter(|(_, fault)| fault.is_flaky() == flaky)
            .filter_map(|&(index, fault)| {
                let id = self.catalog.id_at(index)?;
                Some((id, fault.expected_class()))
            })
            .collect()
    }

    /// Stops accepting, lets answers in progress finish for up to a second, then drops the rest
    /// (the repository that never answers would otherwise hold the shutdown for a minute).
    pub async fn shutdown(self) {
        let Self {
            stop, mut server, ..
        } = self;
        // The server may already have stopped on its own; then there is nobody to tell.
        let _ = stop.send(());
        if tokio::time::timeout(Duration::from_secs(1), &mut server)
            .await
            .is_err()
        {
            server.abort();
        }
    }
}

/// Serves the simulator on `listener` (bind it to loopback) until [`SimHandle::shutdown`].
///
/// Fails only when the listener has no local address or the configuration is out of range.
pub async fn serve(config: SimConfig, listener: TcpListener) -> std::io::Result<SimHandle> {
    let addr = listener.local_addr()?;
    let catalog = Arc::new(
        catalog::Catalog::new(config.repositories, config.answers)
            .map_err(|message| std::io::Error::new(std::io::ErrorKind::InvalidInput, message))?,
    );
    let stats = Arc::new(SimStats::default());
    let inject_failures = config.injects_failures();
    let sim = routes::Sim::new(config, catalog.clone(), stats.clone());
    let app = routes::router(sim.clone());

    let counted = stats.clone();
    let listener = listener.tap_io(move |stream: &mut TcpStream| {
        counted.count_connection();
        // Small answers on keep-alive connections must not wait for Nagle; if the option
        // cannot be set the answer is merely slower.
        let _ = stream.set_nodelay(true);
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let shutdown = async {
            // A dropped sender means the handle is gone: keep serving until the runtime stops.
            if stopped.await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(%error, "the CodeArts simulator stopped");
        }
    });
    Ok(SimHandle {
        addr,
        stats,
        catalog,
        sim,
        inject_failures,
        stop,
        server,
    })
}
