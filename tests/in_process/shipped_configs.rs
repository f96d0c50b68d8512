//! Configs through the exporter binary's own loader, as a user meets them: the bad configs under
//! `tests/testdata/bad-configs/`, each refused with exactly the message the table below gives
//! (the key, then the reason); the systemd configs, each fully checked (`--config.check`) with
//! the credentials its drop-in loads and refused without one; and no shipped config that sends
//! a made-up project id.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use regex::Regex;

use crate::helpers::*;

/// The exit code of a config the exporter refuses.
const BAD_CONFIG: i32 = 2;

/// `codearts-repo-exporter --config.check --config.file CONFIG` with no environment but `env`.
fn config_check(config: &Path, env: &[(&str, &Path)]) -> Output {
    run_on_config(EXPORTER, &["--config.check"], config, env)
}

// ---------------------------------------------------------------------------------------------
// bad configs

/// Each file under tests/testdata/bad-configs and the whole message `--config.check` must print
/// for it. `{dir}` stands for that folder's path. The files name their secret files relative to
/// themselves (`token`, which exists there), so every file reaches the check it is about.
const BAD_CONFIGS: &[(&str, &str)] = &[
    (
        "unknown-top-level-key.yml",
        "lst_push: unknown field `lst_push`, expected one of `codearts`, `repositories`, \
         `discovery`, `last_push`, `refresh`, `metrics`, `probe`, `scrape`, `shard`, `server`, \
         `log`",
    ),
    (
        "unknown-nested-key.yml",
        "codearts.auth.iam.pasword_file: unknown field `pasword_file`, expected one of \
         `endpoint`, `domain`, `user`, `password`, `password_file`, `project`",
    ),
    (
        "two-auth-modes.yml",
        "codearts.auth: codearts.auth.token_file and codearts.auth.iam are all set; choose \
         exactly one",
    ),
    (
        "no-auth-mode.yml",
        "codearts.auth: missing: set exactly one of token, token_file, iam, aksk, ecs_agency",
    ),
    (
        "endpoint-and-region.yml",
        "codearts.endpoint: codearts.endpoint and codearts.region are both set; choose one",
    ),
    (
        "unknown-region.yml",
        "codearts.region: unknown region \"cn-nowhere-1\"; known: cn-north-1, cn-north-4, \
         cn-east-2, cn-east-3, cn-south-1, cn-south-2, cn-southwest-2, ap-southeast-3, \
         sa-brazil-1, la-north-2, la-south-2, tr-west-1, eu-west-101, me-east-1, af-south-1, \
         af-north-1; or set codearts.endpoint",
    ),
    (
        "repository-id-zero.yml",
        "repositories[1].id: 0 is out of range 1..2147483647",
    ),
    (
        "repository-id-too-large.yml",
        "repositories[0].id: 2147483648 is out of range 1..2147483647",
    ),
    (
        "no-repositories.yml",
        "repositories: no repositories to watch: list them under repositories or enable discovery",
    ),
    (
        "scrape-concurrency-zero.yml",
        "scrape.concurrency: 0 must be in 1..=10000",
    ),
    (
        "bad-duration.yml",
        "discovery.interval: invalid value: a string, expected a duration",
    ),
    (
        "bad-regex.yml",
        "discovery.include[0]: regex parse error:\n    (payments\n    ^\nerror: unclosed group",
    ),
    (
        "invalid-yaml.yml",
        "config: invalid YAML: did not find expected ',' or ']' at line 8 column 1, while \
         parsing a flow sequence at line 6 column 15",
    ),
    (
        "missing-secret-file.yml",
        "codearts.auth.token_file: cannot read {dir}/secrets/token: No such file or directory \
         (os error 2)",
    ),
    (
        "unset-variable.yml",
        "codearts.endpoint: environment variable CODEARTS_ENDPOINT is not set",
    ),
    (
        "aksk-project-and-project-id.yml",
        "codearts.auth.aksk.project_id: codearts.auth.aksk.project_id and \
         codearts.auth.aksk.project are both set; choose one",
    ),
    (
        "unknown-metric-family.yml",
        "metrics.disable[0]: \"no_such_family\" is not a per-repository family; known: \
         can_statistics, reason, event_status, event_info, event_id, \
         event_created_timestamp_seconds, event_updated_timestamp_seconds, event_age_seconds, \
         error, http_status, request_duration_seconds, last_success_timestamp_seconds, \
         answer_age_seconds, repository_info, last_push_up, last_push_timestamp_seconds, lag_seconds",
    ),
];

const BAD_CONFIGS_DIR: &str = "tests/testdata/bad-configs";

fn bad_configs_dir() -> PathBuf {
    repo_file(BAD_CONFIGS_DIR)
}

#[test]
fn every_bad_config_is_refused_with_exactly_its_message() {
    let dir = bad_configs_dir();
    let mut failures = Vec::new();
    for (file, expected) in BAD_CONFIGS {
        let expected = expected.replace("{dir}", &dir.display().to_string());
        let output = config_check(&dir.join(file), &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.code() != Some(BAD_CONFIG) || stderr.trim_end() != expected {
            failures.push(format!(
                "{file}: exit {:?}, printed\n{}\nwanted exit {BAD_CONFIG} and\n{expected}",
                output.status.code(),
                stderr.trim_end()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn every_file_under_bad_configs_is_in_the_table() {
    let listed: BTreeSet<&str> = BAD_CONFIGS.iter().map(|(file, _)| *file).collect();
    let configs: BTreeSet<String> = file_names(BAD_CONFIGS_DIR)
        .into_iter()
        .filter(|name| name.ends_with(".yml"))
        .collect();
    let configs: BTreeSet<&str> = configs.iter().map(String::as_str).collect();
    assert_eq!(
        configs, listed,
        "a bad config without its expected message, or the reverse"
    );
}

#[test]
fn a_bad_config_is_refused_for_its_one_mistake() {
    // The table proves nothing if the files are broken in more ways than they say: each file
    // with its mistake undone passes. Undoing is a line edit per file, listed here.
    let dir = bad_configs_dir();
    let temp = tempfile::tempdir().expect("temporary directory");
    std::fs::copy(dir.join("token"), temp.path().join("token")).expect("copy token");
    for (file, from, to) in [
        ("unknown-top-level-key.yml", "lst_push:", "last_push:"),
        ("repository-id-zero.yml", "id: 0", "id: 1"),
        (
            "scrape-concurrency-zero.yml",
            "concurrency: 0",
            "concurrency: 1",
        ),
        ("bad-duration.yml", "interval: every hour", "interval: 1h"),
    ] {
        let text = read(&format!("{BAD_CONFIGS_DIR}/{file}"));
        assert!(text.contains(from), "{file}: no `{from}`");
        let fixed = temp.path().join(file);
        std::fs::write(&fixed, text.replace(from, to)).expect("write");
        let output = config_check(&fixed, &[]);
        assert!(
            output.status.success(),
            "{file} with `{to}` instead of `{from}`: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// systemd: each config with its drop-in

/// The credential ids a drop-in (or unit) loads: `LoadCredential=ID:PATH`.
fn loaded_credentials(unit: &str) -> BTreeSet<String> {
    unit.lines()
        .filter_map(|line| line.strip_prefix("LoadCredential="))
        .map(|value| value.split(':').next().unwrap_or(value).to_owned())
        .collect()
}

/// The credential ids a config reads: `${CREDENTIALS_DIRECTORY}/ID`.
fn read_credentials(config: &str) -> BTreeSet<String> {
    let pattern = Regex::new(r"(?m)^[^#\n]*\$\{CREDENTIALS_DIRECTORY\}/([A-Za-z0-9_.-]+)")
        .expect("a valid regex");
    pattern
        .captures_iter(config)
        .map(|found| found[1].to_owned())
        .collect()
}

/// (config, its drop-in) as the unit's header installs them.
const SYSTEMD_AUTH_MODES: &[(&str, &str)] = &[
    ("deploy/systemd/config.yml", "deploy/systemd/iam.conf"),
    ("deploy/systemd/config-aksk.yml", "deploy/systemd/aksk.conf"),
];

#[test]
fn each_systemd_config_passes_the_full_check_with_the_credentials_its_drop_in_loads() {
    for (config, drop_in) in SYSTEMD_AUTH_MODES {
        let loaded = loaded_credentials(&read(drop_in));
        let wanted = read_credentials(&read(config));
        assert!(!wanted.is_empty(), "{config} reads no credential");
        assert_eq!(
            loaded, wanted,
            "{drop_in} loads other credentials than {config} reads"
        );

        // The credentials directory systemd would make, with every credential the drop-in loads.
        let credentials = tempfile::tempdir().expect("temporary directory");
        for id in &loaded {
            std::fs::write(credentials.path().join(id), "not-a-secret\n").expect("write");
        }
        let env = [("CREDENTIALS_DIRECTORY", credentials.path())];
        let output = config_check(&repo_file(config), &env);
        assert!(
            output.status.success(),
            "{config} with {drop_in}'s credentials: {}",
            String::from_utf8_lossy(&output.stderr)
        );

        // And without one of them, the start is refused naming the key that reads it.
        let missing = loaded.iter().next().expect("a credential");
        std::fs::remove_file(credentials.path().join(missing)).expect("remove");
        let output = config_check(&repo_file(config), &env);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(BAD_CONFIG), "{config}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "cannot read {}",
                credentials.path().join(missing).display()
            )),
            "{config} without {missing}: {stderr}"
        );
    }
}

#[test]
fn the_unit_itself_loads_no_credential_so_either_drop_in_can_be_installed() {
    let unit = read("deploy/systemd/codearts-repo-exporter.service");
    assert_eq!(loaded_credentials(&unit), BTreeSet::new());
    let drop_ins: BTreeSet<String> = file_names("deploy/systemd")
        .into_iter()
        .filter(|name| name.ends_with(".conf"))
        .map(|name| format!("deploy/systemd/{name}"))
        .collect();
    let paired: BTreeSet<String> = SYSTEMD_AUTH_MODES
        .iter()
        .map(|(_, drop_in)| drop_in.to_string())
        .collect();
    assert_eq!(drop_ins, paired, "every drop-in is checked with its config");
}

// ---------------------------------------------------------------------------------------------
// placeholders

#[test]
fn no_shipped_config_sends_a_project_id_of_its_own() {
    // A project id is the account's own: one copied from an example is refused (401) on every
    // request. Shipped configs leave it commented out, saying where to find the real one.
    let set = Regex::new(r"(?m)^\s*project_id:").expect("a valid regex");
    for file in shipped_configs() {
        let text = std::fs::read_to_string(&file).expect("a shipped config");
        assert!(!set.is_match(&text), "{} sets project_id", file.display());
    }
}
