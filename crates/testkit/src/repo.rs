//! This repository's own files as the tests read them: any file by its path, a folder's entries,
//! and a section of
//! the documentation by the marker that starts it (a heading or an HTML comment).
//!
//! A section is looked for in every page of the documentation — README.md first, then the
//! pages under `docs/` — so moving a section from one page to another changes no test. The
//! pages searched are listed in [`doc_pages`], and nowhere else.

use std::path::{Path, PathBuf};

/// `relative` inside this repository.
pub fn repo_file(relative: &str) -> PathBuf {
    // This crate lives at crates/testkit; the repository is two levels up.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the repository holds crates/testkit");
    root.join(relative)
}

/// The text of `relative`; panics naming the file when it cannot be read.
pub fn read(relative: &str) -> String {
    let path = repo_file(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

/// The names of the entries of the repository's folder `relative`, sorted.
pub fn file_names(relative: &str) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(repo_file(relative))
        .unwrap_or_else(|e| panic!("cannot list {relative}: {e}"))
        .map(|entry| {
            let entry = entry.unwrap_or_else(|e| panic!("cannot list {relative}: {e}"));
            entry.file_name().to_string_lossy().into_owned()
        })
        .collect()
}

/// Every page of the documentation, in the order sections are looked for: README.md, then the
/// Markdown pages under `docs/` by name.
pub fn doc_pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(repo_file("docs"))
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
                .collect()
        })
        .unwrap_or_default();
    pages.sort();
    pages.insert(0, repo_file("README.md"));
    pages
}

/// The whole documentation, page after page.
pub fn docs_text() -> String {
    doc_pages()
        .iter()
        .map(|page| {
            std::fs::read_to_string(page)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", page.display()))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text from `marker` on, in the one page of [`doc_pages`] that has it; panics when none
/// has it, or when it stands more than once (a page that quotes a marker would otherwise be
/// read in place of the section it names).
pub fn doc_after(marker: &str) -> String {
    let mut found = Vec::new();
    for page in doc_pages() {
        let text = std::fs::read_to_string(&page)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", page.display()));
        for (at, _) in text.match_indices(marker) {
            found.push((page.clone(), text[at..].to_owned()));
        }
    }
    match found.len() {
        0 => panic!("no page of the documentation (README.md, docs/) has {marker:?}"),
        1 => found.remove(0).1,
        _ => {
            let pages: Vec<String> = found.iter().map(|(p, _)| p.display().to_string()).collect();
            panic!("{marker:?} stands {} times ({}): a marker names one section; quote it in other words", pages.len(), pages.join(", "))
        }
    }
}

/// The first ```yaml block after `marker` (see [`doc_after`]).
pub fn doc_yaml_after(marker: &str) -> String {
    let block = doc_after(marker);
    let start = block
        .find("```yaml\n")
        .unwrap_or_else(|| panic!("no yaml block after {marker:?}"))
        + "```yaml\n".len();
    let end = block[start..]
        .find("```")
        .unwrap_or_else(|| panic!("the yaml block after {marker:?} does not end"));
    block[start..start + end].to_owned()
}

/// The rows of the first table after the line of `marker` (see [`doc_after`]), header and
/// separator left out, each cell trimmed of spaces and backticks.
pub fn doc_table_after(marker: &str) -> Vec<Vec<String>> {
    table_rows(&doc_after(marker))
}

/// The rows of every table that follows a line of `marker`, in every page of [`doc_pages`] (as
/// [`doc_table_after`] reads each): for a marker that heads several tables, such as one table
/// per kind of metric. Panics when no page has `marker`.
pub fn doc_rows_after_every(marker: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for page in doc_pages() {
        let text = std::fs::read_to_string(&page)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", page.display()));
        for (at, _) in text.match_indices(marker) {
            rows.extend(table_rows(&text[at..]));
        }
    }
    assert!(
        !rows.is_empty(),
        "no page of the documentation (README.md, docs/) has a table after {marker:?}"
    );
    rows
}

/// The rows of the first table after the first line of `text`.
fn table_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .skip(1)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|row| {
            row.trim()
                .trim_start_matches('|')
                .trim_end_matches('|')
                .split('|')
                .map(|cell| cell.trim().trim_matches('`').to_owned())
                .collect()
        })
        .collect()
}
