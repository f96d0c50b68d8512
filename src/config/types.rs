//! The validated configuration: the types every other layer reads. Invalid states are not
//! representable: ids are in range, durations positive, exactly one credential is set.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use url::Url;

use super::secret::Secret;
use crate::logging::Level;

/// A CodeArts Repo repository id: 1..=2147483647 (docs/upstream-api.md, "Statistics status").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepositoryId(u32);

impl RepositoryId {
    pub const MAX: u32 = 2_147_483_647;

    /// `Some` for ids in 1..=2147483647.
    pub fn new(id: i64) -> Option<Self> {
        (1..=i64::from(Self::MAX))
            .contains(&id)
            .then_some(Self(id as u32))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// A map keyed by [`RepositoryId`], hashed with [`IdHasher`].
pub(crate) type IdMap<V> = HashMap<RepositoryId, V, BuildHasherDefault<IdHasher>>;
/// A set of [`RepositoryId`]s, hashed with [`IdHasher`].
pub(crate) type IdSet = HashSet<RepositoryId, BuildHasherDefault<IdHasher>>;

/// Hashes a [`RepositoryId`] with one folded multiplication instead of the standard SipHash.
///
/// The collector looks every repository up in its store at least twice per scrape, and SipHash
/// showed in the profile of a scrape served from the cache (BENCHMARKS.md, "Figures behind the
/// code"). SipHash resists tables flooded by an attacker's keys; these keys are ids from the config
/// and from CodeArts' own repository list, never from a client of the exporter.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.write_u32(u32::from(*byte));
        }
    }

    fn write_u32(&mut self, n: u32) {
        // The high half of the product folded onto the low one, so that the low bits (the
        // bucket) depend on every bit of the id.
        let product = u128::from(self.0 ^ u64::from(n)) * 0x9E37_79B9_7F4A_7C15;
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl fmt::Display for RepositoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One watched repository. `name` becomes the `repository` label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub id: RepositoryId,
    pub name: Option<Arc<str>>,
    /// The CodeArts project it belongs to, when discovery told.
    pub project: Option<Arc<Project>>,
}

impl Repository {
    /// A repository known by its id and, optionally, a name.
    pub fn new(id: RepositoryId, name: Option<Arc<str>>) -> Self {
        Self {
            id,
            name,
            project: None,
        }
    }
}

/// A CodeArts project, as the repository list names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// `project_name`.
    pub name: Option<String>,
    /// `project_id`, the project's 32-hex UUID (not an IAM project id).
    pub id: Option<String>,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub codearts: CodeArtsConfig,
    pub repositories: Vec<Repository>,
    pub discovery: Option<DiscoveryConfig>,
    /// `None` unless `last_push.enabled`.
    pub last_push: Option<LastPushConfig>,
    /// When a repository is asked again: at every scrape, or when the repository list says it
    /// changed.
    pub refresh: Refresh,
    /// `metrics.disable`: per-repository families to leave out, by name without the
    /// `codearts_repo_statistics_` prefix, as written (the names are checked against the
    /// families by [`crate::metrics::Families::without`]).
    pub disabled_metrics: Vec<String>,
    pub probe: ProbeConfig,
    pub scrape: ScrapeConfig,
    pub shard: Shard,
    pub server: ServerConfig,
    pub log: LogConfig,
}

impl Config {
    /// How often the whole repository list is read — for discovery, and as the safety net of
    /// change-driven refresh (both `discovery.interval`); `None` when neither is on.
    pub fn full_listing_interval(&self) -> Option<Duration> {
        let discovery = self.discovery.as_ref().map(|d| d.interval);
        discovery.or(self
            .refresh
            .change_driven()
            .map(|c| c.full_listing_interval))
    }
}

/// The `log:` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogConfig {
    /// Overrides `--log.level` while set; `None` means the flag's level.
    pub level: Option<Level>,
}

#[derive(Debug, Clone)]
pub struct CodeArtsConfig {
    /// Base URL without a trailing slash.
    pub endpoint: Url,
    pub auth: AuthConfig,
    pub tls: TlsConfig,
}

/// Exactly one way to authenticate.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthConfig {
    /// A static IAM token written in the file (normally through `${VAR}`).
    Token(Secret),
    /// A file holding an IAM token, re-read when it changes.
    TokenFile(PathBuf),
    /// Tokens obtained from IAM with the password method.
    Iam(IamConfig),
    /// Requests signed with an access key / secret key pair, permanent or temporary.
    AkSk(AkSkConfig),
    /// Requests signed with the temporary AK/SK and security token of the ECS's (or CCE
    /// node's) agency, from the metadata service.
    EcsAgency(EcsAgencyConfig),
}

impl AuthConfig {
    /// The mode's name as written in the config, for logs and the landing page.
    pub fn mode(&self) -> &'static str {
        match self {
            AuthConfig::Token(_) => "token",
            AuthConfig::TokenFile(_) => "token_file",
            AuthConfig::Iam(_) => "iam",
            AuthConfig::AkSk(_) => "aksk",
            AuthConfig::EcsAgency(_) => "ecs_agency",
        }
    }
}

/// Where a secret comes from: inline (via `${VAR}`) or a file re-read on change.
#[derive(Debug, Clone, PartialEq)]
pub enum SecretSource {
    Inline(Secret),
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
pub struct IamConfig {
    pub endpoint: Url,
    pub domain: String,
    pub user: String,
    pub password: SecretSource,
    pub project: ProjectScope,
}

/// The project a token is scoped to: `project: cn-north-4` or `project: "id:0123…"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectScope {
    Name(String),
    Id(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct AkSkConfig {
    pub access_key: SecretSource,
    pub secret_key: SecretSource,
    /// The security token of a temporary AK/SK, sent and signed as `X-Security-Token`; read
    /// again when the file changes, like the key files.
    pub security_token_file: Option<PathBuf>,
    pub project: ProjectIdSource,
}

/// Where the temporary credentials of the `ecs_agency` mode come from.
#[derive(Debug, Clone, PartialEq)]
pub struct EcsAgencyConfig {
    /// The metadata service, `http://169.254.169.254` on an ECS.
    pub metadata_endpoint: Url,
    pub project: ProjectIdSource,
}

/// The `X-Project-Id` of signed requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectIdSource {
    /// No `X-Project-Id` is sent.
    None,
    /// `project_id`, sent as it is.
    Id(String),
    /// A project name (`project`, or `codearts.region`), looked up once through IAM
    /// `GET {iam_endpoint}/v3/projects?name=`, signed with the same credentials.
    Lookup { name: String, iam_endpoint: Url },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsConfig {
    pub ca_file: Option<PathBuf>,
    pub insecure_skip_verify: bool,
}

#[derive(Debug, Clone)]
pub struct DiscoveryConfig {
    pub interval: Duration,
    pub include: Vec<Regex>,
    pub exclude: Vec<Regex>,
    pub archived: bool,
}

/// Each repository's last push, for how far the statistics trail the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastPushConfig {
    /// A last push fetched less than this ago is not asked again (with [`Refresh::EveryScrape`];
    /// change-driven refresh asks again when the listed update time moves instead).
    pub min_interval: Duration,
    pub source: PushSource,
}

impl Default for LastPushConfig {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_secs(10 * 60),
            source: PushSource::Request,
        }
    }
}

/// Where the time of a repository's last push comes from (`last_push.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushSource {
    /// `GET /v4/repositories/{id}/last-push-event`: one request per repository.
    Request,
    /// The repository list's `last_repository_updated_at`, which change-driven refresh reads
    /// anyway: no request per repository.
    Listing,
}

/// When a repository's statistics status is asked again (`refresh:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// At every scrape (unless `scrape.min_interval` keeps a young answer).
    EveryScrape,
    /// Only when its last answer is not settled, its listed update time moved, it is not in
    /// the list, or its answer is older than the longest staleness (docs/operations.md,
    /// "Change-driven refresh").
    OnChange(ChangeDriven),
}

impl Refresh {
    pub fn change_driven(&self) -> Option<&ChangeDriven> {
        match self {
            Refresh::EveryScrape => None,
            Refresh::OnChange(settings) => Some(settings),
        }
    }
}

/// The settings of change-driven refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeDriven {
    /// A settled, unchanged repository is asked again after at most this long anyway
    /// (`refresh.max_staleness`): a run started without git activity, or a quota that reset,
    /// moves no listed time.
    pub max_staleness: Duration,
    /// How far before the newest time the previous look at the list saw each look reads on
    /// (`refresh.listing_overlap`): equal timestamps, and updates that reach the list late.
    pub listing_overlap: Duration,
    /// How often the whole list is read, the safety net for anything a look missed
    /// (`discovery.interval`, whether discovery is enabled or not).
    pub full_listing_interval: Duration,
}

impl ChangeDriven {
    pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(60 * 60);
    pub const DEFAULT_LISTING_OVERLAP: Duration = Duration::from_secs(60);
}

#[derive(Debug, Clone)]
pub struct ProbeConfig {
    pub allow_unlisted: bool,
}

#[derive(Debug, Clone)]
pub struct ScrapeConfig {
    pub concurrency: NonZeroUsize,
    pub request_timeout: Duration,
    pub timeout_offset: Duration,
    pub max_duration: Duration,
    /// Zero disables the cache.
    pub min_interval: Duration,
    /// Requests per second; `None` = unlimited.
    pub rate_limit: Option<f64>,
    pub retries: u32,
}

impl Default for ScrapeConfig {
    fn default() -> Self {
        Self {
            concurrency: NonZeroUsize::new(16).unwrap_or(NonZeroUsize::MIN),
            request_timeout: Duration::from_secs(5),
            timeout_offset: Duration::from_millis(500),
            max_duration: Duration::from_secs(30),
            min_interval: Duration::ZERO,
            rate_limit: None,
            retries: 1,
        }
    }
}

/// This instance's share of the repositories (`--shard INDEX/COUNT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Self { index: 0, count: 1 }
    }
}

/// Limits of the exporter's own HTTP server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub read_header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            read_header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            max_connections: 512,
        }
    }
}

/// The largest label value we accept for a repository name; longer names are refused rather
/// than silently cut, since the name is how an operator finds the repository.
pub(crate) const MAX_NAME_LEN: usize = 200;

/// Why a shard (`shard:` in the config, `--shard`) is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("{0:?} is not INDEX/COUNT")]
    NotIndexCount(String),
    #[error("{0:?}: INDEX is not a number")]
    IndexNotANumber(String),
    #[error("{0:?}: COUNT is not a number")]
    CountNotANumber(String),
    #[error("count {0} must be in 1..=10000")]
    CountOutOfRange(i64),
    #[error("index {index} must be in 0..{count}")]
    IndexOutOfRange { index: i64, count: i64 },
}

impl Shard {
    /// A shard `index` of `count`.
    pub fn new(index: i64, count: i64) -> Result<Self, ShardError> {
        if !(1..=10_000).contains(&count) {
            return Err(ShardError::CountOutOfRange(count));
        }
        if !(0..count).contains(&index) {
            return Err(ShardError::IndexOutOfRange { index, count });
        }
        Ok(Self {
            index: index as u32,
            count: count as u32,
        })
    }

    /// Parses `INDEX/COUNT` as given to `--shard`.
    pub fn parse(text: &str) -> Result<Self, ShardError> {
        let (index, count) = text
            .split_once('/')
            .ok_or_else(|| ShardError::NotIndexCount(text.to_owned()))?;
        let index = index
            .trim()
            .parse::<i64>()
            .map_err(|_| ShardError::IndexNotANumber(text.to_owned()))?;
        let count = count
            .trim()
            .parse::<i64>()
            .map_err(|_| ShardError::CountNotANumber(text.to_owned()))?;
        Self::new(index, count)
    }
}

impl Config {
    /// One line for `--config.check` and the start-up log: `repositories=` counts the static
    /// list (discovery has not run yet).
    pub fn summary(&self) -> String {
        self.summary_of(&self.repositories.len().to_string())
    }

    /// One line for the landing page, counting the repositories watched now (after the shard
    /// cut): `repositories=44 static=6 discovered=38` with discovery, `repositories=6` without.
    pub fn summary_watching(&self, statics: usize, discovered: usize) -> String {
        let repositories = match self.discovery {
            Some(_) => format!(
                "{} static={statics} discovered={discovered}",
                statics + discovered
            ),
            None => statics.to_string(),
        };
        self.summary_of(&repositories)
    }

    fn summary_of(&self, repositories: &str) -> String {
        let discovery = match &self.discovery {
            Some(d) => format!("every {}", humantime::format_duration(d.interval)),
            None => "off".to_owned(),
        };
        let refresh = match self.refresh.change_driven() {
            None => "every_scrape".to_owned(),
            Some(c) => format!(
                "on_change(max_staleness {})",
                humantime::format_duration(c.max_staleness)
            ),
        };
        let last_push = match (&self.last_push, self.refresh.change_driven()) {
            (Some(l), _) if l.source == PushSource::Listing => "from the list".to_owned(),
            (Some(_), Some(_)) => "when its listed time moves".to_owned(),
            (Some(l), None) => format!("every {}", humantime::format_duration(l.min_interval)),
            (None, _) => "off".to_owned(),
        };
        let rate = match self.scrape.rate_limit {
            Some(rps) => format!("{rps}/s"),
            None => "none".to_owned(),
        };
        format!(
            "endpoint={} auth={} repositories={} discovery={} refresh={} last_push={} \
             concurrency={} request_timeout={} min_interval={} rate_limit={} retries={} \
             shard={}/{}",
            self.codearts.endpoint,
            self.codearts.auth.mode(),
            repositories,
            discovery,
            refresh,
            last_push,
            self.scrape.concurrency,
            humantime::format_duration(self.scrape.request_timeout),
            humantime::format_duration(self.scrape.min_interval),
            rate,
            self.scrape.retries,
            self.shard.index,
            self.shard.count,
        )
    }
}
