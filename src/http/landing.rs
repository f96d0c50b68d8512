//! The landing page: name, version, links, and each watched repository's latest result.
//! Plain HTML with no external assets, so it works on an isolated network.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;

use crate::app::{App, Landing};
use crate::collect::RepositoryResult;

pub(crate) async fn page(State(app): State<Arc<App>>) -> Html<String> {
    let Landing {
        summary,
        credential_expiry,
        discovery,
        scraped,
        repositories,
    } = app.landing();
    let mut summary = escape(&summary);
    if let Some((credential, expiry)) = credential_expiry {
        let _ = write!(
            summary,
            "<br>{credential} expires at {}",
            humantime::format_rfc3339_seconds(expiry)
        );
    }
    if let Some(state) = discovery {
        let when = state
            .last_success
            .map(|t| humantime::format_rfc3339_seconds(t).to_string())
            .unwrap_or_else(|| "never".to_owned());
        let _ = write!(
            summary,
            "<br>Discovery: {} repositories, last success {when}",
            state.repositories
        );
        if let Some(err) = &state.last_error {
            let _ = write!(
                summary,
                "<br><span class=\"bad\">Discovery failing: {}</span>",
                escape(err)
            );
        }
    }
    Html(render(&summary, scraped, &repositories))
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Rows are capped so a 10,000-repository exporter still answers with a small page.
const MAX_ROWS: usize = 500;

fn render(summary: &str, scraped: bool, results: &[RepositoryResult]) -> String {
    let mut html = String::with_capacity(4096 + results.len().min(MAX_ROWS) * 200);
    let _ = write!(
        html,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>CodeArts Repo Exporter</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left}}.bad{{color:#b00}}</style></head><body>\
         <h1>CodeArts Repo Exporter</h1><p>Version {version}</p>\
         <ul><li><a href=\"metrics\">Metrics</a></li><li><a href=\"healthz\">Health</a></li>\
         <li><a href=\"readyz\">Readiness</a></li><li><a href=\"probe?repository_id=\">Probe</a> (add an id)</li></ul>\
         <h2>Configuration</h2><p>{summary}</p><h2>Repositories ({count})</h2>\
         <table><tr><th>id</th><th>name</th><th>result</th><th>HTTP</th><th>can_statistics</th>\
         <th>reason</th><th>event status</th><th>updated_at</th></tr>",
        version = env!("CARGO_PKG_VERSION"),
        count = results.len(),
    );
    for result in results.iter().take(MAX_ROWS) {
        let outcome = match (result.error, result.http_status) {
            (Some(class), _) => format!("<span class=\"bad\">{}</span>", class.as_label()),
            // No answer yet, which is no failure, so not in the words of one.
            (None, 0) if scraped => "no answer yet".to_owned(),
            (None, 0) => "no scrape yet".to_owned(),
            (None, _) => "ok".to_owned(),
        };
        // 0 means no HTTP answer came (never asked, or a timeout or connection failure).
        let http = match result.http_status {
            0 => String::new(),
            status => status.to_string(),
        };
        let status = result.status.as_deref();
        let event = status.and_then(|s| s.event.as_ref());
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            result.repository.id,
            escape(result.repository.name.as_deref().unwrap_or("")),
            outcome,
            http,
            status.and_then(|s| s.can_statistics).map(|b| b.to_string()).unwrap_or_default(),
            status.and_then(|s| s.reason).map(|r| r.to_string()).unwrap_or_default(),
            escape(event.and_then(|e| e.status.as_deref()).unwrap_or("")),
            escape(event.and_then(|e| e.updated_at.as_deref()).unwrap_or("")),
        );
    }
    html.push_str("</table>");
    if results.len() > MAX_ROWS {
        let _ = write!(
            html,
            "<p>… and {} more (see /metrics).</p>",
            results.len() - MAX_ROWS
        );
    }
    html.push_str("</body></html>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped() {
        assert_eq!(escape("<script>&\"'"), "&lt;script&gt;&amp;&quot;&#39;");
    }
}
