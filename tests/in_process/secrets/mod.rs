//! No secret ever reaches a log line (at trace level, dependencies included), a metric, the
//! landing page, a readiness answer or an error message — in any auth mode.

use std::sync::Arc;
use std::time::Duration;

use crate::helpers::*;
use rusty_fork::rusty_fork_test;
use wiremock::matchers::header;

mod temporary;

const STATIC_TOKEN: &str = "static-token-s3cret-0001";
const FILE_TOKEN: &str = "file-token-s3cret-0002";
const PASSWORD: &str = "pw-s3cret";
const ACCESS_KEY: &str = "AKIDSECRETACCESSKEY42";
const SECRET_KEY: &str = "sk-s3cret-value-0003";

/// Everything an operator or an attacker could read: logs, pages, answers, errors.
#[derive(Default)]
struct Observed(String);

impl Observed {
    fn add(&mut self, text: &str) {
        self.0.push_str(text);
        self.0.push('\n');
    }
}

async fn observe_app(observed: &mut Observed, app: &Arc<codearts_repo_exporter::App>) {
    for path in [
        "/metrics",
        "/",
        "/readyz",
        "/probe?repository_id=1",
        "/probe?repository_id=x",
    ] {
        observed.add(&request(app, "GET", path, Some("3")).await.body);
    }
}

rusty_fork_test! {
    /// In a process of its own: it installs the process-wide log subscriber, which would
    /// also see the tests running beside it.
    #[test]
    fn no_secret_reaches_logs_metrics_pages_or_errors() {
        block_on(observe_every_auth_mode());
    }
}

async fn observe_every_auth_mode() {
    let captured = capture_every_log_line();

    let mut observed = Observed::default();
    let upstream = Upstream::start().await;

    // Static token: accepted for repository 1, refused as expired for 2.
    upstream
        .status(1, ok_status())
        .and(header("x-auth-token", STATIC_TOKEN))
        .await;
    upstream
        .status(
            2,
            error(401, "DEV.00000003", "Authentication information expired."),
        )
        .await;
    let token_yaml = config_yaml(&upstream.uri(), &[1, 2], "").replace("test-token", STATIC_TOKEN);
    let app = crate::helpers::app(&token_yaml);
    observe_app(&mut observed, &app).await;

    // Token file (readable by everyone: a warning), then the file disappears.
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, FILE_TOKEN).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let token_file_yaml =
        config_with_auth(&upstream.uri(), &[1, 2], &token_file_auth(&token_file), "");
    let app = crate::helpers::app(&token_file_yaml);
    observe_app(&mut observed, &app).await;
    std::fs::remove_file(&token_file).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    observe_app(&mut observed, &app).await;

    // IAM: tokens issued, one refused as expired and renewed; then a wrong password.
    upstream.iam_tokens(Duration::from_secs(3600)).await;
    let iam_yaml = iam_config(&upstream.uri(), &[1, 2], "");
    let app = crate::helpers::app(&iam_yaml);
    app.warm_up().await;
    observe_app(&mut observed, &app).await;
    let refused = Upstream::start().await;
    refused.iam(wrong_password()).await;
    let app = crate::helpers::app(&config_with_auth(
        &upstream.uri(),
        &[1],
        &iam_auth_yaml(&refused.uri()),
        "",
    ));
    observe_app(&mut observed, &app).await;

    // AK/SK: signed requests, one refused.
    let aksk = aksk_files_yaml(dir.path(), ACCESS_KEY, SECRET_KEY, None, "");
    let app = crate::helpers::app(&config_with_auth(&upstream.uri(), &[1, 2], &aksk, ""));
    observe_app(&mut observed, &app).await;

    // Config errors that involve secrets.
    for yaml in [
        token_yaml.replace("repositories:", "repositories: [oops"),
        token_yaml.replace("retries: 0", &format!("retries: {STATIC_TOKEN}")),
        iam_yaml.replace("      user: exporter-bot\n", ""),
    ] {
        if let Err(err) = codearts_repo_exporter::Config::parse(&yaml, &|_| None) {
            observed.add(&err.to_string());
        }
    }

    // Signatures and issued IAM tokens, as the server saw them.
    let mut secrets: Vec<String> = [STATIC_TOKEN, FILE_TOKEN, PASSWORD, ACCESS_KEY, SECRET_KEY]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for request in upstream.requests().await {
        if let Some(auth) = request.headers.get("authorization") {
            let auth = auth.to_str().unwrap();
            secrets.push(auth.split("Signature=").nth(1).unwrap().to_owned());
        }
        if let Some(token) = request.headers.get("x-auth-token") {
            secrets.push(token.to_str().unwrap().to_owned());
        }
    }
    assert!(
        secrets.iter().any(|s| s == "token-1"),
        "IAM tokens were used"
    );
    assert!(secrets.len() > 8, "signatures were collected");

    let logs = captured.text();
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "trace logging was on"
    );
    assert!(logs.contains("obtained an IAM token"));
    assert!(
        logs.lines().any(|l| l.contains("WARN")
            && l.contains("readable by every user")
            && l.contains(&token_file.display().to_string())),
        "a world-readable secret file is warned about"
    );
    observed.add(
        &request(&crate::helpers::app(&iam_yaml), "GET", "/", None)
            .await
            .body,
    );
    for secret in &secrets {
        if let Some(line) = logs.lines().find(|l| l.contains(secret.as_str())) {
            panic!("a log line contains the secret {secret:?}: {line}");
        }
        assert!(
            !observed.0.contains(secret.as_str()),
            "an answer contains the secret {secret:?}"
        );
    }
}
