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
use super::raw::{self, RawAkSk, RawAuth, RawConfig, RawEcsAgency, RawIam};
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
    let region = codearts.region.clone();
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
    let auth = validate_auth(codearts.auth, region.as_deref())?;
    let tls = TlsConfig {
        ca_file: codearts
            .tls
            .ca_file
            .map(|path| file_path("codearts.tls.ca_file", &path))
            .transpose()?,
        insecure_skip_verify: codearts.tls.insecure_skip_verify.unwrap_or(false),
    };

    let repositories = validate_repositories(raw.repositories)?;
    let full_listing_interval = discovery_interval(raw.discovery.interval)?;
    let discovery = validate_discovery(raw.discovery, full_listing_interval)?;
    if repositories.is_empty() && discovery.is_none() {
        return Err(ConfigError::invalid(
            "repositories",
            "no repositories to watch: list them under repositories or enable discovery",
        ));
    }
    let refresh = validate_refresh(raw.refresh, full_listing_interval)?;
    let last_push = validate_last_push(raw.last_push, refresh)?;
    let scrape = validate_scrape(raw.scrape)?;
    let shard = match raw.shard {
        Some(shard) => Shard::new(shard.index, shard.count)
            .map_err(|err| ConfigError::invalid("shard", err.to_string()))?,
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
        last_push,
        refresh,
        disabled_metrics: raw.metrics.disable,
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

/// The metadata service of an ECS (and of a CCE node), as the SDK's `MetadataAccessor` has it.
const DEFAULT_METADATA_ENDPOINT: &str = "http://169.254.169.254";

fn validate_auth(auth: Option<RawAuth>, region: Option<&str>) -> Result<AuthConfig, ConfigError> {
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
    if auth.ecs_agency.is_some() {
        set.push("codearts.auth.ecs_agency");
    }
    match set.len() {
        0 => {
            return Err(ConfigError::invalid(
                "codearts.auth",
                "missing: set exactly one of token, token_file, iam, aksk, ecs_agency",
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
        return validate_iam(iam, region).map(AuthConfig::Iam);
    }
    if let Some(aksk) = auth.aksk {
        return validate_aksk(aksk, region).map(AuthConfig::AkSk);
    }
    match auth.ecs_agency {
        Some(agency) => validate_ecs_agency(agency, region).map(AuthConfig::EcsAgency),
        None => Err(ConfigError::invalid("codearts.auth", "missing")),
    }
}

/// An IAM endpoint given under `key`, or the default for `region`: the official SDK's IAM
/// region table, else the global endpoint.
fn iam_endpoint(
    key: &str,
    given: Option<String>,
    region: Option<&str>,
) -> Result<Url, ConfigError> {
    match given {
        Some(text) if text.trim().is_empty() => Err(ConfigError::invalid(key, "must not be empty")),
        Some(text) => parse_http_url(key, &text),
        None => parse_http_url(key, region::iam_endpoint_of(region)),
    }
}

fn validate_iam(iam: RawIam, region: Option<&str>) -> Result<IamConfig, ConfigError> {
    let endpoint = iam_endpoint("codearts.auth.iam.endpoint", iam.endpoint, region)?;
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

/// The `X-Project-Id` of a signed mode whose keys live under `section`: `project_id` as given,
/// else `project` (or, without either, `codearts.region`) looked up through IAM. `iam_endpoint`
/// serves only that lookup.
fn project_id_source(
    section: &str,
    project_id: Option<String>,
    project: Option<String>,
    given_iam_endpoint: Option<String>,
    region: Option<&str>,
) -> Result<ProjectIdSource, ConfigError> {
    let id_key = format!("{section}.project_id");
    let name_key = format!("{section}.project");
    let iam_key = format!("{section}.iam_endpoint");
    let name = match (project_id, project) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::invalid(
                &id_key,
                format!("{id_key} and {name_key} are both set; choose one"),
            ))
        }
        (Some(id), None) => {
            let id = id.trim();
            if id.is_empty() {
                return Err(ConfigError::invalid(&id_key, "must not be empty"));
            }
            if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(ConfigError::invalid(
                    &id_key,
                    "must contain only letters, digits and '-'",
                ));
            }
            return Ok(ProjectIdSource::Id(id.to_owned()));
        }
        (None, Some(name)) if name.trim().is_empty() => {
            return Err(ConfigError::invalid(&name_key, "must not be empty"))
        }
        (None, Some(name)) => name.trim().to_owned(),
        (None, None) => match region {
            Some(region) => region.to_owned(),
            None => return Ok(ProjectIdSource::None),
        },
    };
    Ok(ProjectIdSource::Lookup {
        name,
        iam_endpoint: iam_endpoint(&iam_key, given_iam_endpoint, region)?,
    })
}

fn validate_aksk(aksk: RawAkSk, region: Option<&str>) -> Result<AkSkConfig, ConfigError> {
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
    let security_token_file = aksk
        .security_token_file
        .map(|path| file_path("codearts.auth.aksk.security_token_file", &path))
        .transpose()?;
    let project = project_id_source(
        "codearts.auth.aksk",
        aksk.project_id,
        aksk.project,
        aksk.iam_endpoint,
        region,
    )?;
    Ok(AkSkConfig {
        access_key,
        secret_key,
        security_token_file,
        project,
    })
}

fn validate_ecs_agency(
    agency: RawEcsAgency,
    region: Option<&str>,
) -> Result<EcsAgencyConfig, ConfigError> {
    let key = "codearts.auth.ecs_agency.metadata_endpoint";
    let metadata_endpoint = match agency.metadata_endpoint {
        Some(text) if text.trim().is_empty() => {
            return Err(ConfigError::invalid(key, "must not be empty"))
        }
        Some(text) => parse_http_url(key, &text)?,
        None => parse_http_url(key, DEFAULT_METADATA_ENDPOINT)?,
    };
    let project = project_id_source(
        "codearts.auth.ecs_agency",
        agency.project_id,
        agency.project,
        agency.iam_endpoint,
        region,
    )?;
    Ok(EcsAgencyConfig {
        metadata_endpoint,
        project,
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

/// `discovery.interval`: how often the whole repository list is read, for discovery and, with
/// change-driven refresh, as its safety net. Checked even when neither is on, so turning one on
/// later cannot fail.
fn discovery_interval(raw: Option<Duration>) -> Result<Duration, ConfigError> {
    let interval = raw.unwrap_or(Duration::from_secs(30 * 60));
    if interval < Duration::from_secs(1) {
        return Err(ConfigError::invalid(
            "discovery.interval",
            "must be at least 1s",
        ));
    }
    Ok(interval)
}

fn validate_discovery(
    raw: raw::RawDiscovery,
    interval: Duration,
) -> Result<Option<DiscoveryConfig>, ConfigError> {
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

fn validate_refresh(
    raw: raw::RawRefresh,
    full_listing_interval: Duration,
) -> Result<Refresh, ConfigError> {
    // Checked even in the default mode, so switching to on_change later cannot fail.
    let max_staleness = positive(
        "refresh.max_staleness",
        raw.max_staleness,
        ChangeDriven::DEFAULT_MAX_STALENESS,
    )?;
    let listing_overlap = raw
        .listing_overlap
        .unwrap_or(ChangeDriven::DEFAULT_LISTING_OVERLAP);
    if listing_overlap > max_staleness {
        return Err(ConfigError::invalid(
            "refresh.listing_overlap",
            "must not be longer than refresh.max_staleness",
        ));
    }
    match raw.mode.as_deref().map(str::trim) {
        None | Some("every_scrape") => Ok(Refresh::EveryScrape),
        Some("on_change") => Ok(Refresh::OnChange(ChangeDriven {
            max_staleness,
            listing_overlap,
            full_listing_interval,
        })),
        Some(other) => Err(ConfigError::invalid(
            "refresh.mode",
            format!("{other:?} is not a mode; known: every_scrape, on_change"),
        )),
    }
}

fn validate_last_push(
    raw: raw::RawLastPush,
    refresh: Refresh,
) -> Result<Option<LastPushConfig>, ConfigError> {
    // Checked even when off, so turning it on later cannot fail.
    let min_interval = positive(
        "last_push.min_interval",
        raw.min_interval,
        LastPushConfig::default().min_interval,
    )?;
    let source = match raw.source.as_deref().map(str::trim) {
        None | Some("request") => PushSource::Request,
        Some("listing") if refresh.change_driven().is_some() => PushSource::Listing,
        Some("listing") => {
            return Err(ConfigError::invalid(
                "last_push.source",
                "listing needs refresh.mode: on_change (only change-driven refresh reads the list often enough)",
            ))
        }
        Some(other) => {
            return Err(ConfigError::invalid(
                "last_push.source",
                format!("{other:?} is not a source; known: request, listing"),
            ))
        }
    };
    Ok(raw.enabled.unwrap_or(false).then_some(LastPushConfig {
        min_interval,
        source,
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
