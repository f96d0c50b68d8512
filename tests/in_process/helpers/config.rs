//! Configs as YAML, one builder per auth mode: a static token (the default), a token file, IAM,
//! AK/SK from files (temporary ones with a security token, optionally a project lookup), and
//! the ECS agency (all built on `codearts_testkit::exporter::config_yaml`). An auth block is
//! the text under `auth:`, indented by four spaces. The parse of the config tests, whose
//! refusals must start with the key at fault. And the config files the repository ships.

use std::path::{Path, PathBuf};

use codearts_repo_exporter::Config;
use codearts_testkit::exporter::config_yaml;
use codearts_testkit::repo::{file_names, repo_file};

/// A config like [`config_yaml`] with `auth_block` (indented under `auth:`) instead of a token.
pub fn config_with_auth(endpoint: &str, ids: &[u32], auth_block: &str, scrape: &str) -> String {
    config_yaml(endpoint, ids, scrape).replace("    token: test-token\n", auth_block)
}

/// The auth block of a token read from `path`.
pub fn token_file_auth(path: &Path) -> String {
    format!("    token_file: {}\n", path.display())
}

/// The auth block of a config for IAM against `iam_endpoint`, with the password inline: user
/// `exporter-bot` of domain `acme`, password `pw-s3cret`, project `cn-north-4`.
pub fn iam_auth_yaml(iam_endpoint: &str) -> String {
    format!(
        "    iam:\n      endpoint: {iam_endpoint}\n      domain: acme\n      user: exporter-bot\n      password: pw-s3cret\n      project: cn-north-4\n"
    )
}

/// A config with IAM auth ([`iam_auth_yaml`]) whose IAM and CodeArts are both at `endpoint`.
pub fn iam_config(endpoint: &str, ids: &[u32], scrape: &str) -> String {
    config_with_auth(endpoint, ids, &iam_auth_yaml(endpoint), scrape)
}

/// Writes `ak`, `sk` and (when given) `token` files into `dir`; returns the `aksk:` auth block
/// naming them, with `extra` lines (indented by six spaces) under `aksk:`.
pub fn aksk_files_yaml(dir: &Path, ak: &str, sk: &str, token: Option<&str>, extra: &str) -> String {
    std::fs::write(dir.join("ak"), format!("{ak}\n")).unwrap();
    std::fs::write(dir.join("sk"), format!("{sk}\n")).unwrap();
    let mut yaml = format!(
        "    aksk:\n      access_key_file: {}\n      secret_key_file: {}\n",
        dir.join("ak").display(),
        dir.join("sk").display()
    );
    if let Some(token) = token {
        std::fs::write(dir.join("token"), format!("{token}\n")).unwrap();
        yaml.push_str(&format!(
            "      security_token_file: {}\n",
            dir.join("token").display()
        ));
    }
    yaml.push_str(extra);
    yaml
}

/// The lines (under `aksk:` or `ecs_agency:`) that look up the id of project `project` at
/// `iam_endpoint`.
pub fn project_lookup(project: &str, iam_endpoint: &str) -> String {
    format!("      project: {project}\n      iam_endpoint: {iam_endpoint}\n")
}

/// A config with `ecs_agency` auth against `metadata`, with `extra` lines (indented by six
/// spaces) under `ecs_agency:`.
pub fn ecs_agency_yaml(
    endpoint: &str,
    ids: &[u32],
    metadata: &str,
    extra: &str,
    scrape: &str,
) -> String {
    let auth = format!("    ecs_agency:\n      metadata_endpoint: {metadata}\n{extra}");
    config_with_auth(endpoint, ids, &auth, scrape)
}

/// The environment of the config tests: `CODEARTS_TOKEN` and `CONCURRENCY` are set, nothing
/// else.
pub fn test_env(name: &str) -> Option<String> {
    match name {
        "CODEARTS_TOKEN" => Some("tok-from-env".to_owned()),
        "CONCURRENCY" => Some("8".to_owned()),
        _ => None,
    }
}

/// `yaml` parsed in [`test_env`]; a refusal as its message.
pub fn parse(yaml: &str) -> Result<Config, String> {
    Config::parse(yaml, &test_env).map_err(|e| e.to_string())
}

/// Fails unless `yaml` is refused (in [`test_env`]) with a message that starts with `key:`
/// (the config key at fault) and contains `words`.
pub fn assert_refused(yaml: &str, key: &str, words: &str) {
    let Err(err) = parse(yaml) else {
        panic!("config must be refused ({key}: {words})");
    };
    assert!(
        err.starts_with(&format!("{key}:")),
        "expected key {key}, got: {err}"
    );
    assert!(err.contains(words), "expected {words:?} in: {err}");
}

/// Every config file the repository ships: each under `examples/`, the systemd configs, the
/// Kubernetes base's and each overlay's own.
pub fn shipped_configs() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = file_names("examples")
        .into_iter()
        .filter(|name| name.ends_with(".yml") || name.ends_with(".yaml"))
        .map(|name| repo_file(&format!("examples/{name}")))
        .collect();
    assert!(files.len() >= 4, "examples/: {files:?}");
    for shipped in [
        "deploy/systemd/config.yml",
        "deploy/systemd/config-aksk.yml",
        "deploy/kubernetes/base/config.yml",
    ] {
        files.push(repo_file(shipped));
    }
    files.extend(
        file_names("deploy/kubernetes/overlays")
            .into_iter()
            .map(|overlay| repo_file(&format!("deploy/kubernetes/overlays/{overlay}/config.yml")))
            .filter(|config| config.exists()),
    );
    files
}
