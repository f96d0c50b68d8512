//! Bakes the git revision into the binary as `CODEARTS_EXPORTER_REVISION`, which `--version`
//! and `codearts_repo_exporter_build_info` show.
//!
//! The revision is, in order: the `CODEARTS_EXPORTER_REVISION` environment variable when it is
//! set and not empty (the container build passes it, since its context has no `.git`), else
//! `git rev-parse HEAD` of the checkout being built, else `unknown` (a source tarball, or no git
//! on the machine). A failing git never fails the build.

use std::path::PathBuf;
use std::process::Command;

const VARIABLE: &str = "CODEARTS_EXPORTER_REVISION";

fn main() {
    println!("cargo:rerun-if-env-changed={VARIABLE}");
    // Without any rerun-if-changed line cargo would rerun this script whenever any file of the
    // package changes; naming this file limits it to the git files named below.
    println!("cargo:rerun-if-changed=build.rs");

    let revision = match std::env::var(VARIABLE) {
        Ok(given) if !given.trim().is_empty() => given.trim().to_owned(),
        _ => git_revision().unwrap_or_else(|| "unknown".to_owned()),
    };
    println!("cargo:rustc-env={VARIABLE}={revision}");
}

/// `git rev-parse HEAD`, and asks cargo to rerun this script when HEAD moves: on a commit or a
/// checkout, the file HEAD names (or packed-refs) changes.
fn git_revision() -> Option<String> {
    let revision = git(&["rev-parse", "--verify", "HEAD"])?;
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])?];
    if let Some(reference) = git(&["symbolic-ref", "--quiet", "HEAD"]) {
        watched.push(git(&["rev-parse", "--git-path", &reference])?);
    }
    watched.push(git(&["rev-parse", "--git-path", "packed-refs"])?);
    for path in watched {
        // A missing file would make cargo rerun this script on every build.
        if PathBuf::from(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    Some(revision)
}

/// One git command's trimmed standard output, or None when git is missing or fails.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}
