//! A repository's change of state is logged once at the default level — ok → failing at
//! `warn`, one class → another at `warn`, failing → ok at `info` — with its id, name, class,
//! HTTP status, the gateway's error code and request id; and never again while the state stays.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::helpers::*;
use rusty_fork::rusty_fork_test;
use serde_json::Value;
use wiremock::{Request, Respond, ResponseTemplate};

/// Answers each request with the next template; the last one repeats.
struct Sequence {
    answers: Vec<ResponseTemplate>,
    next: AtomicUsize,
}

impl Sequence {
    fn new(answers: Vec<ResponseTemplate>) -> Self {
        Self {
            answers,
            next: AtomicUsize::new(0),
        }
    }
}

impl Respond for Sequence {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        self.answers[n.min(self.answers.len() - 1)].clone()
    }
}

fn failure(status: u16, code: &str, request_id: &str) -> ResponseTemplate {
    error(status, code, "no").insert_header("X-Request-Id", request_id)
}

/// The state-change lines logged (as JSON objects) since the last call. Fails on a line with
/// the token.
fn take_changes(captured: &Captured) -> Vec<Value> {
    let text = captured.take();
    assert!(
        !text.contains("test-token"),
        "the token reached a log line: {text}"
    );
    text.lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|line| {
            line["message"].as_str().is_some_and(|m| {
                m.starts_with("repository failing") || m.starts_with("repository recovered")
            })
        })
        .collect()
}

/// The line about repository `id`, if any.
fn about(lines: &[Value], id: u32) -> Vec<Value> {
    lines
        .iter()
        .filter(|l| l["repository_id"].as_str() == Some(&id.to_string()))
        .cloned()
        .collect()
}

fn assert_line(line: &Value, level: &str, fields: &[(&str, &str)]) {
    assert_eq!(line["level"], level, "{line}");
    for (key, value) in fields {
        let shown = match &line[*key] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert_eq!(&shown, value, "{key} in {line}");
    }
}

rusty_fork_test! {
    /// In a process of its own, with every task on this thread so that the fan-out task sees
    /// the subscriber of this thread: tracing decides once per call site, for the whole
    /// process, whether anyone listens, and the tests beside it log on other threads.
    #[test]
    fn each_change_of_state_is_logged_once_with_the_answers_identifiers() {
        block_on_this_thread(log_each_change_of_state());
    }
}

async fn log_each_change_of_state() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let upstream = Upstream::start().await;
    // Repository 1: healthy, then not found twice, then healthy again.
    upstream
        .status(
            1,
            Sequence::new(vec![
                ok_status(),
                failure(404, "CH.004404", "req-404-a"),
                failure(404, "CH.004404", "req-404-b"),
                ok_status(),
            ]),
        )
        .await;
    // Repository 2: unauthorized from the very first request, three times, then forbidden.
    upstream
        .status(
            2,
            Sequence::new(vec![
                failure(401, "DEV.00000003", "req-401-a"),
                failure(401, "DEV.00000003", "req-401-b"),
                failure(401, "DEV.00000003", "req-401-c"),
                failure(403, "CH.004403", "req-403"),
            ]),
        )
        .await;
    // Repository 3: healthy throughout.
    upstream.status(3, ok_status()).await;
    let app = app(&config_yaml(&upstream.uri(), &[1, 2, 3], ""));

    // First scrape: a repository failing from the start logs once; healthy ones log nothing.
    scrape(&app, None).await;
    let lines = take_changes(&captured);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_line(
        &lines[0],
        "WARN",
        &[
            ("repository_id", "2"),
            ("repository", "group/repo-2"),
            ("class", "unauthorized"),
            ("previous", "none"),
            ("http_status", "401"),
            ("error_code", "DEV.00000003"),
            ("request_id", "req-401-a"),
        ],
    );

    // Second: repository 1 goes from ok to not_found; repository 2 stays as it was.
    scrape(&app, None).await;
    let lines = take_changes(&captured);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_line(
        &lines[0],
        "WARN",
        &[
            ("repository_id", "1"),
            ("class", "not_found"),
            ("previous", "ok"),
            ("http_status", "404"),
            ("error_code", "CH.004404"),
            ("request_id", "req-404-a"),
        ],
    );

    // Third: nothing changed, nothing logged.
    scrape(&app, None).await;
    assert_eq!(take_changes(&captured), Vec::<Value>::new());

    // Fourth: repository 1 recovers (info); repository 2 changes class (warn).
    scrape(&app, None).await;
    let lines = take_changes(&captured);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let recovered = about(&lines, 1);
    assert_line(
        &recovered[0],
        "INFO",
        &[
            ("repository_id", "1"),
            ("repository", "group/repo-1"),
            ("previous", "not_found"),
            ("http_status", "200"),
        ],
    );
    let forbidden = about(&lines, 2);
    assert_line(
        &forbidden[0],
        "WARN",
        &[
            ("class", "forbidden"),
            ("previous", "unauthorized"),
            ("http_status", "403"),
            ("error_code", "CH.004403"),
            ("request_id", "req-403"),
        ],
    );
    assert!(about(&lines, 3).is_empty());

    // Fifth: all steady again.
    scrape(&app, None).await;
    assert_eq!(take_changes(&captured), Vec::<Value>::new());
}
