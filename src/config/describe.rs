//! What a validated config resolved to, one line per setting, for `--config.check`: the endpoint,
//! how the credential is obtained and which IAM endpoint and project it uses, the repositories,
//! discovery's filters, last push, the shard. Defaults and values derived from `codearts.region`
//! appear as they will be used, so an operator can check them before starting. No line ever
//! holds a secret: files are named, inline values are not shown.

use regex::Regex;

use super::types::{AuthConfig, Config, ProjectIdSource, ProjectScope, SecretSource, Shard};

impl Config {
    /// The settings in force, one `name: value` line each. `shard_flag` is `--shard` when given,
    /// which wins over the file's `shard`.
    pub fn resolved(&self, shard_flag: Option<Shard>) -> Vec<String> {
        let mut lines = vec![format!("endpoint: {}", self.codearts.endpoint)];
        lines.extend(auth_lines(&self.codearts.auth));
        lines.push(format!("repositories: {} static", self.repositories.len()));
        lines.push(match &self.discovery {
            None => "discovery: off".to_owned(),
            Some(d) => format!(
                "discovery: every {}; include {}; exclude {}; archived repositories {}",
                humantime::format_duration(d.interval),
                patterns(&d.include, "every path"),
                patterns(&d.exclude, "none"),
                if d.archived { "listed too" } else { "left out" },
            ),
        });
        lines.push(match &self.last_push {
            None => "last_push: off".to_owned(),
            Some(l) => format!(
                "last_push: on; a last push fetched less than {} ago is reused",
                humantime::format_duration(l.min_interval)
            ),
        });
        let shard = shard_flag.unwrap_or(self.shard);
        let source = if shard_flag.is_some() {
            " (from --shard)"
        } else {
            ""
        };
        lines.push(if shard.count == 1 {
            format!("shard: 0/1, every repository{source}")
        } else {
            format!(
                "shard: {}/{}, the repositories whose id hashes to {} of {}{source}",
                shard.index, shard.count, shard.index, shard.count
            )
        });
        lines
    }
}

/// How the credential is obtained, and the IAM endpoint and project it uses.
fn auth_lines(auth: &AuthConfig) -> Vec<String> {
    match auth {
        AuthConfig::Token(_) => vec![
            "auth: token, written in the config file".to_owned(),
            "iam endpoint: not used".to_owned(),
        ],
        AuthConfig::TokenFile(path) => vec![
            format!(
                "auth: token_file {}, read again when it changes",
                path.display()
            ),
            "iam endpoint: not used".to_owned(),
        ],
        AuthConfig::Iam(iam) => vec![
            format!(
                "auth: iam, user {} of account {}, password {}",
                iam.user,
                iam.domain,
                secret(&iam.password)
            ),
            format!("iam endpoint: {}", iam.endpoint),
            match &iam.project {
                ProjectScope::Name(name) => format!("project: tokens scoped to project {name}"),
                ProjectScope::Id(id) => format!("project: tokens scoped to project id {id}"),
            },
        ],
        AuthConfig::AkSk(aksk) => {
            let mut keys = format!(
                "auth: aksk, access key {}, secret key {}",
                secret(&aksk.access_key),
                secret(&aksk.secret_key)
            );
            if let Some(path) = &aksk.security_token_file {
                keys.push_str(&format!(", security token from {}", path.display()));
            }
            let mut lines = vec![keys];
            lines.extend(project_lines(&aksk.project));
            lines
        }
        AuthConfig::EcsAgency(agency) => {
            let mut lines = vec![format!(
                "auth: ecs_agency, temporary keys of the agency from the metadata service {}",
                agency.metadata_endpoint
            )];
            lines.extend(project_lines(&agency.project));
            lines
        }
    }
}

/// The `X-Project-Id` of signed requests, and the IAM endpoint that finds it.
fn project_lines(project: &ProjectIdSource) -> Vec<String> {
    match project {
        ProjectIdSource::None => vec![
            "iam endpoint: not used".to_owned(),
            "project id: none, no X-Project-Id is sent".to_owned(),
        ],
        ProjectIdSource::Id(id) => vec![
            "iam endpoint: not used".to_owned(),
            format!("project id: {id}, sent as X-Project-Id"),
        ],
        ProjectIdSource::Lookup { name, iam_endpoint } => vec![
            format!("iam endpoint: {iam_endpoint}"),
            format!(
                "project id: looked up once by the project name {name} (GET /v3/projects?name={name}, signed), sent as X-Project-Id"
            ),
        ],
    }
}

/// Where a secret comes from, never the secret.
fn secret(source: &SecretSource) -> String {
    match source {
        SecretSource::File(path) => format!("from {}", path.display()),
        SecretSource::Inline(_) => "written in the config file".to_owned(),
    }
}

/// `'a', 'b'`, or `none` when there are none.
fn patterns(list: &[Regex], none: &str) -> String {
    if list.is_empty() {
        return none.to_owned();
    }
    list.iter()
        .map(|r| format!("'{}'", r.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}
