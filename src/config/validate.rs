//! From the config as written ([`super::raw`]) to the typed [`Config`]: defaults, ranges,
//! exactly-one-of choices, each error naming its key. Whether the files the config names exist
//! is [`super::paths`]' to check.

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use url::Url;

use super::error::ConfigError;
use super::raw::{self, RawAkSk, RawAuth, RawConfig, RawIam};
use super::region;
use super::secret::Secret;
use super::types::*;
use crate::logging::Level;

pub(super) fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
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
            .map(|path| file_path("codearts.tls.ca_file", &path))
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
    let log = validate_log(raw.log)?;
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
        log,
    })
}

fn validate_log(raw: raw::RawLog) -> Result<LogConfig, ConfigError> {
    let level = match raw.level {
        None => None,
        Some(text) => Some(Level::parse(text.trim()).ok_or_else(|| {
            ConfigError::invalid(
                "log.level",
                format!(
                    "unknown level {text:?}; expected one of {}",
                    Level::NAMES.join(", ")
                ),
            )
        })?),
    };
    Ok(LogConfig { level })
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

/// The path of a path key, already resolved ([`super::paths`]); whether the file exists is
/// checked there too, after validation (and not at all by a syntax-only check).
fn file_path(key: &str, path: &str) -> Result<PathBuf, ConfigError> {
    if path.trim().is_empty() {
        return Err(ConfigError::invalid(key, "empty path"));
    }
    Ok(PathBuf::from(path))
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
        (None, Some(path)) => Ok(SecretSource::File(file_path(file_key, &path)?)),
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
        return Ok(AuthConfig::TokenFile(file_path(
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
        out.push(Repository::new(id, name));
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
