//! No temporary credential reaches a log line (at trace level, dependencies included), a
//! metric, the landing page, a readiness answer, an error or a `Debug` print: not the access
//! key, the secret key, the security token, the metadata session token, nor a signature — in
//! the `aksk` mode with `security_token_file` and a project lookup, and in the `ecs_agency`
//! mode against wiremock and the simulator, through renewals, refusals and faults.

use std::sync::Arc;
use std::time::Duration;

use crate::helpers::*;
use codearts_sim::MetadataFault;
use rusty_fork::rusty_fork_test;
use wiremock::ResponseTemplate;

const FILE_ACCESS: &str = "STSFILEACCESSKEY0042";
const FILE_SECRET: &str = "sts-file-secret-s3cret";
const FILE_TOKEN: &str = "sts-file-token-s3cret";

async fn observe(observed: &mut String, app: &Arc<codearts_repo_exporter::App>) {
    for path in ["/metrics", "/", "/readyz", "/probe?repository_id=1"] {
        observed.push_str(&request(app, "GET", path, Some("5")).await.body);
        observed.push('\n');
    }
}

/// A gateway refusal that echoes the canonical request, security token included.
fn echoing_refusal(code: &str, token: &str) -> ResponseTemplate {
    ResponseTemplate::new(401).set_body_json(serde_json::json!({
        "error_code": code,
        "error_msg": format!("Incorrect IAM authentication information: verify aksk signature fail, canonicalRequest:GET|/v4/x/||host:h|x-sdk-date:20250604T081429Z|x-security-token:{token}||host;x-sdk-date;x-security-token|e3b0")
    }))
}

rusty_fork_test! {
    /// In a process of its own: it installs the process-wide log subscriber, which would
    /// also see the tests running beside it.
    #[test]
    fn no_temporary_credential_reaches_logs_answers_errors_or_debug_prints() {
        block_on(observe_every_temporary_credential());
    }
}

async fn observe_every_temporary_credential() {
    let captured = capture_every_log_line();
    let mut observed = String::new();
    let mut secrets: Vec<String> = vec![
        FILE_ACCESS.into(),
        FILE_SECRET.into(),
        FILE_TOKEN.into(),
        SESSION_TOKEN.into(),
    ];

    // aksk with security_token_file: repository 1 answers, 2 refuses the signature and echoes
    // the token; the project lookup is refused the same way.
    let server = Upstream::start().await;
    server.status(1, ok_status()).await;
    server
        .status(2, echoing_refusal("APIG.0303", FILE_TOKEN))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let auth = aksk_files_yaml(dir.path(), FILE_ACCESS, FILE_SECRET, Some(FILE_TOKEN), "");
    let app = crate::helpers::app(&config_with_auth(&server.uri(), &[1, 2], &auth, ""));
    observe(&mut observed, &app).await;
    let iam = Upstream::start().await;
    iam.project_lookups(echoing_refusal("APIG.0301", FILE_TOKEN))
        .await;
    let lookup = aksk_files_yaml(
        dir.path(),
        FILE_ACCESS,
        FILE_SECRET,
        Some(FILE_TOKEN),
        &project_lookup("cn-north-4", &iam.uri()),
    );
    let app = crate::helpers::app(&config_with_auth(&server.uri(), &[1], &lookup, ""));
    app.warm_up().await;
    observe(&mut observed, &app).await;
    let config = parse_config(&config_with_auth(&server.uri(), &[1], &lookup, ""));
    observed.push_str(&format!("{config:?}\n"));

    // ecs_agency against wiremock: credential 1 refused as dead, 2 works; then the service
    // fails while renewal is due.
    let keys = SecurityKeys::new(Duration::from_secs(4));
    let metadata = metadata_service(keys.clone()).await;
    let codearts = Upstream::start().await;
    codearts
        .for_security_token(
            &security_token(1),
            echoing_refusal("APIG.0301", &security_token(1)),
        )
        .await;
    codearts.every_get(ok_status()).await;
    let agency_yaml = ecs_agency_yaml(&codearts.uri(), &[1, 2], &metadata.uri(), "", "");
    let app = crate::helpers::app(&agency_yaml);
    observe(&mut observed, &app).await;
    keys.fail_with(Some(500));
    tokio::time::sleep(Duration::from_millis(2200)).await;
    observe(&mut observed, &app).await;
    observed.push_str(&format!("{:?}\n", parse_config(&agency_yaml)));
    for n in 1..=keys.calls() {
        let (access, secret, token) = temporary(n);
        secrets.extend([access, secret, token]);
    }

    // ecs_agency against the simulator: a project lookup, a renewal, then every fault.
    let sim = start_sim(Duration::from_secs(4)).await;
    let ids = sim_ids(&sim, 2);
    let app = crate::helpers::app(&ecs_agency_yaml(
        &sim.endpoint(),
        &ids,
        &sim.metadata_endpoint(),
        &project_lookup("cn-north-4", &sim.iam_endpoint()),
        "",
    ));
    observe(&mut observed, &app).await;
    let (access, secret, token) = sim_temporary_credential(&sim).await;
    secrets.extend([access, secret, token]);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    observe(&mut observed, &app).await;
    let (access, secret, token) = sim_temporary_credential(&sim).await;
    secrets.extend([access, secret, token]);
    for fault in [
        MetadataFault::Error,
        MetadataFault::Garbage,
        MetadataFault::NoAgency,
    ] {
        sim.set_metadata_fault(fault);
        let app = crate::helpers::app(&ecs_agency_yaml(
            &sim.endpoint(),
            &ids,
            &sim.metadata_endpoint(),
            "",
            "",
        ));
        observe(&mut observed, &app).await;
    }
    sim.set_metadata_fault(MetadataFault::None);

    // Everything the upstreams saw that is a credential: signatures, tokens, session tokens.
    let mut seen = Vec::new();
    for server in [&server, &iam, &codearts, &metadata] {
        for request in server.requests().await {
            for name in ["authorization", "x-security-token", "x-metadata-token"] {
                if let Some(value) = request.headers.get(name) {
                    seen.push(value.to_str().unwrap().to_owned());
                }
            }
        }
    }
    for request in sim_requests(&sim).await {
        for name in ["authorization", "x-security-token", "x-metadata-token"] {
            if let Some(value) = recorded_header(&request, name) {
                seen.push(value.to_owned());
            }
        }
    }
    for value in seen {
        match value.split("Signature=").nth(1) {
            Some(signature) => secrets.push(signature.to_owned()),
            None => secrets.push(value),
        }
    }
    assert!(
        secrets.iter().any(|s| s.starts_with("SIMMD")),
        "the simulator's session tokens were collected"
    );
    assert!(secrets.len() > 20, "{} secrets collected", secrets.len());

    let logs = captured.text();
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "trace logging was on"
    );
    for expected in [
        "obtained a temporary credential from the metadata service",
        "cannot get a temporary credential from the metadata service",
        "the gateway refused the temporary credential",
        "cannot find the project id",
        "the gateway refused the AK/SK signature",
        "x-security-token:<redacted>",
    ] {
        assert!(logs.contains(expected), "no log line with {expected:?}");
    }
    for secret in &secrets {
        if let Some(line) = logs.lines().find(|l| l.contains(secret.as_str())) {
            panic!("a log line contains the secret {secret:?}: {line}");
        }
        assert!(
            !observed.contains(secret.as_str()),
            "an answer, error or Debug print contains the secret {secret:?}"
        );
    }
}
