//! A revoked IAM token is renewed, and a token revoked again soon after a renewal that worked is
//! renewed at once too — not five minutes later. (A fresh token refused as well opens a short
//! quiet window instead: `tests/auth.rs`, `iam_does_not_renew_again_when_a_fresh_token_is_refused_too`.)

mod common;

use std::time::Duration;

use common::*;
use wiremock::ResponseTemplate;

fn revoked() -> ResponseTemplate {
    error(401, "APIG.0301", "decrypt token fail")
}

#[tokio::test]
async fn a_token_revoked_again_right_after_a_renewal_that_worked_is_renewed_at_once() {
    let upstream = Upstream::start().await;
    let iam = upstream.iam_tokens(Duration::from_secs(24 * 3600)).await;
    // token-1 is revoked; token-2 works once, then is revoked too; token-3 works.
    upstream.for_token("token-1", revoked()).await;
    upstream.for_token("token-2", ok_status()).first(1).await;
    upstream.for_token("token-2", revoked()).await;
    upstream.for_token("token-3", ok_status()).await;
    let app = app(&iam_config(&upstream.uri(), &[1], ""));
    for round in 0..2 {
        let body = scrape(&app, None).await.body;
        assert_eq!(body.up(1), Some(1.0), "round {round}: {body}");
    }
    assert_eq!(iam.issued(), 3, "two renewals, both at once");
}
