//! The auth keys of the config: `aksk.security_token_file`, `aksk.project` / `iam_endpoint`,
//! the `ecs_agency` mode, and IAM endpoints defaulted from the region. Every error names its
//! key; every example under `examples/` is a config that `--config.check` accepts.

use std::path::Path;

use crate::helpers::*;
use codearts_repo_exporter::{AuthConfig, Config, ProjectIdSource};

/// `codearts:` with `place` (an `endpoint:` or `region:` line) and `auth` (indented by four).
fn yaml(place: &str, auth: &str) -> String {
    format!("codearts:\n  {place}\n  auth:\n{auth}repositories:\n  - id: 1\n")
}

const ENDPOINT: &str = "endpoint: https://codehub-ext.cn-north-4.myhuaweicloud.com";

fn aksk(dir: &Path, extra: &str) -> String {
    std::fs::write(dir.join("ak"), "AK").unwrap();
    std::fs::write(dir.join("sk"), "SK").unwrap();
    format!(
        "    aksk:\n      access_key_file: {}\n      secret_key_file: {}\n{extra}",
        dir.join("ak").display(),
        dir.join("sk").display()
    )
}

fn aksk_project(config: &Config) -> ProjectIdSource {
    match &config.codearts.auth {
        AuthConfig::AkSk(aksk) => aksk.project.clone(),
        other => panic!("not aksk: {other:?}"),
    }
}

fn lookup(name: &str, iam: &str) -> ProjectIdSource {
    ProjectIdSource::Lookup {
        name: name.to_owned(),
        iam_endpoint: iam.parse().unwrap(),
    }
}

#[test]
fn ecs_agency_with_nothing_under_it_uses_every_default() {
    for auth in ["    ecs_agency: {}\n", "    ecs_agency:\n"] {
        let config = parse(&yaml("region: eu-west-101", auth)).unwrap();
        let AuthConfig::EcsAgency(agency) = &config.codearts.auth else {
            panic!("{:?}", config.codearts.auth)
        };
        assert_eq!(agency.metadata_endpoint.as_str(), "http://169.254.169.254/");
        assert_eq!(
            agency.project,
            lookup("eu-west-101", "https://iam.eu-west-101.myhuaweicloud.eu")
        );
        assert!(config.summary().contains("auth=ecs_agency"));
    }
}

#[test]
fn ecs_agency_takes_a_metadata_endpoint_a_project_and_an_iam_endpoint() {
    let config = parse(&yaml(
        ENDPOINT,
        "    ecs_agency:\n      metadata_endpoint: http://127.0.0.1:8080\n      project: cn-north-4_dev\n      iam_endpoint: https://iam.example\n",
    ))
    .unwrap();
    let AuthConfig::EcsAgency(agency) = &config.codearts.auth else {
        panic!()
    };
    assert_eq!(agency.metadata_endpoint.as_str(), "http://127.0.0.1:8080/");
    assert_eq!(
        agency.project,
        lookup("cn-north-4_dev", "https://iam.example")
    );
}

#[test]
fn ecs_agency_without_region_or_project_sends_no_project_id() {
    let config = parse(&yaml(ENDPOINT, "    ecs_agency: {}\n")).unwrap();
    let AuthConfig::EcsAgency(agency) = &config.codearts.auth else {
        panic!()
    };
    assert_eq!(agency.project, ProjectIdSource::None);
}

#[test]
fn rejects_a_bad_metadata_endpoint_and_unknown_ecs_agency_keys() {
    assert_refused(
        &yaml(
            ENDPOINT,
            "    ecs_agency:\n      metadata_endpoint: 169.254.169.254\n",
        ),
        "codearts.auth.ecs_agency.metadata_endpoint",
        "is not a URL",
    );
    let err = parse(&yaml(
        ENDPOINT,
        "    ecs_agency:\n      metadata_url: http://x\n",
    ))
    .expect_err("unknown key");
    assert!(
        err.contains("ecs_agency") && err.contains("metadata_url"),
        "{err}"
    );
}

#[test]
fn only_one_auth_mode_even_with_ecs_agency() {
    let dir = tempfile::tempdir().unwrap();
    let auth = format!("{}    ecs_agency: {{}}\n", aksk(dir.path(), ""));
    assert_refused(
        &yaml(ENDPOINT, &auth),
        "codearts.auth",
        "codearts.auth.aksk and codearts.auth.ecs_agency",
    );
    assert_refused(
        &yaml(ENDPOINT, "    {}\n"),
        "codearts.auth",
        "token, token_file, iam, aksk, ecs_agency",
    );
}

#[test]
fn aksk_reads_a_security_token_file_that_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "ST").unwrap();
    let extra = format!(
        "      security_token_file: {}\n",
        dir.path().join("token").display()
    );
    let config = parse(&yaml(ENDPOINT, &aksk(dir.path(), &extra))).unwrap();
    let AuthConfig::AkSk(keys) = &config.codearts.auth else {
        panic!()
    };
    assert_eq!(
        keys.security_token_file.as_deref(),
        Some(dir.path().join("token").as_path())
    );
    let missing = "      security_token_file: /nonexistent/security-token\n";
    assert_refused(
        &yaml(ENDPOINT, &aksk(dir.path(), missing)),
        "codearts.auth.aksk.security_token_file",
        "/nonexistent/security-token",
    );
}

#[test]
fn aksk_project_defaults_to_the_region_and_its_iam_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let config = parse(&yaml("region: cn-north-4", &aksk(dir.path(), ""))).unwrap();
    assert_eq!(
        aksk_project(&config),
        lookup("cn-north-4", "https://iam.cn-north-4.myhuaweicloud.com")
    );
    // A region the SDK's IAM table lacks falls back to the global endpoint.
    let config = parse(&yaml("region: af-north-1", &aksk(dir.path(), ""))).unwrap();
    assert_eq!(
        aksk_project(&config),
        lookup("af-north-1", "https://iam.myhuaweicloud.com")
    );
    // Without a region there is nothing to look up.
    let config = parse(&yaml(ENDPOINT, &aksk(dir.path(), ""))).unwrap();
    assert_eq!(aksk_project(&config), ProjectIdSource::None);
    // An explicit project id or name wins over the region.
    let id = parse(&yaml(
        "region: cn-north-4",
        &aksk(dir.path(), "      project_id: 0123abcd\n"),
    ))
    .unwrap();
    assert_eq!(aksk_project(&id), ProjectIdSource::Id("0123abcd".into()));
    let name = parse(&yaml(
        ENDPOINT,
        &aksk(dir.path(), "      project: cn-north-4_dev\n"),
    ))
    .unwrap();
    assert_eq!(
        aksk_project(&name),
        lookup("cn-north-4_dev", "https://iam.myhuaweicloud.com")
    );
}

#[test]
fn aksk_project_errors_name_their_key() {
    let dir = tempfile::tempdir().unwrap();
    assert_refused(
        &yaml(
            ENDPOINT,
            &aksk(
                dir.path(),
                "      project_id: abc\n      project: cn-north-4\n",
            ),
        ),
        "codearts.auth.aksk.project_id",
        "codearts.auth.aksk.project_id and codearts.auth.aksk.project are both set",
    );
    assert_refused(
        &yaml(ENDPOINT, &aksk(dir.path(), "      project: \"  \"\n")),
        "codearts.auth.aksk.project",
        "must not be empty",
    );
    assert_refused(
        &yaml(ENDPOINT, &aksk(dir.path(), "      project_id: \"a b\"\n")),
        "codearts.auth.aksk.project_id",
        "letters, digits",
    );
    assert_refused(
        &yaml(
            ENDPOINT,
            &aksk(
                dir.path(),
                "      project: p\n      iam_endpoint: iam.example\n",
            ),
        ),
        "codearts.auth.aksk.iam_endpoint",
        "is not a URL",
    );
    assert_refused(
        &yaml(
            ENDPOINT,
            "    ecs_agency:\n      project_id: x\n      project: y\n",
        ),
        "codearts.auth.ecs_agency.project_id",
        "both set",
    );
}

#[test]
fn iam_endpoint_may_be_left_out_and_follows_the_region() {
    let iam =
        "    iam:\n      domain: d\n      user: u\n      password: p\n      project: eu-west-101\n";
    let endpoint_of = |config: &Config| match &config.codearts.auth {
        AuthConfig::Iam(iam) => iam.endpoint.to_string(),
        other => panic!("{other:?}"),
    };
    let config = parse(&yaml("region: eu-west-101", iam)).unwrap();
    assert_eq!(
        endpoint_of(&config),
        "https://iam.eu-west-101.myhuaweicloud.eu/"
    );
    let config = parse(&yaml(ENDPOINT, iam)).unwrap();
    assert_eq!(endpoint_of(&config), "https://iam.myhuaweicloud.com/");
    assert_refused(
        &yaml(ENDPOINT, &format!("{iam}      endpoint: \"\"\n")),
        "codearts.auth.iam.endpoint",
        "must not be empty",
    );
}

/// What `--config.check` does with each example, with its secret files present (they are
/// mounted at `/run/secrets/codearts` in production) and `${VAR}`s set.
#[test]
fn every_example_passes_config_check() {
    let secrets = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(repo_file("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yml" && e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for word in text.split_whitespace() {
            if let Some(name) = word.strip_prefix("/run/secrets/codearts/") {
                std::fs::write(secrets.path().join(name), "secret").unwrap();
            }
        }
        let text = text.replace(
            "/run/secrets/codearts/",
            &format!("{}/", secrets.path().display()),
        );
        if let Err(err) = Config::parse(&text, &|_| Some("from-env".to_owned())) {
            panic!("{}: {err}", path.display());
        }
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} examples");
}
