//! An upstream that misbehaves at the byte level. Each case: the repository gets the right
//! class, the scrape answers 200 in time, the other repository is untouched, the process lives.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::helpers::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Scenario = Arc<dyn Fn(TcpStream) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

const GOOD: &str = r#"{"can_statistics": true, "reason": 0}"#;

/// A raw TCP upstream: repository 1 answers well; every other request is handed to `scenario`
/// after its headers were read.
async fn raw_upstream(scenario: Scenario) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let scenario = scenario.clone();
            tokio::spawn(async move {
                // One request per connection is enough for these cases.
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head).to_string();
                if head.starts_with("GET /v4/repositories/1/") {
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{GOOD}",
                        GOOD.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                    return;
                }
                scenario(stream).await;
            });
        }
    });
    endpoint
}

fn scenario<F, Fut>(f: F) -> Scenario
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |stream| Box::pin(f(stream)))
}

/// Scrapes repositories 1 (good) and 2 (hostile) with a 2 s request timeout and a 4 s scrape
/// header; returns repository 2's class and the scrape's duration.
async fn scrape_hostile(scenario: Scenario) -> (Option<String>, Duration) {
    let (class, _, elapsed) = scrape_hostile_status(scenario).await;
    (class, elapsed)
}

/// Like [`scrape_hostile`], with repository 2's `http_status` too.
async fn scrape_hostile_status(scenario: Scenario) -> (Option<String>, Option<f64>, Duration) {
    let endpoint = raw_upstream(scenario).await;
    let app = app(&config_yaml(&endpoint, &[1, 2], "  request_timeout: 2s\n"));
    let answer = scrape(&app, Some("4")).await;
    assert_eq!(
        answer.body.up(1),
        Some(1.0),
        "the good repository is untouched"
    );
    assert!(
        answer.elapsed < Duration::from_millis(3600),
        "answered after {:?}",
        answer.elapsed
    );
    let class = answer.body.class(2).map(str::to_owned);
    let http_status = answer.body.value(
        "codearts_repo_statistics_http_status",
        &[("repository_id", "2")],
    );
    println!(
        "hostile: class {class:?}, http_status {http_status:?}, scrape answered in {:?}",
        answer.elapsed
    );
    (class, http_status, answer.elapsed)
}

async fn write_then_close(mut stream: TcpStream, bytes: Vec<u8>) {
    let _ = stream.write_all(&bytes).await;
    let _ = stream.flush().await;
}

#[tokio::test]
async fn connection_reset_mid_body_is_class_connection() {
    let (class, _) = scrape_hostile(scenario(|stream: TcpStream| async move {
        let mut stream = stream;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"can_stat")
            .await;
        // SO_LINGER 0: the close sends a TCP reset.
        let _ = stream.set_zero_linger();
        drop(stream);
    }))
    .await;
    assert_eq!(class.as_deref(), Some("connection"));
}

#[tokio::test]
async fn body_dripping_one_byte_per_second_is_cut_by_request_timeout() {
    let (class, elapsed) = scrape_hostile(scenario(|stream: TcpStream| async move {
        let mut stream = stream;
        let _ = stream
            .write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
            )
            .await;
        for _ in 0..100 {
            if stream.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }))
    .await;
    assert_eq!(class.as_deref(), Some("timeout"));
    assert!(
        elapsed >= Duration::from_millis(1900),
        "bounded by request_timeout: {elapsed:?}"
    );
}

#[tokio::test]
async fn truncated_chunked_encoding_is_class_connection() {
    let (class, _) = scrape_hostile(scenario(|stream: TcpStream| {
        write_then_close(
            stream,
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"can_statistics\"\r\n5\r\n: tr".to_vec(),
        )
    }))
    .await;
    assert_eq!(class.as_deref(), Some("connection"));
}

#[tokio::test]
async fn invalid_utf8_inside_a_string_is_class_invalid_response() {
    let mut body = b"{\"can_statistics\": true, \"event\": {\"branch\": \"".to_vec();
    body.extend_from_slice(&[0xff, 0xfe, 0xfd]);
    body.extend_from_slice(b"\"}}");
    let (class, _) = scrape_hostile(scenario(move |stream: TcpStream| {
        let mut answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        answer.extend_from_slice(&body);
        write_then_close(stream, answer)
    }))
    .await;
    assert_eq!(class.as_deref(), Some("invalid_response"));
}

fn json_answer(body: String) -> Scenario {
    scenario(move |stream: TcpStream| {
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        write_then_close(stream, answer.into_bytes())
    })
}

#[tokio::test]
async fn json_nested_100000_levels_in_a_known_field_drops_that_field_only() {
    // Decoding is lenient (a field that does not convert goes missing, as in the official SDK),
    // and the nested value is skipped iteratively: no stack overflow, the rest still counts.
    let depth = 100_000;
    let body = format!(
        "{{\"can_statistics\": true, \"event\": {{\"status\": \"finish\", \"branch\": {}1{}}}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let endpoint = raw_upstream(json_answer(body)).await;
    let app = app(&config_yaml(&endpoint, &[2], ""));
    let answer = scrape(&app, None).await.body;
    assert_eq!(
        answer.series("codearts_repo_statistics_can_statistics", 2),
        Some(1.0)
    );
    let info = answer.repo_series("codearts_repo_statistics_event_info", 2);
    assert_eq!(info[0].labels["status"], "finish");
    assert_eq!(
        info[0].labels["branch"], "",
        "the unreadable branch is left out"
    );
}

#[tokio::test]
async fn json_nested_100000_levels_at_the_top_is_class_invalid_response() {
    let depth = 100_000;
    let body = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    let (class, _) = scrape_hostile(json_answer(body)).await;
    assert_eq!(class.as_deref(), Some("invalid_response"));
}

#[tokio::test]
async fn json_nested_100000_levels_in_an_unknown_field_is_skipped_without_recursion() {
    // Unknown fields are ignored by design (the API may grow); serde_json skips them without
    // recursing, so even this cannot overflow the stack, and the known fields still count.
    let depth = 100_000;
    let body = format!(
        "{{\"can_statistics\": false, \"future\": {}1{}}}",
        "{\"a\":".repeat(depth),
        "}".repeat(depth)
    );
    let endpoint = raw_upstream(json_answer(body)).await;
    let app = app(&config_yaml(&endpoint, &[2], ""));
    let answer = scrape(&app, None).await.body;
    assert_eq!(
        answer.series("codearts_repo_statistics_can_statistics", 2),
        Some(0.0)
    );
}

#[tokio::test]
async fn a_100_mb_body_stops_at_the_cap() {
    // Chunked, so no Content-Length announces it: the reader has to stop by itself.
    let before = proc_sample(std::process::id());
    let (class, http_status, _) = scrape_hostile_status(scenario(|stream: TcpStream| async move {
        let mut stream = stream;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await;
        let chunk = vec![b' '; 1 << 20];
        let framed = [format!("{:x}\r\n", chunk.len()).into_bytes(), chunk, b"\r\n".to_vec()].concat();
        for _ in 0..100 {
            if stream.write_all(&framed).await.is_err() {
                return;
            }
        }
    }))
    .await;
    assert_eq!(class.as_deref(), Some("invalid_response"));
    assert_eq!(
        http_status,
        Some(200.0),
        "the status that came is kept when the body passes the cap"
    );
    // The read stops at the 1 MiB cap: the process' peak memory grows by a few MiB, not 100.
    let after = proc_sample(std::process::id());
    let growth = after.hwm_kib.saturating_sub(before.hwm_kib);
    println!("hostile: 100 MB body, peak RSS grew by {growth} KiB");
    assert!(growth < 24 * 1024, "peak RSS grew by {growth} KiB");
}

#[tokio::test]
async fn an_announced_100_mb_body_is_refused_before_reading() {
    let (class, _) = scrape_hostile(scenario(|stream: TcpStream| async move {
        let mut stream = stream;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n{")
            .await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    }))
    .await;
    assert_eq!(class.as_deref(), Some("invalid_response"));
}

#[tokio::test]
async fn content_length_shorter_than_the_body_is_class_invalid_response() {
    let (class, _) = scrape_hostile(scenario(|stream: TcpStream| {
        write_then_close(
            stream,
            format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10\r\nConnection: close\r\n\r\n{GOOD}").into_bytes(),
        )
    }))
    .await;
    assert_eq!(class.as_deref(), Some("invalid_response"));
}

#[tokio::test]
async fn content_length_longer_than_the_body_is_class_connection() {
    let (class, _) = scrape_hostile(scenario(|stream: TcpStream| {
        write_then_close(
            stream,
            format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\nConnection: close\r\n\r\n{GOOD}").into_bytes(),
        )
    }))
    .await;
    assert_eq!(class.as_deref(), Some("connection"));
}

#[tokio::test]
async fn a_redirect_to_the_same_host_is_not_followed() {
    let (class, _) = scrape_hostile(scenario(|stream: TcpStream| {
        write_then_close(
            stream,
            b"HTTP/1.1 301 Moved Permanently\r\nLocation: /v4/repositories/1/repository/statistics-status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
        )
    }))
    .await;
    assert_eq!(class.as_deref(), Some("invalid_response"));
}

#[tokio::test]
async fn a_redirect_to_another_host_never_carries_the_token() {
    // The other host records whether anything reached it at all.
    let other = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_addr = other.local_addr().unwrap();
    let reached = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = reached.clone();
    tokio::spawn(async move {
        if other.accept().await.is_ok() {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let (class, _) = scrape_hostile(scenario(move |stream: TcpStream| {
        write_then_close(
            stream,
            format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{other_addr}/steal\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").into_bytes(),
        )
    }))
    .await;
    assert_eq!(class.as_deref(), Some("invalid_response"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !reached.load(std::sync::atomic::Ordering::SeqCst),
        "no connection to the other host"
    );
}

#[tokio::test]
async fn garbage_instead_of_http_is_class_connection() {
    let (class, _) = scrape_hostile(scenario(|stream: TcpStream| {
        write_then_close(stream, b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02".to_vec())
    }))
    .await;
    assert_eq!(class.as_deref(), Some("connection"));
}
