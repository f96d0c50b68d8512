//! What a validated config resolved to, one line per setting, for `--config.check`: the endpoint,
//! how the credential is obtained and which IAM endpoint and project it uses, the repositories,
//! discovery's filters, when a repository is asked again, where its last push comes from, the
//! shard. Defaults and values derived from `codearts.region`
//! appear as they will be used, so an operator can check them before starting. No line ever
//! holds a secret: files are named, inline values are not shown.

use regex::Regex;

use std::time::Duration;

use super::types::{
    AuthConfig, Config, LastPushConfig, ProjectIdSource, ProjectScope, PushSource, Refresh,
    SecretSource, Shard,
};

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
                duration(d.interval),
                patterns(&d.include, "every path"),
                patterns(&d.exclude, "none"),
                if d.archived { "listed too" } else { "left out" },
            ),
        });
        lines.push(refresh_line(&self.refresh, self.scrape.min_interval));
        lines.push(last_push_line(self.last_push.as_ref(), &self.refresh));
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

/// When a repository's status is asked again; `min_interval` is `scrape.min_interval`.
fn refresh_line(refresh: &Refresh, min_interval: Duration) -> String {
    match refresh {
        Refresh::EveryScrape if min_interval.is_zero() => {
            "refresh: every_scrape, every repository asked at each scrape".to_owned()
        }
        Refresh::EveryScrape => format!(
            "refresh: every_scrape, every repository asked at each scrape unless its answer is younger than {} (scrape.min_interval)",
            duration(min_interval)
        ),
        Refresh::OnChange(c) => format!(
            "refresh: on_change; a repository is asked again when the list shows it changed, or after at most {}; \
             each look at the list reads back {} before the newest time it saw; the whole list is read every {}",
            duration(c.max_staleness),
            duration(c.listing_overlap),
            duration(c.full_listing_interval)
        ),
    }
}

/// Where the time of a repository's last push comes from, and how often it is asked.
fn last_push_line(last_push: Option<&LastPushConfig>, refresh: &Refresh) -> String {
    let Some(last_push) = last_push else {
        return "last_push: off".to_owned();
    };
    let min_interval = duration(last_push.min_interval);
    match (last_push.source, refresh) {
        (PushSource::Listing, _) => {
            "last_push: on, from the repository list's last_repository_updated_at, no request per repository"
                .to_owned()
        }
        (PushSource::Request, Refresh::EveryScrape) => format!(
            "last_push: on, from a last-push-event request per repository; one fetched less than {min_interval} ago is reused"
        ),
        (PushSource::Request, Refresh::OnChange(_)) => format!(
            "last_push: on, from a last-push-event request per repository, asked again when the list's update time moves \
             (every {min_interval} for a repository the list has no time for)"
        ),
    }
}

fn duration(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(d)
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
