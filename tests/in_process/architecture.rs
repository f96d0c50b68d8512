//! The module tree keeps the data flow of docs/architecture.md: a layer imports only layers
//! before it, and within a layer no two of its modules import each other (not even a module and
//! its parent file). Read from the source text, so it needs no tool beyond Rust; it fails on a
//! new loop with the files and the paths that make it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::helpers::repo_file;

/// The layers, first to last; a module may import only modules of earlier layers.
const LAYERS: &[&[&str]] = &[
    &["heap", "logging", "watched_file"],
    &["config"],
    &["upstream"],
    &["auth"],
    &["client"],
    &["collect"],
    &["metrics"],
    &["app", "demo"],
    &["http"],
    &["cli"],
];

/// A source file: its module path (`["http", "web_config"]` for `src/http/web_config.rs` or
/// `src/http/web_config/mod.rs`) and its code without comments and inline tests.
struct Source {
    path: PathBuf,
    module: Vec<String>,
    code: String,
}

fn sources() -> Vec<Source> {
    let root = repo_file("src");
    let mut files = Vec::new();
    collect_files(&root, &mut files);
    files
        .into_iter()
        .filter_map(|path| {
            let relative = path.strip_prefix(&root).ok()?.to_path_buf();
            let mut module: Vec<String> = relative
                .iter()
                .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
                .collect();
            // The crate root, the binaries: not part of the library's layers.
            if module == ["lib"] || module == ["main"] || module[0] == "bin" {
                return None;
            }
            if module.last().is_some_and(|last| last == "mod") {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).ok()?;
            let code = strip_comments(&without_inline_tests(&text));
            Some(Source {
                path: relative,
                module,
                code,
            })
        })
        .collect()
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text before an inline `#[cfg(test)] mod tests { … }`, whose `super::` means the file's
/// own module. (Tests in a file of their own, `mod tests;`, are checked like any part.)
fn without_inline_tests(text: &str) -> String {
    let mut kept = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod tests {"))
        {
            break;
        }
        kept.push(line);
    }
    kept.join("\n")
}

/// The text without `//` comments (doc comments name modules in links, which are not imports)
/// and without string literals' contents.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut in_string = false;
        let mut previous = '\0';
        let mut kept = String::new();
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !in_string && c == '/' && chars.get(i + 1) == Some(&'/') {
                break;
            }
            if c == '"' && previous != '\\' && previous != '\'' {
                in_string = !in_string;
            } else if !in_string {
                kept.push(c);
            }
            previous = c;
            i += 1;
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// Every path of `code` that starts with `prefix` (`crate::`, `super::`…), as its segments
/// after the prefix; a `{…}` group gives one path per item. A glob ends a path.
fn chains(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        rest = &rest[at + prefix.len()..];
        // `xsuper::` or `a::crate::` are not this prefix.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        expand(rest, Vec::new(), &mut found);
    }
    found
}

/// The paths that `text` (what follows a prefix) starts with, each after `stem`.
fn expand(text: &str, stem: Vec<String>, found: &mut Vec<Vec<String>>) {
    let mut chain = stem;
    let mut rest = text;
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            for item in group_items(group) {
                expand(item.trim_start(), chain.clone(), found);
            }
            return;
        }
        let ident: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() {
            found.push(chain);
            return;
        }
        rest = &rest[ident.len()..];
        chain.push(ident);
        match rest.strip_prefix("::") {
            Some(after) => rest = after,
            None => {
                found.push(chain);
                return;
            }
        }
    }
}

/// The top-level items of a `{…}` group (given without its `{`).
fn group_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut level = 0;
    let mut start = 0;
    for (i, c) in group.char_indices() {
        match c {
            '{' => level += 1,
            '}' if level == 0 => {
                items.push(&group[start..i]);
                return items;
            }
            '}' => level -= 1,
            ',' if level == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items
}

fn layer_of(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&module))
        .unwrap_or_else(|| panic!("module `{module}` is in no layer of LAYERS: add it"))
}

/// The modules `source` imports: each path it names, cut to the longest prefix that is a
/// module of the crate.
fn imported_modules(source: &Source, modules: &BTreeSet<Vec<String>>) -> BTreeSet<Vec<String>> {
    let mut named: Vec<Vec<String>> = chains(&source.code, "crate::");
    let mut base = source.module.clone();
    let mut prefix = String::new();
    while !base.is_empty() {
        base.pop();
        prefix.push_str("super::");
        named.extend(chains(&source.code, &prefix).into_iter().map(|chain| {
            let mut full = base.clone();
            full.extend(chain);
            full
        }));
    }
    for chain in chains(&source.code, "self::") {
        let mut full = source.module.clone();
        full.extend(chain);
        named.push(full);
    }
    // A module's own file names its children without a prefix (`use iam::IamTokens`).
    for module in modules {
        if module.len() == source.module.len() + 1 && module.starts_with(&source.module) {
            let child = format!("{}::", module[module.len() - 1]);
            let used = source.code.match_indices(&child).any(|(at, _)| {
                let before = source.code[..at].chars().last();
                !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            });
            if used {
                named.push(module.clone());
            }
        }
    }
    named
        .into_iter()
        .filter_map(|chain| {
            (1..=chain.len())
                .rev()
                .map(|n| chain[..n].to_vec())
                .find(|prefix| modules.contains(prefix))
        })
        .filter(|module| *module != source.module)
        .collect()
}

/// Every module of the crate and what it imports.
fn import_graph() -> Vec<(Source, BTreeSet<Vec<String>>)> {
    let sources = sources();
    let modules: BTreeSet<Vec<String>> = sources.iter().map(|s| s.module.clone()).collect();
    sources
        .into_iter()
        .map(|source| {
            let imports = imported_modules(&source, &modules);
            (source, imports)
        })
        .collect()
}

#[test]
fn every_module_imports_only_earlier_layers() {
    let mut wrong = Vec::new();
    for (source, imports) in import_graph() {
        let layer = layer_of(&source.module[0]);
        for imported in imports {
            if imported[0] != source.module[0] && layer_of(&imported[0]) >= layer {
                wrong.push(format!(
                    "src/{} imports crate::{}, which is not an earlier layer",
                    source.path.display(),
                    imported.join("::")
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// For every module with children: which of its children (and its own file, `""`) import which.
/// An import of `a::b::c` from `a::d` is an edge `d -> b` under `a`: the two children of their
/// closest common module.
fn sibling_graph() -> BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> {
    let mut graph: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (source, imports) in import_graph() {
        for imported in imports {
            let common = source
                .module
                .iter()
                .zip(&imported)
                .take_while(|(a, b)| a == b)
                .count();
            if common == 0 {
                continue;
            }
            let child = |module: &[String]| module.get(common).cloned().unwrap_or_default();
            let (from, to) = (child(&source.module), child(&imported));
            if from != to {
                graph
                    .entry(source.module[..common].to_vec())
                    .or_default()
                    .entry(from)
                    .or_default()
                    .insert(to);
            }
        }
    }
    graph
}

#[test]
fn no_two_modules_import_each_other() {
    let mut loops = Vec::new();
    for (parent, edges) in sibling_graph() {
        let name = |child: &str| {
            let mut path = parent.clone();
            if !child.is_empty() {
                path.push(child.to_owned());
            }
            path.join("::")
        };
        for (from, targets) in &edges {
            for to in targets {
                if let Some(path) = find_path(&edges, to, from) {
                    // One line per loop, however many of its modules it passes through.
                    let mut cycle: Vec<String> = path.iter().map(|p| name(p)).collect();
                    let first = (0..cycle.len())
                        .min_by_key(|&i| &cycle[i])
                        .unwrap_or_default();
                    cycle.rotate_left(first);
                    cycle.push(cycle[0].clone());
                    loops.push(cycle.join(" -> "));
                }
            }
        }
    }
    loops.sort();
    loops.dedup();
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}

/// A path from `start` to `goal` along `edges`, `start` included.
fn find_path(
    edges: &BTreeMap<String, BTreeSet<String>>,
    start: &str,
    goal: &str,
) -> Option<Vec<String>> {
    let mut stack = vec![vec![start.to_owned()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().cloned().unwrap_or_default();
        if last == goal {
            return Some(path);
        }
        if !seen.insert(last.clone()) {
            continue;
        }
        for next in edges.get(&last).into_iter().flatten() {
            let mut longer = path.clone();
            longer.push(next.clone());
            stack.push(longer);
        }
    }
    None
}

#[test]
fn the_checks_see_imports_in_every_form() {
    let code =
        "use crate::a::b;\nuse super::{c::D, e, f::{g, h}};\nlet x = crate::i::j();\nuse super::*;";
    let strings = |chains: Vec<Vec<String>>| -> Vec<String> {
        chains.into_iter().map(|c| c.join("::")).collect()
    };
    assert_eq!(strings(chains(code, "crate::")), ["a::b", "i::j"]);
    assert_eq!(
        strings(chains(code, "super::")),
        ["c::D", "e", "f::g", "f::h", ""]
    );
    assert_eq!(
        without_inline_tests("use a;\n#[cfg(test)]\nmod tests {\n    use super::*;\n}"),
        "use a;"
    );
    assert_eq!(
        strip_comments("use x; // crate::y\n/// [`crate::z`]\nlet s = \"crate::w\";"),
        "use x; \n\nlet s = ;\n"
    );
}
