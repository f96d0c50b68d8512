//! docs/deployment.md's VM install against what the release tarball ships: its `install` steps
//! are the unit's own header, run from the tarball's directory (the binary at its top,
//! `deploy/systemd/…` beside it, nothing from a build tree), install every file of
//! `deploy/systemd/`, and put in place exactly the secret files the drop-ins' `LoadCredential=`
//! lines load.

use std::collections::BTreeSet;

use crate::helpers::*;

const UNIT: &str = "deploy/systemd/codearts-repo-exporter.service";

/// An `install` command without its trailing comment and with its spaces collapsed.
fn normalized(command: &str) -> String {
    let command = command.split(" #").next().unwrap_or(command);
    command.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `install` commands of the shell blocks of docs/deployment.md's systemd section.
fn documented_steps() -> BTreeSet<String> {
    let section = doc_after("## systemd");
    let mut steps = BTreeSet::new();
    let mut in_shell = false;
    for line in section.lines() {
        match line.trim() {
            "```sh" => in_shell = true,
            "```" => in_shell = false,
            command if in_shell && command.starts_with("install ") => {
                steps.insert(normalized(command));
            }
            _ => {}
        }
    }
    assert!(!steps.is_empty(), "no install step under ## systemd");
    steps
}

/// The `install` commands the unit's header lists (`#   install …`).
fn unit_header_steps() -> BTreeSet<String> {
    read(UNIT)
        .lines()
        .take_while(|line| line.starts_with('#'))
        .filter_map(|line| line.trim_start_matches('#').trim().strip_prefix("install "))
        .map(|rest| normalized(&format!("install {rest}")))
        .collect()
}

/// What a step copies from the tarball's directory: the relative paths among its arguments.
fn sources(step: &str) -> Vec<&str> {
    step.split_whitespace()
        .skip(1)
        .filter(|arg| !arg.starts_with('-') && !arg.starts_with('/'))
        .filter(|arg| !arg.chars().all(|c| c.is_ascii_digit()))
        .collect()
}

#[test]
fn the_documented_vm_install_is_the_units_own_header() {
    assert_eq!(documented_steps(), unit_header_steps());
}

#[test]
fn the_vm_install_copies_from_the_tarballs_directory_and_installs_every_systemd_file() {
    let mut installed = BTreeSet::new();
    for step in documented_steps() {
        for source in sources(&step) {
            assert!(
                !source.starts_with("target/"),
                "`{step}` copies from a build tree, which the tarball has not"
            );
            assert!(
                source == "codearts-repo-exporter" || source.starts_with("deploy/systemd/"),
                "`{step}` copies {source}, which is neither the tarball's binary nor under deploy/systemd/"
            );
            assert!(
                repo_file(source).exists() || source == "codearts-repo-exporter",
                "{source}"
            );
            installed.insert(source.to_owned());
        }
    }
    assert!(
        installed.contains("codearts-repo-exporter"),
        "{installed:?}"
    );
    for name in file_names("deploy/systemd") {
        let file = format!("deploy/systemd/{name}");
        assert!(
            installed.contains(&file),
            "no documented step installs {file}"
        );
    }
}

#[test]
fn the_vm_install_puts_in_place_exactly_the_secret_files_the_drop_ins_load() {
    let loaded: BTreeSet<String> = file_names("deploy/systemd")
        .into_iter()
        .filter(|name| name.ends_with(".conf"))
        .flat_map(|drop_in| {
            read(&format!("deploy/systemd/{drop_in}"))
                .lines()
                .filter_map(|line| line.strip_prefix("LoadCredential="))
                .map(|value| value.split_once(':').expect("ID:PATH").1.to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    let written: BTreeSet<String> = documented_steps()
        .iter()
        .filter_map(|step| step.strip_prefix("install -m 0600 /dev/stdin "))
        .map(str::to_owned)
        .collect();
    assert_eq!(written, loaded);
}
