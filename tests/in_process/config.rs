//! Every way a config can be wrong is refused with a message that starts with the key.

use crate::helpers::*;
use codearts_repo_exporter::{AuthConfig, Config, ProjectScope, SecretSource};

const HEAD: &str = "codearts:\n  endpoint: https://codehub-ext.cn-north-4.myhuaweicloud.com\n  auth:\n    token: t\n";

fn with_head(rest: &str) -> String {
    format!("{HEAD}{rest}")
}

#[test]
fn accepts_a_config_with_every_section() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "x").unwrap();
    let yaml = format!(
        "codearts:\n  endpoint: https://codehub-ext.cn-north-4.myhuaweicloud.com\n  auth:\n    token_file: {}\n  tls:\n    insecure_skip_verify: false\n\
repositories:\n  - id: 2111915566\n    name: payments/api\n  - id: 2111915567\n\
discovery:\n  enabled: false\n  interval: 30m\n  include: ['^payments/']\n  exclude: ['-archive$']\n  archived: false\n\
probe:\n  allow_unlisted: true\n\
scrape:\n  concurrency: 16\n  request_timeout: 5s\n  timeout_offset: 500ms\n  max_duration: 30s\n  min_interval: 0s\n  rate_limit: 0\n  retries: 1\n",
        token.display()
    );
    let config = parse(&yaml).unwrap();
    assert_eq!(config.repositories.len(), 2);
    assert_eq!(config.repositories[0].name.as_deref(), Some("payments/api"));
    assert_eq!(config.repositories[1].name, None);
    assert_eq!(config.scrape.concurrency.get(), 16);
    assert_eq!(config.scrape.rate_limit, None);
    assert!(matches!(config.codearts.auth, AuthConfig::TokenFile(_)));
}

#[test]
fn region_selects_the_endpoint_from_the_table() {
    let config =
        parse("codearts:\n  region: tr-west-1\n  auth:\n    token: t\nrepositories:\n  - id: 1\n")
            .unwrap();
    assert_eq!(
        config.codearts.endpoint.as_str(),
        "https://codeartsrepo-ext.tr-west-1.myhuaweicloud.com/"
    );
}

#[test]
fn expands_environment_variables_in_strings_and_numbers() {
    let config = parse(
        "codearts:\n  endpoint: https://x.example\n  auth:\n    token: ${CODEARTS_TOKEN}\nrepositories:\n  - id: 1\nscrape:\n  concurrency: ${CONCURRENCY}\n",
    )
    .unwrap();
    match &config.codearts.auth {
        AuthConfig::Token(token) => assert_eq!(token.expose(), "tok-from-env"),
        other => panic!("{other:?}"),
    }
    assert_eq!(config.scrape.concurrency.get(), 8);
}

#[test]
fn rejects_an_unset_environment_variable_naming_the_key() {
    assert_refused(
        "codearts:\n  endpoint: https://x.example\n  auth:\n    token: ${NOT_SET}\nrepositories:\n  - id: 1\n",
        "codearts.auth.token",
        "NOT_SET is not set",
    );
}

#[test]
fn rejects_repository_id_zero() {
    assert_refused(
        &with_head("repositories:\n  - id: 0\n"),
        "repositories[0].id",
        "out of range 1..2147483647",
    );
}

#[test]
fn rejects_repository_id_above_the_api_range() {
    assert_refused(
        &with_head("repositories:\n  - id: 1\n  - id: 2147483648\n"),
        "repositories[1].id",
        "out of range",
    );
}

#[test]
fn rejects_negative_repository_id() {
    assert_refused(
        &with_head("repositories:\n  - id: -5\n"),
        "repositories[0].id",
        "out of range",
    );
}

#[test]
fn rejects_duplicate_ids() {
    assert_refused(
        &with_head("repositories:\n  - id: 7\n  - id: 8\n  - id: 7\n"),
        "repositories[2].id",
        "more than once",
    );
}

#[test]
fn rejects_concurrency_zero() {
    assert_refused(
        &with_head("repositories:\n  - id: 1\nscrape:\n  concurrency: 0\n"),
        "scrape.concurrency",
        "must be in 1..=10000",
    );
}

#[test]
fn rejects_a_request_timeout_of_zero() {
    assert_refused(
        &with_head("repositories:\n  - id: 1\nscrape:\n  request_timeout: 0s\n"),
        "scrape.request_timeout",
        "greater than 0",
    );
}

#[test]
fn rejects_a_max_duration_of_zero() {
    assert_refused(
        &with_head("repositories:\n  - id: 1\nscrape:\n  max_duration: 0ms\n"),
        "scrape.max_duration",
        "greater than 0",
    );
}

#[test]
fn rejects_a_malformed_duration() {
    assert_refused(
        &with_head("repositories:\n  - id: 1\nscrape:\n  request_timeout: five seconds\n"),
        "scrape.request_timeout",
        "",
    );
}

#[test]
fn rejects_an_endpoint_that_is_not_http() {
    assert_refused(
        "codearts:\n  endpoint: ftp://x.example\n  auth:\n    token: t\nrepositories:\n  - id: 1\n",
        "codearts.endpoint",
        "not an http(s) URL",
    );
    assert_refused(
        "codearts:\n  endpoint: not a url\n  auth:\n    token: t\nrepositories:\n  - id: 1\n",
        "codearts.endpoint",
        "not a URL",
    );
}

#[test]
fn rejects_an_unknown_region() {
    assert_refused(
        "codearts:\n  region: mars-1\n  auth:\n    token: t\nrepositories:\n  - id: 1\n",
        "codearts.region",
        "unknown region",
    );
}

#[test]
fn rejects_a_missing_token_file() {
    assert_refused(
        "codearts:\n  endpoint: https://x.example\n  auth:\n    token_file: /nonexistent/token\nrepositories:\n  - id: 1\n",
        "codearts.auth.token_file",
        "/nonexistent/token",
    );
}

#[test]
fn rejects_unknown_keys() {
    assert_refused(
        &with_head("repositories:\n  - id: 1\nscrape:\n  concurency: 4\n"),
        "scrape.concurency",
        "unknown field",
    );
    assert_refused(
        &with_head("repositories:\n  - id: 1\nscrapes: {}\n"),
        "scrapes",
        "unknown field",
    );
}

#[test]
fn rejects_a_config_without_repositories_or_discovery() {
    assert_refused(HEAD, "repositories", "no repositories");
}

#[test]
fn rejects_missing_auth() {
    assert_refused(
        "codearts:\n  endpoint: https://x.example\nrepositories:\n  - id: 1\n",
        "codearts.auth",
        "exactly one",
    );
}

#[test]
fn rejects_two_auth_methods_naming_both() {
    let err = parse(
        "codearts:\n  endpoint: https://x.example\n  auth:\n    token: t\n    aksk:\n      access_key: a\n      secret_key: s\nrepositories:\n  - id: 1\n",
    )
    .unwrap_err();
    assert!(err.starts_with("codearts.auth:"), "{err}");
    assert!(
        err.contains("codearts.auth.token") && err.contains("codearts.auth.aksk"),
        "{err}"
    );
}

#[test]
fn rejects_iam_without_user() {
    assert_refused(
        "codearts:\n  endpoint: https://x.example\n  auth:\n    iam:\n      endpoint: https://iam.example\n      domain: d\n      password: p\n      project: cn-north-4\nrepositories:\n  - id: 1\n",
        "codearts.auth.iam.user",
        "missing",
    );
}

#[test]
fn rejects_iam_without_a_password() {
    assert_refused(
        "codearts:\n  endpoint: https://x.example\n  auth:\n    iam:\n      endpoint: https://iam.example\n      domain: d\n      user: u\n      project: cn-north-4\nrepositories:\n  - id: 1\n",
        "codearts.auth.iam.password_file",
        "missing",
    );
}

#[test]
fn accepts_iam_with_a_project_id() {
    let config = parse(
        "codearts:\n  endpoint: https://x.example\n  auth:\n    iam:\n      endpoint: https://iam.example\n      domain: d\n      user: u\n      password: p\n      project: \"id:abc123\"\nrepositories:\n  - id: 1\n",
    )
    .unwrap();
    match config.codearts.auth {
        AuthConfig::Iam(iam) => {
            assert_eq!(iam.project, ProjectScope::Id("abc123".into()));
            assert!(matches!(iam.password, SecretSource::Inline(_)));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rejects_aksk_with_a_missing_key_file() {
    assert_refused(
        "codearts:\n  endpoint: https://x.example\n  auth:\n    aksk:\n      access_key: a\n      secret_key_file: /nonexistent/sk\nrepositories:\n  - id: 1\n",
        "codearts.auth.aksk.secret_key_file",
        "/nonexistent/sk",
    );
}

#[test]
fn rejects_an_invalid_discovery_regex() {
    assert_refused(
        &with_head("discovery:\n  enabled: true\n  include: ['ok', '(unclosed']\n"),
        "discovery.include[1]",
        "",
    );
}

#[test]
fn rejects_a_negative_rate_limit() {
    assert_refused(
        &with_head("repositories:\n  - id: 1\nscrape:\n  rate_limit: -1\n"),
        "scrape.rate_limit",
        "",
    );
}

#[test]
fn accepts_a_rate_limit_below_one_per_second() {
    let config = parse(&with_head(
        "repositories:\n  - id: 1\nscrape:\n  rate_limit: 0.2\n",
    ))
    .unwrap();
    assert_eq!(config.scrape.rate_limit, Some(0.2));
}

#[test]
fn rejects_a_shard_index_outside_its_count() {
    assert_refused(
        &with_head("repositories:\n  - id: 1\nshard:\n  index: 3\n  count: 3\n"),
        "shard",
        "index 3",
    );
}

#[test]
fn rejects_invalid_yaml_with_a_line_number() {
    let err = parse("codearts:\n  endpoint: [unclosed\n").unwrap_err();
    assert!(err.contains("line"), "{err}");
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let config = parse(
        "codearts:\n  endpoint: https://x.example\n  auth:\n    token: ${CODEARTS_TOKEN}\nrepositories:\n  - id: 1\n",
    )
    .unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("tok-from-env"), "{debug}");
    assert!(debug.contains("<redacted>"));
}

#[test]
fn type_errors_never_echo_the_value() {
    std::env::set_var("NOT_A_NUMBER", "super-secret-value");
    let err = Config::parse(
        &with_head("repositories:\n  - id: 1\nscrape:\n  retries: ${NOT_A_NUMBER}\n  request_timeout: ${NOT_A_NUMBER}\n"),
        &|name| std::env::var(name).ok(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("scrape.retries:"), "{err}");
    assert!(!err.contains("super-secret-value"), "{err}");
    let err = parse(&with_head(
        "repositories:\n  - id: 1\ndiscovery:\n  enabled: \"sure\"\n",
    ))
    .unwrap_err();
    assert!(err.starts_with("discovery.enabled:"), "{err}");
    let err = parse(&with_head(
        "repositories:\n  - id: 1\nprobe:\n  allow_unlisted: [x]\n",
    ))
    .unwrap_err();
    assert!(err.starts_with("probe.allow_unlisted:"), "{err}");
}

#[test]
fn a_numeric_password_is_text_not_a_type_error() {
    let config = parse(
        "codearts:\n  endpoint: https://x.example\n  auth:\n    iam:\n      endpoint: https://iam.example\n      domain: d\n      user: u\n      password: 123456\n      project: p\nrepositories:\n  - id: 1\n",
    )
    .unwrap();
    match config.codearts.auth {
        AuthConfig::Iam(iam) => match iam.password {
            SecretSource::Inline(secret) => assert_eq!(secret.expose(), "123456"),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}
