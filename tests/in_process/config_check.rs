//! `--config.check` through the real binary: after its one-line summary it prints what each
//! setting resolved to (endpoint, IAM endpoint, project, discovery's filters, when a repository
//! is asked again, where its last push comes from, shard),
//! and every warning the start would log, so an operator sees before the start what the start
//! will do and complain about.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::helpers::procs::{free_port, Proc};
use crate::helpers::*;

/// What `--config.check` printed: stdout's lines and stderr's `warning:` lines.
struct Checked {
    lines: Vec<String>,
    warnings: Vec<String>,
}

impl Checked {
    /// Fails unless one of the resolved lines is exactly `line` (two spaces of indent left out).
    fn assert_line(&self, line: &str) {
        assert!(
            self.lines.iter().any(|l| l == &format!("  {line}")),
            "no line {line:?} in:\n{}",
            self.lines.join("\n")
        );
    }
}

/// `--config.check` of `yaml` (written to `dir`) with `args`; fails unless it succeeds.
fn check(dir: &Path, yaml: &str, args: &[&str]) -> Checked {
    let path = dir.join("config.yml");
    std::fs::write(&path, yaml).expect("write config");
    let output = Command::new(EXPORTER)
        .arg("--config.check")
        .arg("--config.file")
        .arg(&path)
        .args(args)
        .output()
        .expect("run the exporter");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.starts_with("config OK: endpoint="), "{stdout}");
    Checked {
        lines: stdout.lines().map(str::to_owned).collect(),
        warnings: stderr
            .lines()
            .filter_map(|l| l.strip_prefix("warning: "))
            .map(str::to_owned)
            .collect(),
    }
}

fn repositories() -> &'static str {
    "repositories:\n  - id: 1\n"
}

/// A file holding `content` with permissions `mode`.
fn file(dir: &Path, name: &str, content: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

#[test]
fn shows_the_endpoint_and_iam_endpoint_it_derived_from_the_region() {
    let dir = tempfile::tempdir().unwrap();
    let password = file(dir.path(), "password", "pw\n", 0o600);
    let yaml = format!(
        "codearts:\n  region: cn-north-4\n  auth:\n    iam:\n      domain: acme\n      user: exporter-bot\n      \
         password_file: {}\n      project: cn-north-4\n{}",
        password.display(),
        repositories()
    );
    let checked = check(dir.path(), &yaml, &[]);
    checked.assert_line("endpoint: https://codehub-ext.cn-north-4.myhuaweicloud.com/");
    checked.assert_line(&format!(
        "auth: iam, user exporter-bot of account acme, password from {}",
        password.display()
    ));
    checked.assert_line("iam endpoint: https://iam.cn-north-4.myhuaweicloud.com/");
    checked.assert_line("project: tokens scoped to project cn-north-4");
    assert!(checked.warnings.is_empty(), "{:?}", checked.warnings);
}

#[test]
fn shows_whether_the_project_id_is_looked_up_given_or_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    let lookup = aksk_files_yaml(
        dir.path(),
        "AK",
        "SK",
        None,
        &project_lookup("cn-north-4", "https://iam.example"),
    );
    let checked = check(
        dir.path(),
        &config_with_auth("https://codearts.example", &[1], &lookup, ""),
        &[],
    );
    checked.assert_line("iam endpoint: https://iam.example/");
    checked.assert_line(
        "project id: looked up once by the project name cn-north-4 (GET /v3/projects?name=cn-north-4, signed), sent as X-Project-Id",
    );
    checked.assert_line(&format!(
        "auth: aksk, access key from {}, secret key from {}",
        dir.path().join("ak").display(),
        dir.path().join("sk").display()
    ));

    let given = aksk_files_yaml(
        dir.path(),
        "AK",
        "SK",
        None,
        "      project_id: 5f9b3f8a2c1e4d6b8a7c9e0f1a2b3c4d\n",
    );
    let checked = check(
        dir.path(),
        &config_with_auth("https://codearts.example", &[1], &given, ""),
        &[],
    );
    checked.assert_line("iam endpoint: not used");
    checked.assert_line("project id: 5f9b3f8a2c1e4d6b8a7c9e0f1a2b3c4d, sent as X-Project-Id");

    let none = aksk_files_yaml(dir.path(), "AK", "SK", None, "");
    let checked = check(
        dir.path(),
        &config_with_auth("https://codearts.example", &[1], &none, ""),
        &[],
    );
    checked.assert_line("project id: none, no X-Project-Id is sent");
}

#[test]
fn shows_discovery_filters_last_push_and_the_shard() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "{}discovery:\n  enabled: true\n  interval: 45m\n  include: ['^payments/', '^billing/']\n  \
         exclude: ['-archive$']\n  archived: true\nlast_push:\n  enabled: true\n  min_interval: 20m\n\
         shard:\n  index: 1\n  count: 3\n",
        config_yaml("https://codearts.example", &[1, 2, 3], "")
    );
    let checked = check(dir.path(), &yaml, &[]);
    checked.assert_line("repositories: 3 static");
    checked.assert_line(
        "discovery: every 45m; include '^payments/', '^billing/'; exclude '-archive$'; archived repositories listed too",
    );
    checked.assert_line(
        "last_push: on, from a last-push-event request per repository; one fetched less than 20m ago is reused",
    );
    checked.assert_line("shard: 1/3, the repositories whose id hashes to 1 of 3");
    checked.assert_line("auth: token, written in the config file");

    // --shard wins over the file, in the summary too.
    let checked = check(dir.path(), &yaml, &["--shard", "2/4"]);
    checked.assert_line("shard: 2/4, the repositories whose id hashes to 2 of 4 (from --shard)");
    assert!(
        checked.lines[0].ends_with(" shard=2/4"),
        "{}",
        checked.lines[0]
    );

    let plain = config_yaml("https://codearts.example", &[1], "");
    let checked = check(dir.path(), &plain, &[]);
    checked.assert_line("discovery: off");
    checked.assert_line("refresh: every_scrape, every repository asked at each scrape");
    checked.assert_line("last_push: off");
    checked.assert_line("shard: 0/1, every repository");
}

#[test]
fn shows_when_a_repository_is_asked_again_and_where_its_last_push_comes_from() {
    let dir = tempfile::tempdir().unwrap();
    let with = |extra: &str| config_yaml("https://codearts.example", &[1], extra);

    let every_scrape = with("  min_interval: 45s\nlast_push:\n  enabled: true\n");
    let checked = check(dir.path(), &every_scrape, &[]);
    checked.assert_line(
        "refresh: every_scrape, every repository asked at each scrape unless its answer is younger than 45s (scrape.min_interval)",
    );
    checked.assert_line(
        "last_push: on, from a last-push-event request per repository; one fetched less than 10m ago is reused",
    );

    // Change-driven: the defaults, and the full listing at discovery.interval although
    // discovery is off.
    let on_change = with(
        "discovery:\n  interval: 20m\nrefresh:\n  mode: on_change\nlast_push:\n  enabled: true\n",
    );
    let checked = check(dir.path(), &on_change, &[]);
    checked.assert_line(
        "refresh: on_change; a repository is asked again when the list shows it changed, or after at most 1h; \
         each look at the list reads back 1m before the newest time it saw; the whole list is read every 20m",
    );
    checked.assert_line(
        "last_push: on, from a last-push-event request per repository, asked again when the list's update time moves \
         (every 10m for a repository the list has no time for)",
    );

    let listing = with(
        "refresh:\n  mode: on_change\n  max_staleness: 2h\n  listing_overlap: 5m\nlast_push:\n  enabled: true\n  source: listing\n",
    );
    let checked = check(dir.path(), &listing, &[]);
    checked.assert_line(
        "refresh: on_change; a repository is asked again when the list shows it changed, or after at most 2h; \
         each look at the list reads back 5m before the newest time it saw; the whole list is read every 30m",
    );
    checked.assert_line(
        "last_push: on, from the repository list's last_repository_updated_at, no request per repository",
    );
    // The summary line says the same in brief.
    assert!(
        checked.lines[0].contains(" refresh=on_change(max_staleness 2h) last_push=from the list "),
        "{}",
        checked.lines[0]
    );
}

#[test]
fn warns_about_secret_files_every_user_may_read() {
    let dir = tempfile::tempdir().unwrap();
    let open = file(dir.path(), "token", "t\n", 0o644);
    let yaml = config_with_auth(
        "https://codearts.example",
        &[1],
        &token_file_auth(&open),
        "",
    );
    let checked = check(dir.path(), &yaml, &[]);
    assert_eq!(
        checked.warnings,
        [format!(
            "secret file {} is readable by every user on this host; consider chmod 600 (or 0440 with a group)",
            open.display()
        )]
    );
    checked.assert_line(&format!(
        "auth: token_file {}, read again when it changes",
        open.display()
    ));

    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(check(dir.path(), &yaml, &[]).warnings.is_empty());

    // Every secret file of AK/SK: keys and the security token.
    let aksk = aksk_files_yaml(dir.path(), "AK", "SK", Some("ST"), "");
    for name in ["ak", "sk", "token"] {
        std::fs::set_permissions(
            dir.path().join(name),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    let warned = check(
        dir.path(),
        &config_with_auth("https://codearts.example", &[1], &aksk, ""),
        &[],
    )
    .warnings;
    assert_eq!(warned.len(), 3, "{warned:?}");
}

/// A web config with basic auth over plain HTTP and HTTP/2 asked for: two warnings.
fn web_config(dir: &Path) -> PathBuf {
    let path = dir.join("web.yml");
    let users = users_yaml("prometheus", "scrape-secret");
    std::fs::write(
        &path,
        format!("http_server_config:\n  http2: true\n{users}"),
    )
    .expect("write web config");
    path
}

#[test]
fn prints_every_warning_the_start_logs() {
    let dir = tempfile::tempdir().unwrap();
    let token = file(dir.path(), "token", "t\n", 0o644);
    let yaml = config_with_auth("http://127.0.0.1:9", &[1], &token_file_auth(&token), "");
    let web = web_config(dir.path());
    let web_arg = format!("--web.config.file={}", web.display());
    let checked = check(dir.path(), &yaml, &[&web_arg]);
    assert_eq!(checked.warnings.len(), 3, "{:?}", checked.warnings);
    assert!(
        checked
            .warnings
            .iter()
            .any(|w| w.starts_with("basic auth without TLS")),
        "{:?}",
        checked.warnings
    );

    // The start, with the same files, logs each of them.
    let mut cmd = Command::new(EXPORTER);
    cmd.arg("--config.file")
        .arg(dir.path().join("config.yml"))
        .arg(&web_arg)
        .args([
            "--web.listen-address",
            &format!("127.0.0.1:{}", free_port()),
        ]);
    let mut exporter = Proc::spawn("exporter", &mut cmd, dir.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    let log = dir.path().join("exporter.log");
    loop {
        exporter.assert_running();
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        let missing: Vec<&String> = checked
            .warnings
            .iter()
            .filter(|w| {
                !logged
                    .lines()
                    .any(|l| l.contains("level=warn") && l.contains(w.as_str()))
            })
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the start did not log {missing:?}:\n{logged}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
