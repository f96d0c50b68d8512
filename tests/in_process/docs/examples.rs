//! The configs the documentation shows whole (a YAML block that starts with `codearts:`, as
//! README's one per auth mode) pass the syntax-only check: everything but the files they name
//! and the environment, which only a deployment has. (The shipped files under `examples/` and
//! `deploy/`: `config_files`.)

use codearts_repo_exporter::{CheckMode, Config};

use crate::helpers::*;

/// Every YAML block of every page of the documentation that is a whole config, with the page's
/// name and the line the config starts on. A block inside a list item is indented: its lines
/// lose the fence's indentation.
fn whole_configs() -> Vec<(String, usize, String)> {
    let mut configs = Vec::new();
    for page in doc_pages() {
        let text = std::fs::read_to_string(&page)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", page.display()));
        let name = page
            .strip_prefix(repo_file(""))
            .unwrap_or(&page)
            .display()
            .to_string();
        let lines: Vec<&str> = text.lines().collect();
        for (at, fence) in lines.iter().enumerate() {
            if fence.trim_start() != "```yaml" {
                continue;
            }
            let indent = fence.len() - fence.trim_start().len();
            let block: Vec<&str> = lines[at + 1..]
                .iter()
                .take_while(|line| line.trim_start() != "```")
                .map(|line| line.get(indent..).unwrap_or(""))
                .collect();
            if block.first() == Some(&"codearts:") {
                configs.push((name.clone(), at + 2, block.join("\n")));
            }
        }
    }
    configs
}

#[test]
fn every_whole_config_in_the_documentation_passes_the_syntax_only_check() {
    let configs = whole_configs();
    let mut modes = Vec::new();
    for (page, line, yaml) in &configs {
        let (config, _) = Config::parse_checked(yaml, &|_| None, None, CheckMode::SyntaxOnly)
            .unwrap_or_else(|err| panic!("{page}:{line}: {err}\n{yaml}"));
        modes.push(config.codearts.auth.mode());
    }
    // README shows one per auth mode a user picks from.
    for mode in ["iam", "aksk", "ecs_agency", "token_file"] {
        assert!(
            modes.contains(&mode),
            "no whole config with {mode} auth in the documentation: {modes:?}"
        );
    }
}
