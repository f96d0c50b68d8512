//! Files of this repository that tests read as written: the README's YAML blocks.

use std::path::{Path, PathBuf};

/// `relative` inside this repository.
pub fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The first ```yaml block after `marker` in README.md.
pub fn readme_yaml_after(marker: &str) -> String {
    let readme = std::fs::read_to_string(repo_file("README.md")).expect("README.md");
    let from = readme
        .find(marker)
        .unwrap_or_else(|| panic!("README.md has no {marker:?}"));
    let block = &readme[from..];
    let start = block.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = block[start..].find("```").expect("end of the yaml block");
    block[start..start + end].to_owned()
}
