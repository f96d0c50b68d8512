//! The landing page, through the router: before the first scrape a repository reads "no scrape
//! yet" (not "pending" with HTTP status 0, which looked like a failure); after it, its result and
//! the HTTP status of the answer, no status where no answer came, and "no answer yet" while its
//! first request is still under way.

use std::time::Duration;

use crate::helpers::*;

/// The landing page's row of repository `id` (`group/repo-<id>`): its cells from the result on.
fn row(page: &str, id: u32) -> &str {
    let start = page
        .find(&format!("<tr><td>{id}</td><td>group/repo-{id}</td>"))
        .unwrap_or_else(|| panic!("no row for {id} in {page}"));
    let row = &page[start..];
    &row[..row.find("</tr>").expect("end of row")]
}

#[tokio::test]
async fn before_the_first_scrape_a_repository_reads_no_scrape_yet() {
    let upstream = Upstream::start().await;
    upstream.status(1, ok_status()).await;
    upstream
        .status(2, ok_status().set_delay(Duration::from_secs(5)))
        .await;
    let app = app(&config_yaml(&upstream.uri(), &[1, 2], ""));

    let before = get(&app, "/").await.body;
    for id in [1, 2] {
        let row = row(&before, id);
        assert!(
            row.ends_with("<td>no scrape yet</td><td></td><td></td><td></td><td></td><td></td>"),
            "{row}"
        );
    }
    assert!(!before.contains("pending"), "{before}");

    // A budget of half a second: repository 2 answers too late for the scrape, which reports it
    // as timed out; its request goes on, and the page says it has no answer yet.
    let scraped = scrape(&app, Some("1")).await.body;
    assert_eq!(scraped.class(2), Some("timeout"));
    let after = get(&app, "/").await.body;
    assert!(
        row(&after, 1).contains("<td>ok</td><td>200</td>"),
        "{after}"
    );
    assert!(
        row(&after, 2).contains("<td>no answer yet</td><td></td>"),
        "{after}"
    );
    assert!(!after.contains("no scrape yet"), "{after}");
}

#[tokio::test]
async fn a_failure_without_an_http_answer_shows_its_class_and_no_status() {
    // Nothing listens on port 9 of loopback: every request fails to connect.
    let app = app(&config_yaml("http://127.0.0.1:9", &[1], ""));
    scrape(&app, Some("5")).await;
    let page = get(&app, "/").await.body;
    assert!(
        row(&page, 1).contains("<td><span class=\"bad\">connection</span></td><td></td>"),
        "{page}"
    );
}
