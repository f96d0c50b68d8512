//! Every relative link in the repository's Markdown resolves: in each tracked `*.md`, each
//! `[text](target)` that is no web or mail address names a file or directory that exists, and
//! its `#anchor`, when it has one, is a heading of the Markdown page it names, as GitHub makes
//! anchors from headings. What is inside code (fenced blocks, code spans) is text, not a link.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use regex::Regex;

use crate::helpers::*;

/// The repository's tracked Markdown files, relative to its root: as `git ls-files` lists them,
/// or, outside a git checkout (a source archive, a machine without git), every `*.md` under the
/// root but in `target/` and hidden directories, which is what such a copy holds.
fn tracked_markdown() -> Vec<PathBuf> {
    let root = repo_file("");
    let listed = Command::new("git")
        .args(["ls-files", "-z", "--", "*.md"])
        .current_dir(&root)
        .output();
    match listed {
        Ok(listed) if listed.status.success() => String::from_utf8_lossy(&listed.stdout)
            .split('\0')
            .filter(|name| !name.is_empty())
            .map(PathBuf::from)
            .collect(),
        _ => {
            let mut pages = Vec::new();
            markdown_under(&root, Path::new(""), &mut pages);
            pages
        }
    }
}

/// Every `*.md` under `root.join(dir)`, relative to `root`, but in `target/` and hidden
/// directories.
fn markdown_under(root: &Path, dir: &Path, pages: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(root.join(dir))
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", root.join(dir).display()));
    for entry in entries.flatten() {
        let name = entry.file_name();
        let path = dir.join(&name);
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            if name != "target" && !name.to_string_lossy().starts_with('.') {
                markdown_under(root, &path, pages);
            }
        } else if path.extension().is_some_and(|ext| ext == "md") {
            pages.push(path);
        }
    }
}

/// The lines of `text` outside fenced code blocks, numbered from 1.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
        } else if !fenced {
            lines.push((index + 1, line));
        }
    }
    lines
}

/// A link in a heading, whose text alone is shown.
static LINK_IN_HEADING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[([^\]]*)\]\([^)]*\)").unwrap());

/// An ATX heading (`## Title`, optionally closed by `#`s); its text.
static HEADING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^#{1,6}\s+(.*?)\s*#*\s*$").unwrap());

/// A code span, whose text is no link.
static CODE_SPAN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"`+[^`]*`+").unwrap());

/// An inline link's target (after `](`, up to a space or the `)`; an optional title follows).
static LINK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\]\(\s*([^)\s]+)[^)]*\)").unwrap());

/// The anchor GitHub gives a heading: its text as shown (link targets and markup left out),
/// lowercased, without punctuation, each space a `-`.
fn anchor_of(heading: &str) -> String {
    let shown = LINK_IN_HEADING.replace_all(heading, "$1");
    shown
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Every anchor of a Markdown page: one per heading, a repeated one numbered `-1`, `-2`, … as
/// GitHub numbers them.
fn anchors(text: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut anchors = Vec::new();
    for (_, line) in prose_lines(text) {
        let Some(captures) = HEADING.captures(line) else {
            continue;
        };
        let anchor = anchor_of(&captures[1]);
        let repeats = seen.entry(anchor.clone()).or_insert(0);
        anchors.push(match *repeats {
            0 => anchor,
            n => format!("{anchor}-{n}"),
        });
        *repeats += 1;
    }
    anchors
}

/// The targets of the links on one line of prose, code spans left out.
fn link_targets(line: &str) -> Vec<String> {
    let prose = CODE_SPAN.replace_all(line, "");
    LINK.captures_iter(&prose)
        .map(|c| c[1].to_owned())
        .collect()
}

/// Why `target`, linked from `page` (relative to the repository root), does not resolve; `None`
/// when it does.
fn broken(page: &Path, target: &str) -> Option<String> {
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let linked = if path.is_empty() {
        page.to_path_buf()
    } else if let Some(from_root) = path.strip_prefix('/') {
        PathBuf::from(from_root)
    } else {
        page.parent().unwrap_or(Path::new("")).join(path)
    };
    if !repo_file(&linked.to_string_lossy()).exists() {
        return Some(format!("no file {}", linked.display()));
    }
    let anchor = anchor?;
    // Only a Markdown page's anchors are headings; another file's (`#L10`) are GitHub's own.
    if linked.extension().is_none_or(|ext| ext != "md") {
        return None;
    }
    let anchors = anchors(&read(&linked.to_string_lossy()));
    (!anchors.iter().any(|a| a == anchor))
        .then(|| format!("{} has no heading #{anchor}", linked.display()))
}

#[test]
fn every_relative_link_and_anchor_in_the_markdown_resolves() {
    let pages = tracked_markdown();
    assert!(
        pages.contains(&PathBuf::from("README.md"))
            && pages.contains(&PathBuf::from("docs/metrics.md")),
        "the tracked Markdown: {pages:?}"
    );
    let mut checked = 0;
    let mut failures = Vec::new();
    for page in &pages {
        let text = read(&page.to_string_lossy());
        for (number, line) in prose_lines(&text) {
            for target in link_targets(line) {
                if ["http://", "https://", "mailto:"]
                    .iter()
                    .any(|scheme| target.starts_with(scheme))
                {
                    continue;
                }
                checked += 1;
                if let Some(why) = broken(page, &target) {
                    failures.push(format!("{}:{number}: ({target}): {why}", page.display()));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "links that do not resolve:\n{}",
        failures.join("\n")
    );
    // A reader that found no links would pass whatever the pages say.
    assert!(checked >= 100, "only {checked} relative links found");
}

#[test]
fn anchors_are_made_as_github_makes_them() {
    // Headings of these pages, with the anchors GitHub gives them.
    for (heading, anchor) in [
        ("The exporter's own metrics", "the-exporters-own-metrics"),
        (
            "Sizing: rate limit, concurrency, cache and scrape timeout",
            "sizing-rate-limit-concurrency-cache-and-scrape-timeout",
        ),
        ("100,000 repositories", "100000-repositories"),
        ("Securing /metrics", "securing-metrics"),
        ("The ECS agency (`ecs_agency`)", "the-ecs-agency-ecs_agency"),
        ("`event.status`", "eventstatus"),
        ("Scaling out — shards", "scaling-out--shards"),
        ("See [the runbook](RUNBOOK.md)", "see-the-runbook"),
    ] {
        assert_eq!(anchor_of(heading), anchor, "{heading:?}");
    }
    let page = "# Alerts\n\n```sh\n# not a heading\n```\n## Alerts ##\n### Alerts\n";
    assert_eq!(anchors(page), ["alerts", "alerts-1", "alerts-2"]);
}

#[test]
fn links_in_code_are_text() {
    assert_eq!(
        link_targets("[a](x.md) `[b](y.md)` [`c`](z.md#top \"title\")"),
        ["x.md", "z.md#top"]
    );
    let page = "[a](x.md)\n```md\n[b](y.md)\n```\n";
    let lines = prose_lines(page);
    assert_eq!(lines, [(1, "[a](x.md)")]);
}
