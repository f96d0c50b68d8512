//! The files a config names: relative paths are relative to the config file (at start and on
//! reload), and `--config.check-syntax-only` validates a config — every shipped one included —
//! where its secret files and environment are absent; `--config.check` prints a summary or
//! exits 2 naming the key. (The documentation's key and region tables: `docs::configuration`.)

use std::path::{Path, PathBuf};

use crate::helpers::*;
use codearts_repo_exporter::{AuthConfig, CheckMode, Config, FileKey, SecretSource, UnsetVariable};
use wiremock::matchers::header;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn no_env(_: &str) -> Option<String> {
    None
}

// ---------------------------------------------------------------------------------------------
// relative paths

#[test]
fn relative_paths_of_every_file_key_resolve_against_the_config_directory() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("etc");
    for file in ["secrets/ak", "secrets/sk", "ca.pem"] {
        write(&conf.join(file), "x");
    }
    let path = conf.join("config.yml");
    write(
        &path,
        "codearts:\n  endpoint: https://x.example\n  auth:\n    aksk:\n      access_key_file: secrets/ak\n      secret_key_file: ./secrets/sk\n  tls:\n    ca_file: ca.pem\nrepositories:\n  - id: 1\n",
    );
    // The working directory is the crate's, not etc/: only resolution finds these files.
    let config = Config::load(&path).unwrap();
    let AuthConfig::AkSk(aksk) = &config.codearts.auth else {
        panic!("{:?}", config.codearts.auth)
    };
    assert_eq!(aksk.access_key, SecretSource::File(conf.join("secrets/ak")));
    assert_eq!(
        aksk.secret_key,
        SecretSource::File(conf.join("./secrets/sk"))
    );
    assert_eq!(config.codearts.tls.ca_file, Some(conf.join("ca.pem")));
}

#[test]
fn iam_password_file_and_absolute_paths() {
    let dir = tempfile::tempdir().unwrap();
    let absolute = dir.path().join("elsewhere/password");
    write(&absolute, "pw");
    let path = dir.path().join("conf/config.yml");
    write(
        &path,
        &format!(
            "codearts:\n  endpoint: https://x.example\n  auth:\n    iam:\n      endpoint: https://iam.example\n      domain: d\n      user: u\n      password_file: {}\n      project: p\nrepositories:\n  - id: 1\n",
            absolute.display()
        ),
    );
    let config = Config::load(&path).unwrap();
    let AuthConfig::Iam(iam) = &config.codearts.auth else {
        panic!("{:?}", config.codearts.auth)
    };
    assert_eq!(iam.password, SecretSource::File(absolute));
}

#[test]
fn a_missing_relative_file_is_named_by_its_key_and_resolved_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yml");
    write(
        &path,
        "codearts:\n  endpoint: https://x.example\n  auth:\n    token_file: secrets/token\nrepositories:\n  - id: 1\n",
    );
    let err = Config::load(&path).unwrap_err().to_string();
    let expected = format!(
        "codearts.auth.token_file: cannot read {}",
        dir.path().join("secrets/token").display()
    );
    assert!(err.starts_with(&expected), "{err}");
}

#[test]
fn a_config_from_text_keeps_its_paths_as_written() {
    let err = Config::parse(
        "codearts:\n  endpoint: https://x.example\n  auth:\n    token_file: no/such/token\nrepositories:\n  - id: 1\n",
        &no_env,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("codearts.auth.token_file: cannot read no/such/token"),
        "{err}"
    );
}

/// The exporter, started and reloaded from a config that names its token file relatively,
/// sends the token of the file next to the config — whatever its working directory.
#[tokio::test]
async fn relative_token_file_is_found_at_start_and_after_a_reload() {
    let upstream = Upstream::start().await;
    for (token, id) in [("first-token", 1u32), ("second-token", 2)] {
        upstream
            .status(id, ok_status())
            .and(header("X-Auth-Token", token))
            .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    write(&conf.join("tokens/a"), "first-token\n");
    write(&conf.join("tokens/b"), "second-token\n");
    let path = conf.join("config.yml");
    let config_for = |token: &str, id: u32| {
        config_with_auth(
            &upstream.uri(),
            &[id],
            &token_file_auth(Path::new(token)),
            "",
        )
    };
    write(&path, &config_for("tokens/a", 1));
    let app = app_from_file(&path);
    let body = scrape(&app, None).await.body;
    assert_eq!(body.class(1), None, "{body}");

    write(&path, &config_for("tokens/b", 2));
    app.reload().await.expect("reload");
    let body = scrape(&app, None).await.body;
    assert_eq!(body.class(2), None, "{body}");
}

// ---------------------------------------------------------------------------------------------
// syntax-only checks

#[test]
fn every_shipped_config_passes_the_syntax_only_check_without_its_secrets() {
    for file in shipped_configs() {
        let text = std::fs::read_to_string(&file).unwrap();
        let base = file.parent().unwrap();
        let (_, unchecked) =
            Config::parse_checked(&text, &no_env, Some(base), CheckMode::SyntaxOnly)
                .unwrap_or_else(|err| panic!("{}: {err}", file.display()));
        // Each names a secret, as a file or through the environment: what was left out is said.
        // (An ECS agency's credential comes from the metadata service: no secret to name.)
        assert!(
            !unchecked.files.is_empty()
                || !unchecked.unset.is_empty()
                || text.contains("ecs_agency:"),
            "{}: nothing reported as unchecked",
            file.display()
        );
        for secret in &unchecked.files {
            assert!(
                !secret.path.exists(),
                "{}: {} exists here, so this test proves nothing about it",
                file.display(),
                secret.path.display()
            );
        }
    }
}

#[test]
fn syntax_only_lists_the_files_and_variables_it_did_not_check() {
    let text = std::fs::read_to_string(repo_file("deploy/systemd/config.yml")).unwrap();
    let base = Path::new("/etc/codearts-repo-exporter");
    let (_, unchecked) =
        Config::parse_checked(&text, &no_env, Some(base), CheckMode::SyntaxOnly).unwrap();
    assert_eq!(
        unchecked.files,
        [FileKey {
            key: "codearts.auth.iam.password_file".to_owned(),
            path: PathBuf::from("${CREDENTIALS_DIRECTORY}/iam-password"),
        }]
    );
    assert_eq!(
        unchecked.unset,
        [UnsetVariable {
            key: "codearts.auth.iam.password_file".to_owned(),
            name: "CREDENTIALS_DIRECTORY".to_owned(),
        }]
    );
    // With the variable set, the path is the credentials directory's.
    let env =
        |name: &str| (name == "CREDENTIALS_DIRECTORY").then(|| "/run/credentials/x".to_owned());
    let (_, unchecked) =
        Config::parse_checked(&text, &env, Some(base), CheckMode::SyntaxOnly).unwrap();
    assert_eq!(
        unchecked.files[0].path,
        PathBuf::from("/run/credentials/x/iam-password")
    );
    assert!(unchecked.unset.is_empty());
}

#[test]
fn syntax_only_still_refuses_what_is_wrong_in_the_file() {
    let refused = |yaml: &str| {
        Config::parse_checked(yaml, &no_env, None, CheckMode::SyntaxOnly)
            .unwrap_err()
            .to_string()
    };
    let head = "codearts:\n  endpoint: https://x.example\n  auth:\n    token_file: /nonexistent\nrepositories:\n  - id: 1\n";
    let err = refused(&format!("{head}scrape:\n  concurrency: 0\n"));
    assert!(err.starts_with("scrape.concurrency: "), "{err}");
    let err = refused(&format!("{head}scrape:\n  concurency: 4\n"));
    assert!(err.starts_with("scrape.concurency: "), "{err}");
    // An unset variable where a number belongs: the error says which variable it is.
    let err = refused(&format!("{head}scrape:\n  concurrency: ${{CONCURRENCY}}\n"));
    assert!(
        err.starts_with("scrape.concurrency: ") && err.contains("${CONCURRENCY}, which is not set"),
        "{err}"
    );
}

#[test]
fn a_full_check_still_needs_every_variable() {
    let err = Config::parse(
        "codearts:\n  endpoint: https://x.example\n  auth:\n    token: ${NOT_SET_ANYWHERE}\nrepositories:\n  - id: 1\n",
        &no_env,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("codearts.auth.token: environment variable NOT_SET_ANYWHERE is not set"),
        "{err}"
    );
}

#[test]
fn the_flag_checks_the_systemd_config_outside_systemd_and_says_what_it_left_out() {
    let config = repo_file("deploy/systemd/config.yml");
    let full = run_on_config(EXPORTER, &["--config.check"], &config, &[]);
    assert_eq!(full.status.code(), Some(2));
    let err = String::from_utf8_lossy(&full.stderr);
    assert!(
        err.starts_with("codearts.auth.iam.password_file: environment variable CREDENTIALS_DIRECTORY is not set"),
        "{err}"
    );

    let syntax = run_on_config(EXPORTER, &["--config.check-syntax-only"], &config, &[]);
    let out = String::from_utf8_lossy(&syntax.stdout);
    assert!(
        syntax.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("config OK (syntax only): endpoint="),
        "{out}"
    );
    assert!(
        lines.contains(&"  not checked: codearts.auth.iam.password_file = ${CREDENTIALS_DIRECTORY}/iam-password"),
        "{out}"
    );
    assert!(
        lines.contains(&"  not set: ${CREDENTIALS_DIRECTORY} in codearts.auth.iam.password_file"),
        "{out}"
    );
}

#[test]
fn the_flag_checks_a_web_config_without_its_certificate_files() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    write(
        &web,
        "tls_server_config:\n  cert_file: absent.pem\n  key_file: absent-key.pem\n  min_version: TLS13\n",
    );
    let config = repo_file("examples/iam.yml");
    let web_arg = format!("--web.config.file={}", web.display());
    let syntax = run_on_config(
        EXPORTER,
        &["--config.check-syntax-only", &web_arg],
        &config,
        &[],
    );
    let out = String::from_utf8_lossy(&syntax.stdout);
    assert!(
        syntax.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("web config OK (syntax only): tls=on")),
        "{out}"
    );

    // What is wrong in the web config itself is still refused, naming the key.
    write(
        &web,
        "tls_server_config:\n  cert_file: absent.pem\n  key_file: absent-key.pem\n  min_version: TLS11\n",
    );
    let refused = run_on_config(
        EXPORTER,
        &["--config.check-syntax-only", &web_arg],
        &config,
        &[],
    );
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.starts_with("--web.config.file: tls_server_config.min_version: "),
        "{err}"
    );
}

#[tokio::test]
async fn config_check_prints_a_summary_and_bad_configs_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(
        &good,
        config_yaml(
            "https://codehub-ext.cn-north-4.myhuaweicloud.com",
            &[1, 2],
            "",
        ),
    )
    .unwrap();
    let run = |path: &Path| run_on_config(EXPORTER, &["--config.check"], path, &[]);
    let ok = run(&good);
    assert!(ok.status.success());
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        out.starts_with("config OK: ") && out.contains("repositories=2"),
        "{out}"
    );

    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        config_yaml("https://x.example", &[1], "  concurrency: 0\n"),
    )
    .unwrap();
    let refused = run(&bad);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("scrape.concurrency:"), "{err}");

    let missing = run(&dir.path().join("nope.yml"));
    assert_eq!(missing.status.code(), Some(2));
}
