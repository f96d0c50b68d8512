//! The configuration: loading the YAML file, `${VAR}` expansion, and validation into types in
//! which invalid states cannot be represented.
//!
//! Every error names the key it is about (`scrape.concurrency: must be at least 1`), so an
//! operator can fix the file without reading code. This module reads the files the config
//! points at only to check that they exist; reading secrets is the job of [`crate::auth`].

mod expand;
mod lenient;
mod raw;
pub mod region;
mod secret;

use std::collections::HashSet;
use std::fmt;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use url::Url;

pub use secret::Secret;

use raw::{RawAkSk, RawAuth, RawConfig, RawIam};

/// A CodeArts Repo repository id: 1..=2147483647 (reference §1.1).
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
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub codearts: CodeArtsConfig,
    pub repositories: Vec<Repository>,
    pub discovery: Option<DiscoveryConfig>,
    pub probe: ProbeConfig,
    pub scrape: ScrapeConfig,
    pub shard: Shard,
    pub server: ServerConfig,
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
    /// Requests signed with an access key / secret key pair.
    AkSk(AkSkConfig),
}

impl AuthConfig {
    /// The mode's name as written in the config, for logs and the landing page.
    pub fn mode(&self) -> &'static str {
        match self {
            AuthConfig::Token(_) => "token",
            AuthConfig::TokenFile(_) => "token_file",
            AuthConfig::Iam(_) => "iam",
            AuthConfig::AkSk(_) => "aksk",
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
    pub project_id: Option<String>,
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

/// Why a config was refused. The message always starts with the key it is about.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read config file: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Syntax(String),
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

impl ConfigError {
    fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The largest label value we accept for a repository name; longer names are refused rather
/// than silently cut, since the name is how an operator finds the repository.
pub const MAX_NAME_LEN: usize = 200;

impl Config {
    /// Reads, expands and validates the file at `path` with the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &|name| std::env::var(name).ok())
    }

    /// Parses and validates config text, looking `${VAR}` up with `env`.
    pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)
            .map_err(|err| ConfigError::Syntax(format!("config: invalid YAML: {err}")))?;
        if value.is_null() {
            value = serde_yaml_ng::Value::Mapping(Default::default());
        }
        expand::expand_env(&mut value, env)?;
        let raw: RawConfig = serde_path_to_error::deserialize(value).map_err(|err| {
            let key = err.path().to_string();
            let key = if key == "." { "config".to_owned() } else { key };
            ConfigError::invalid(key, hide_values(&err.into_inner().to_string()))
        })?;
        validate(raw)
    }

    /// One line for `--config.check` and the start-up log.
    pub fn summary(&self) -> String {
        let discovery = match &self.discovery {
            Some(d) => format!("every {}", humantime::format_duration(d.interval)),
            None => "off".to_owned(),
        };
        let rate = match self.scrape.rate_limit {
            Some(rps) => format!("{rps}/s"),
            None => "none".to_owned(),
        };
        format!(
            "endpoint={} auth={} repositories={} discovery={} concurrency={} request_timeout={} \
             min_interval={} rate_limit={} retries={} shard={}/{}",
            self.codearts.endpoint,
            self.codearts.auth.mode(),
            self.repositories.len(),
            discovery,
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

/// serde quotes the offending value (`invalid type: string "…"`); after `${VAR}` expansion that
/// value could be a secret, so the message keeps the key and the expectation, not the value.
fn hide_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find("string \"") {
        out.push_str(&rest[..start]);
        out.push_str("a string");
        let after = &rest[start + "string \"".len()..];
        rest = match after.find('"') {
            Some(end) => &after[end + 1..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
    let codearts = raw.codearts.ok_or_else(|| {
        ConfigError::invalid(
            "codearts",
            "missing: the endpoint and auth of CodeArts Repo are required",
        )
    })?;
    let endpoint = match (codearts.endpoint, codearts.region) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::invalid(
                "codearts.endpoint",
                "codearts.endpoint and codearts.region are both set; choose one",
            ))
        }
        (Some(endpoint), None) => parse_http_url("codearts.endpoint", &endpoint)?,
        (None, Some(region)) => {
            let endpoint = region::endpoint_of(&region).ok_or_else(|| {
                ConfigError::invalid(
                    "codearts.region",
                    format!(
                        "unknown region {region:?}; known: {}; or set codearts.endpoint",
                        region::known_regions()
                    ),
                )
            })?;
            parse_http_url("codearts.region", endpoint)?
        }
        (None, None) => {
            return Err(ConfigError::invalid(
                "codearts.endpoint",
                "missing: set codearts.endpoint or codearts.region",
            ))
        }
    };
    let auth = validate_auth(codearts.auth)?;
    let tls = TlsConfig {
        ca_file: codearts
            .tls
            .ca_file
            .map(|path| existing_file("codearts.tls.ca_file", &path))
            .transpose()?,
        insecure_skip_verify: codearts.tls.insecure_skip_verify.unwrap_or(false),
    };

    let repositories = validate_repositories(raw.repositories)?;
    let discovery = validate_discovery(raw.discovery)?;
    if repositories.is_empty() && discovery.is_none() {
        return Err(ConfigError::invalid(
            "repositories",
            "no repositories to watch: list them under repositories or enable discovery",
        ));
    }
    let scrape = validate_scrape(raw.scrape)?;
    let shard = match raw.shard {
        Some(shard) => Shard::new(shard.index, shard.count)
            .map_err(|message| ConfigError::invalid("shard", message))?,
        None => Shard::default(),
    };
    let server = validate_server(raw.server)?;
    Ok(Config {
        codearts: CodeArtsConfig {
            endpoint,
            auth,
            tls,
        },
        repositories,
        discovery,
        probe: ProbeConfig {
            allow_unlisted: raw.probe.allow_unlisted.unwrap_or(true),
        },
        scrape,
        shard,
        server,
    })
}

impl Shard {
    /// A shard `index` of `count`; the message says what is wrong.
    pub fn new(index: i64, count: i64) -> Result<Self, String> {
        if !(1..=10_000).contains(&count) {
            return Err(format!("count {count} must be in 1..=10000"));
        }
        if !(0..count).contains(&index) {
            return Err(format!("index {index} must be in 0..{count}"));
        }
        Ok(Self {
            index: index as u32,
            count: count as u32,
        })
    }

    /// Parses `INDEX/COUNT` as given to `--shard`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (index, count) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not INDEX/COUNT"))?;
        let index = index
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("{text:?}: INDEX is not a number"))?;
        let count = count
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("{text:?}: COUNT is not a number"))?;
        Self::new(index, count)
    }
}

fn parse_http_url(key: &str, text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text.trim())
        .map_err(|err| ConfigError::invalid(key, format!("{text:?} is not a URL: {err}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::invalid(
            key,
            format!("{text:?} is not an http(s) URL with a host"),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::invalid(
            key,
            format!("{text:?} must not have a query or fragment"),
        ));
    }
    Ok(url)
}

fn existing_file(key: &str, path: &str) -> Result<PathBuf, ConfigError> {
    if path.trim().is_empty() {
        return Err(ConfigError::invalid(key, "empty path"));
    }
    let path = PathBuf::from(path);
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_file() => Ok(path),
        Ok(_) => Err(ConfigError::invalid(
            key,
            format!("{} is not a regular file", path.display()),
        )),
        Err(err) => Err(ConfigError::invalid(
            key,
            format!("cannot read {}: {err}", path.display()),
        )),
    }
}

fn non_empty(key: &str, value: Option<String>) -> Result<String, ConfigError> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        Some(_) => Err(ConfigError::invalid(key, "must not be empty")),
        None => Err(ConfigError::invalid(key, "missing")),
    }
}

/// `inline` (through `${VAR}`) or `file`, exactly one.
fn secret_source(
    inline_key: &str,
    inline: Option<String>,
    file_key: &str,
    file: Option<String>,
) -> Result<SecretSource, ConfigError> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(ConfigError::invalid(
            inline_key,
            format!("{inline_key} and {file_key} are both set; choose one"),
        )),
        (Some(value), None) if value.is_empty() => {
            Err(ConfigError::invalid(inline_key, "must not be empty"))
        }
        (Some(value), None) => Ok(SecretSource::Inline(Secret::new(value))),
        (None, Some(path)) => Ok(SecretSource::File(existing_file(file_key, &path)?)),
        (None, None) => Err(ConfigError::invalid(
            file_key,
            format!("missing: set {file_key} (or {inline_key} through ${{VAR}})"),
        )),
    }
}

fn validate_auth(auth: Option<RawAuth>) -> Result<AuthConfig, ConfigError> {
    let auth = auth.unwrap_or_default();
    let mut set = Vec::new();
    if auth.token.is_some() {
        set.push("codearts.auth.token");
    }
    if auth.token_file.is_some() {
        set.push("codearts.auth.token_file");
    }
    if auth.iam.is_some() {
        set.push("codearts.auth.iam");
    }
    if auth.aksk.is_some() {
        set.push("codearts.auth.aksk");
    }
    match set.len() {
        0 => {
            return Err(ConfigError::invalid(
                "codearts.auth",
                "missing: set exactly one of token, token_file, iam, aksk",
            ))
        }
        1 => {}
        _ => {
            return Err(ConfigError::invalid(
                "codearts.auth",
                format!("{} are all set; choose exactly one", set.join(" and ")),
            ))
        }
    }
    if let Some(token) = auth.token {
        if token.trim().is_empty() {
            return Err(ConfigError::invalid(
                "codearts.auth.token",
                "must not be empty",
            ));
        }
        return Ok(AuthConfig::Token(Secret::new(token.trim())));
    }
    if let Some(path) = auth.token_file {
        return Ok(AuthConfig::TokenFile(existing_file(
            "codearts.auth.token_file",
            &path,
        )?));
    }
    if let Some(iam) = auth.iam {
        return validate_iam(iam).map(AuthConfig::Iam);
    }
    match auth.aksk {
        Some(aksk) => validate_aksk(aksk).map(AuthConfig::AkSk),
        None => Err(ConfigError::invalid("codearts.auth", "missing")),
    }
}

fn validate_iam(iam: RawIam) -> Result<IamConfig, ConfigError> {
    let endpoint = parse_http_url(
        "codearts.auth.iam.endpoint",
        &non_empty("codearts.auth.iam.endpoint", iam.endpoint)?,
    )?;
    let domain = non_empty("codearts.auth.iam.domain", iam.domain)?;
    let user = non_empty("codearts.auth.iam.user", iam.user)?;
    let password = secret_source(
        "codearts.auth.iam.password",
        iam.password,
        "codearts.auth.iam.password_file",
        iam.password_file,
    )?;
    let project = non_empty("codearts.auth.iam.project", iam.project)?;
    let project = match project.strip_prefix("id:") {
        Some(id) if !id.trim().is_empty() => ProjectScope::Id(id.trim().to_owned()),
        Some(_) => {
            return Err(ConfigError::invalid(
                "codearts.auth.iam.project",
                "\"id:\" must be followed by a project id",
            ))
        }
        None => ProjectScope::Name(project),
    };
    Ok(IamConfig {
        endpoint,
        domain,
        user,
        password,
        project,
    })
}

fn validate_aksk(aksk: RawAkSk) -> Result<AkSkConfig, ConfigError> {
    let access_key = secret_source(
        "codearts.auth.aksk.access_key",
        aksk.access_key,
        "codearts.auth.aksk.access_key_file",
        aksk.access_key_file,
    )?;
    let secret_key = secret_source(
        "codearts.auth.aksk.secret_key",
        aksk.secret_key,
        "codearts.auth.aksk.secret_key_file",
        aksk.secret_key_file,
    )?;
    let project_id = match aksk.project_id {
        Some(id) if id.trim().is_empty() => {
            return Err(ConfigError::invalid(
                "codearts.auth.aksk.project_id",
                "must not be empty",
            ))
        }
        Some(id)
            if !id
                .trim()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-') =>
        {
            return Err(ConfigError::invalid(
                "codearts.auth.aksk.project_id",
                "must contain only letters, digits and '-'",
            ))
        }
        other => other.map(|id| id.trim().to_owned()),
    };
    Ok(AkSkConfig {
        access_key,
        secret_key,
        project_id,
    })
}

fn validate_repositories(raw: Vec<raw::RawRepository>) -> Result<Vec<Repository>, ConfigError> {
    let mut seen = HashSet::with_capacity(raw.len());
    let mut out = Vec::with_capacity(raw.len());
    for (index, repo) in raw.into_iter().enumerate() {
        let id = RepositoryId::new(repo.id).ok_or_else(|| {
            ConfigError::invalid(
                format!("repositories[{index}].id"),
                format!("{} is out of range 1..{}", repo.id, RepositoryId::MAX),
            )
        })?;
        if !seen.insert(id) {
            return Err(ConfigError::invalid(
                format!("repositories[{index}].id"),
                format!("{id} is listed more than once"),
            ));
        }
        let name = match repo.name {
            Some(name) if name.trim().is_empty() => {
                return Err(ConfigError::invalid(
                    format!("repositories[{index}].name"),
                    "must not be empty (leave it out instead)",
                ))
            }
            Some(name) if name.len() > MAX_NAME_LEN => {
                return Err(ConfigError::invalid(
                    format!("repositories[{index}].name"),
                    format!("is longer than {MAX_NAME_LEN} bytes"),
                ))
            }
            other => other.map(|name| Arc::from(name.trim())),
        };
        out.push(Repository { id, name });
    }
    Ok(out)
}

fn validate_discovery(raw: raw::RawDiscovery) -> Result<Option<DiscoveryConfig>, ConfigError> {
    let compile = |key: &str, patterns: Vec<String>| -> Result<Vec<Regex>, ConfigError> {
        patterns
            .iter()
            .enumerate()
            .map(|(index, pattern)| {
                Regex::new(pattern).map_err(|err| {
                    ConfigError::invalid(format!("discovery.{key}[{index}]"), err.to_string())
                })
            })
            .collect()
    };
    // Regexes are checked even when discovery is off, so turning it on later cannot fail.
    let include = compile("include", raw.include)?;
    let exclude = compile("exclude", raw.exclude)?;
    let interval = raw.interval.unwrap_or(Duration::from_secs(30 * 60));
    if interval < Duration::from_secs(1) {
        return Err(ConfigError::invalid(
            "discovery.interval",
            "must be at least 1s",
        ));
    }
    if !raw.enabled.unwrap_or(false) {
        return Ok(None);
    }
    Ok(Some(DiscoveryConfig {
        interval,
        include,
        exclude,
        archived: raw.archived.unwrap_or(false),
    }))
}

/// A duration that must not be zero, or `default` when the key is absent.
fn positive(
    key: &str,
    value: Option<Duration>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match value {
        Some(d) if d.is_zero() => Err(ConfigError::invalid(key, "must be greater than 0")),
        Some(d) => Ok(d),
        None => Ok(default),
    }
}

fn validate_scrape(raw: raw::RawScrape) -> Result<ScrapeConfig, ConfigError> {
    let defaults = ScrapeConfig::default();
    let concurrency = match raw.concurrency {
        None => defaults.concurrency,
        Some(n) if (1..=10_000).contains(&n) => {
            NonZeroUsize::new(n as usize).unwrap_or(NonZeroUsize::MIN)
        }
        Some(n) => {
            return Err(ConfigError::invalid(
                "scrape.concurrency",
                format!("{n} must be in 1..=10000"),
            ))
        }
    };
    let request_timeout = positive(
        "scrape.request_timeout",
        raw.request_timeout,
        defaults.request_timeout,
    )?;
    let max_duration = positive(
        "scrape.max_duration",
        raw.max_duration,
        defaults.max_duration,
    )?;
    let timeout_offset = raw.timeout_offset.unwrap_or(defaults.timeout_offset);
    if timeout_offset >= max_duration {
        return Err(ConfigError::invalid(
            "scrape.timeout_offset",
            "must be smaller than scrape.max_duration",
        ));
    }
    let rate_limit = match raw.rate_limit {
        None => None,
        Some(0.0) => None,
        Some(rps) if rps.is_finite() && rps >= 0.001 => Some(rps),
        Some(rps) => {
            return Err(ConfigError::invalid(
                "scrape.rate_limit",
                format!("{rps} must be 0 (no limit) or at least 0.001 requests per second"),
            ))
        }
    };
    let retries = match raw.retries {
        None => defaults.retries,
        Some(n) if (0..=10).contains(&n) => n as u32,
        Some(n) => {
            return Err(ConfigError::invalid(
                "scrape.retries",
                format!("{n} must be in 0..=10"),
            ))
        }
    };
    Ok(ScrapeConfig {
        concurrency,
        request_timeout,
        timeout_offset,
        max_duration,
        min_interval: raw.min_interval.unwrap_or(Duration::ZERO),
        rate_limit,
        retries,
    })
}

fn validate_server(raw: raw::RawServer) -> Result<ServerConfig, ConfigError> {
    let defaults = ServerConfig::default();
    let max_connections = match raw.max_connections {
        None => defaults.max_connections,
        Some(n) if (1..=100_000).contains(&n) => n as usize,
        Some(n) => {
            return Err(ConfigError::invalid(
                "server.max_connections",
                format!("{n} must be in 1..=100000"),
            ))
        }
    };
    Ok(ServerConfig {
        read_header_timeout: positive(
            "server.read_header_timeout",
            raw.read_header_timeout,
            defaults.read_header_timeout,
        )?,
        idle_timeout: positive(
            "server.idle_timeout",
            raw.idle_timeout,
            defaults.idle_timeout,
        )?,
        max_connections,
    })
}
