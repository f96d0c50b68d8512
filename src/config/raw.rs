//! The config file exactly as written: serde types with every key optional, unknown keys
//! rejected. [`super::validate`] turns this into the typed [`super::Config`].

use std::time::Duration;

use serde::Deserialize;

use super::lenient;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub codearts: Option<RawCodeArts>,
    #[serde(default)]
    pub repositories: Vec<RawRepository>,
    #[serde(default)]
    pub discovery: RawDiscovery,
    #[serde(default)]
    pub last_push: RawLastPush,
    #[serde(default)]
    pub refresh: RawRefresh,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub probe: RawProbe,
    #[serde(default)]
    pub scrape: RawScrape,
    #[serde(default)]
    pub shard: Option<RawShard>,
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub log: RawLog,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLog {
    pub level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCodeArts {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub auth: Option<RawAuth>,
    #[serde(default)]
    pub tls: RawTls,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuth {
    #[serde(default, deserialize_with = "lenient::option_text")]
    pub token: Option<String>,
    pub token_file: Option<String>,
    pub iam: Option<RawIam>,
    pub aksk: Option<RawAkSk>,
    /// `ecs_agency:` with nothing under it selects the mode with every default.
    #[serde(default, deserialize_with = "null_is_default")]
    pub ecs_agency: Option<RawEcsAgency>,
}

/// A key that is present counts as set even when its value is empty (YAML null): `Some` of the
/// default then. An absent key stays `None` (through `#[serde(default)]`).
fn null_is_default<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Some(
        Option::<T>::deserialize(deserializer)?.unwrap_or_default(),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIam {
    pub endpoint: Option<String>,
    pub domain: Option<String>,
    pub user: Option<String>,
    #[serde(default, deserialize_with = "lenient::option_text")]
    pub password: Option<String>,
    pub password_file: Option<String>,
    pub project: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAkSk {
    #[serde(default, deserialize_with = "lenient::option_text")]
    pub access_key: Option<String>,
    pub access_key_file: Option<String>,
    #[serde(default, deserialize_with = "lenient::option_text")]
    pub secret_key: Option<String>,
    pub secret_key_file: Option<String>,
    pub security_token_file: Option<String>,
    pub project_id: Option<String>,
    pub project: Option<String>,
    pub iam_endpoint: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEcsAgency {
    pub metadata_endpoint: Option<String>,
    pub project_id: Option<String>,
    pub project: Option<String>,
    pub iam_endpoint: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTls {
    pub ca_file: Option<String>,
    #[serde(default, deserialize_with = "lenient::option_bool")]
    pub insecure_skip_verify: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRepository {
    #[serde(deserialize_with = "lenient::number")]
    pub id: i64,
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDiscovery {
    #[serde(default, deserialize_with = "lenient::option_bool")]
    pub enabled: Option<bool>,
    #[serde(default, with = "humantime_serde")]
    pub interval: Option<Duration>,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default, deserialize_with = "lenient::option_bool")]
    pub archived: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetrics {
    #[serde(default)]
    pub disable: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLastPush {
    #[serde(default, deserialize_with = "lenient::option_bool")]
    pub enabled: Option<bool>,
    #[serde(default, with = "humantime_serde")]
    pub min_interval: Option<Duration>,
    pub source: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRefresh {
    pub mode: Option<String>,
    #[serde(default, with = "humantime_serde")]
    pub max_staleness: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub listing_overlap: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProbe {
    #[serde(default, deserialize_with = "lenient::option_bool")]
    pub allow_unlisted: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScrape {
    #[serde(default, deserialize_with = "lenient::option_number")]
    pub concurrency: Option<i64>,
    #[serde(default, with = "humantime_serde")]
    pub request_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub timeout_offset: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub max_duration: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub min_interval: Option<Duration>,
    #[serde(default, deserialize_with = "lenient::option_number")]
    pub rate_limit: Option<f64>,
    #[serde(default, deserialize_with = "lenient::option_number")]
    pub retries: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawShard {
    #[serde(deserialize_with = "lenient::number")]
    pub index: i64,
    #[serde(deserialize_with = "lenient::number")]
    pub count: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    #[serde(default, with = "humantime_serde")]
    pub read_header_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub idle_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "lenient::option_number")]
    pub max_connections: Option<i64>,
}
