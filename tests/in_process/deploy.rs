//! The shipping artefacts (Dockerfile, deploy/, examples/) agree with each other: every YAML
//! parses, manifests have the kinds we ship, workloads run restricted on port 9825 with the right
//! probes, the example configs read the keys their example Secrets hold, and the PrometheusRule is
//! exactly the shipped dashboards/rules.yml + dashboards/alerts.yml.
//!
//! These read the files as written. What the real tools make of them — each overlay rendered by
//! `kubectl kustomize` and validated, the configs through the exporter's loader, the systemd unit
//! through `systemd-analyze`, the image built by buildah — is in the end-to-end tier's
//! `deploy_tools`, this tier's `shipped_configs` and `scripts/image.sh`.
//!
//! Regenerating the PrometheusRule after the rules or alerts change:
//!
//! ```text
//! UPDATE_GENERATED=1 cargo test --test in_process deploy::prometheus_rule
//! ```
//!
//! rewrites `deploy/kubernetes/base/prometheusrule.yaml` from the rule files and passes; commit the
//! result. `DASHBOARDS_DIR=/some/dir` reads the rule files from elsewhere than `dashboards/`.
//! These tests read files only; they start nothing and need no network.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde_yaml_ng::{Mapping, Value};

use crate::helpers::yaml::{at, documents, str_at};
use crate::helpers::{docs_text, file_names, read, repo_file};

const PORT: u64 = 9825;
const PORT_NAME: &str = "http-metrics";
const UID: u64 = 65532;
const CONFIG_DIR: &str = "/etc/codearts-repo-exporter";
const CONFIG_FILE: &str = "/etc/codearts-repo-exporter/config.yml";
const SECRETS_DIR: &str = "/run/secrets/codearts";
const PROMETHEUS_RULE: &str = "deploy/kubernetes/base/prometheusrule.yaml";

/// The namespace the overlays deploy into, and in which the credentials Secret must be created.
const NAMESPACE: &str = "codearts-repo-exporter";
/// The credentials Secret every auth mode mounts at [`SECRETS_DIR`].
const SECRET_NAME: &str = "codearts-repo-exporter-credentials";
/// The ConfigMap the base generates from its config.yml (components replace its content).
const CONFIGMAP_NAME: &str = "codearts-repo-exporter";
/// Where the shipped alerts' runbook_url points; docs/deployment.md documents replacing it.
const RUNBOOK_BASE: &str =
    "https://github.com/codearts-repo-exporter/codearts-repo-exporter/blob/main/RUNBOOK.md";

const KUSTOMIZATION: (&str, &str) = ("kustomize.config.k8s.io/v1beta1", "Kustomization");
const COMPONENT: (&str, &str) = ("kustomize.config.k8s.io/v1alpha1", "Component");

/// Every Kubernetes manifest we ship (relative to deploy/kubernetes) and the (apiVersion, kind)
/// of its documents, in order.
const KUBERNETES_FILES: &[(&str, &[(&str, &str)])] = &[
    ("base/kustomization.yaml", &[KUSTOMIZATION]),
    ("base/deployment.yaml", &[("apps/v1", "Deployment")]),
    ("base/service.yaml", &[("v1", "Service")]),
    (
        "base/servicemonitor.yaml",
        &[("monitoring.coreos.com/v1", "ServiceMonitor")],
    ),
    (
        "base/prometheusrule.yaml",
        &[("monitoring.coreos.com/v1", "PrometheusRule")],
    ),
    ("components/iam/kustomization.yaml", &[COMPONENT]),
    ("components/aksk/kustomization.yaml", &[COMPONENT]),
    ("components/token-file/kustomization.yaml", &[COMPONENT]),
    ("components/sharded/kustomization.yaml", &[COMPONENT]),
    (
        "components/sharded/statefulset-sharded.yaml",
        &[
            ("apps/v1", "StatefulSet"),
            ("v1", "Service"),
            ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ],
    ),
    (
        "components/prometheus-rbac/kustomization.yaml",
        &[COMPONENT],
    ),
    (
        "components/prometheus-rbac/rbac.yaml",
        &[
            ("rbac.authorization.k8s.io/v1", "Role"),
            ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ],
    ),
    ("overlays/iam/kustomization.yaml", &[KUSTOMIZATION]),
    ("overlays/iam/secret.example.yaml", &[("v1", "Secret")]),
    ("overlays/aksk/kustomization.yaml", &[KUSTOMIZATION]),
    ("overlays/aksk/secret.example.yaml", &[("v1", "Secret")]),
    ("overlays/token-file/kustomization.yaml", &[KUSTOMIZATION]),
    (
        "overlays/token-file/secret.example.yaml",
        &[("v1", "Secret")],
    ),
    ("overlays/sharded/kustomization.yaml", &[KUSTOMIZATION]),
    ("overlays/sharded/secret.example.yaml", &[("v1", "Secret")]),
];

/// The overlays: the directories under deploy/kubernetes/overlays. Each ships its
/// `secret.example.yaml`.
fn overlays() -> BTreeSet<String> {
    let overlays = file_names("deploy/kubernetes/overlays");
    assert!(overlays.len() >= 4, "{overlays:?}");
    overlays
}

// ---------------------------------------------------------------------------------------------
// helpers

fn file_documents(relative: &str) -> Vec<Value> {
    documents(&read(relative), relative)
}

fn single_document(relative: &str) -> Value {
    let mut docs = file_documents(relative);
    assert_eq!(
        docs.len(),
        1,
        "{relative}: expected exactly one YAML document"
    );
    docs.remove(0)
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yml" | "yaml")
        ) {
            out.push(path);
        }
    }
}

/// Fails unless each `(path, value)` of `expected` is a string `value` at `path` in `doc`,
/// naming `context` and the path.
fn assert_strings_at(doc: &Value, expected: &[(&str, &str)], context: &str) {
    for (path, value) in expected {
        assert_eq!(str_at(doc, path), *value, "{context}: {path}");
    }
}

/// The documents of every manifest in [`KUBERNETES_FILES`] that exists (kustomizations
/// included); a missing one (the generated PrometheusRule before the dashboards ship) fails only
/// the tests about it.
fn kubernetes_documents() -> Vec<(String, Value)> {
    KUBERNETES_FILES
        .iter()
        .filter(|(file, _)| repo_file("deploy/kubernetes").join(file).is_file())
        .flat_map(|(file, _)| {
            let relative = format!("deploy/kubernetes/{file}");
            file_documents(&relative)
                .into_iter()
                .map(move |doc| (relative.clone(), doc))
        })
        .collect()
}

fn documents_of_kind(kind: &str) -> Vec<(String, Value)> {
    kubernetes_documents()
        .into_iter()
        .filter(|(_, doc)| doc.get("kind").and_then(Value::as_str) == Some(kind))
        .collect()
}

/// The exporter container of each Deployment and StatefulSet, with its pod spec.
fn workloads() -> Vec<(String, Value, Value)> {
    let mut out = Vec::new();
    for kind in ["Deployment", "StatefulSet"] {
        for (file, doc) in documents_of_kind(kind) {
            let pod = at(&doc, "spec.template.spec").clone();
            let containers = at(&pod, "containers")
                .as_sequence()
                .expect("containers is a list");
            assert_eq!(containers.len(), 1, "{file}: one container expected");
            let container = containers[0].clone();
            out.push((format!("{file} ({kind})"), pod, container));
        }
    }
    assert_eq!(out.len(), 2, "expected one Deployment and one StatefulSet");
    out
}

// ---------------------------------------------------------------------------------------------
// YAML and manifest shape

#[test]
fn every_yaml_file_under_deploy_and_examples_parses() {
    let mut files = Vec::new();
    yaml_files(&repo_file("deploy"), &mut files);
    yaml_files(&repo_file("examples"), &mut files);
    assert!(files.len() >= 10, "found only {} YAML files", files.len());
    for path in files {
        let text = fs::read_to_string(&path).expect("readable");
        let docs = documents(&text, &path.display().to_string());
        assert!(!docs.is_empty(), "{}: no YAML document", path.display());
    }
}

#[test]
fn kubernetes_manifests_have_the_expected_api_versions_and_kinds() {
    let mut found = Vec::new();
    yaml_files(&repo_file("deploy/kubernetes"), &mut found);
    let kubernetes = repo_file("deploy/kubernetes");
    let mut on_disk: Vec<String> = found
        .iter()
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("yaml"))
        .map(|p| {
            p.strip_prefix(&kubernetes)
                .expect("under deploy/kubernetes")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = KUBERNETES_FILES
        .iter()
        .map(|(f, _)| f.to_string())
        .collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "every manifest must be listed in KUBERNETES_FILES, and only those"
    );

    for (file, expected) in KUBERNETES_FILES {
        let relative = format!("deploy/kubernetes/{file}");
        let actual: Vec<(String, String)> = file_documents(&relative)
            .iter()
            .map(|doc| {
                (
                    str_at(doc, "apiVersion").to_owned(),
                    str_at(doc, "kind").to_owned(),
                )
            })
            .collect();
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(a, k)| (a.to_string(), k.to_string()))
            .collect();
        assert_eq!(actual, expected, "{relative}");
    }
}

#[test]
fn base_and_components_are_namespace_agnostic_and_overlays_set_the_namespace() {
    for (file, doc) in kubernetes_documents() {
        let overlay = file.starts_with("deploy/kubernetes/overlays/");
        let namespace = doc
            .get("metadata")
            .and_then(|m| m.get("namespace"))
            .or_else(|| doc.get("namespace"))
            .and_then(Value::as_str);
        if overlay {
            // The overlay's kustomization sets it; its Secret example must be created there too.
            assert_eq!(
                namespace,
                Some(NAMESPACE),
                "{file}: the overlays' namespace"
            );
        } else {
            assert_eq!(namespace, None, "{file}: only overlays set a namespace");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// kustomize layout

#[test]
fn every_component_is_used_or_documented_as_optional() {
    let overlays: String = overlays()
        .iter()
        .map(|o| {
            read(&format!(
                "deploy/kubernetes/overlays/{o}/kustomization.yaml"
            ))
        })
        .collect();
    for name in file_names("deploy/kubernetes/components") {
        assert!(
            overlays.contains(&format!("../../components/{name}")),
            "components/{name}: no overlay uses or mentions it"
        );
    }
}

#[test]
fn every_overlay_ships_its_secret_example() {
    for overlay in overlays() {
        let file = format!("deploy/kubernetes/overlays/{overlay}/secret.example.yaml");
        assert_eq!(str_at(&single_document(&file), "kind"), "Secret", "{file}");
    }
}

/// The Secret keys a config reads: the file names of its `*_file: /run/secrets/codearts/KEY`.
fn secret_keys_read(config: &str) -> BTreeSet<String> {
    let read = Regex::new(&format!(
        r"(?m)^[^#\n]*_file:\s*{SECRETS_DIR}/([A-Za-z0-9_.-]+)"
    ))
    .expect("a valid regex");
    read.captures_iter(config)
        .map(|c| c[1].to_owned())
        .collect()
}

#[test]
fn each_auth_modes_config_reads_exactly_the_keys_its_example_secret_holds() {
    for (config, secret) in [
        ("examples/token-file.yml", "token-file"),
        ("examples/iam.yml", "iam"),
        ("examples/aksk.yml", "aksk"),
        ("deploy/kubernetes/base/config.yml", "iam"),
        ("deploy/kubernetes/base/config.yml", "sharded"),
        ("deploy/kubernetes/overlays/aksk/config.yml", "aksk"),
        (
            "deploy/kubernetes/overlays/token-file/config.yml",
            "token-file",
        ),
    ] {
        let file = format!("deploy/kubernetes/overlays/{secret}/secret.example.yaml");
        let example = single_document(&file);
        let held: BTreeSet<String> = at(&example, "stringData")
            .as_mapping()
            .expect("stringData")
            .keys()
            .map(|k| k.as_str().expect("a key").to_owned())
            .collect();
        assert_eq!(secret_keys_read(&read(config)), held, "{config} and {file}");
    }
}

#[test]
fn default_deployments_use_a_credential_the_exporter_renews() {
    // A static IAM user token lasts 24 hours; a default that reads one goes dark on day two.
    for file in [
        "deploy/kubernetes/base/config.yml",
        "deploy/systemd/config.yml",
    ] {
        let config = single_document(file);
        let auth = at(&config, "codearts.auth");
        assert!(
            auth.get("iam").is_some() || auth.get("aksk").is_some(),
            "{file}: default to iam or aksk, not {auth:?}"
        );
    }
}

#[test]
fn documented_runbook_url_replacement_rewrites_every_alert_and_nothing_else() {
    // docs/deployment.md tells teams hosting their own RUNBOOK copy to pipe the manifests
    // through one sed.
    let docs = docs_text();
    let sed = Regex::new(r"sed 's\|([^|]+)\|([^|]+)\|'").unwrap();
    let found = sed
        .captures(&docs)
        .expect("the documentation gives a `sed 's|OLD|NEW|'` for runbook_url");
    let (from, to) = (found[1].to_owned(), found[2].to_owned());
    assert_eq!(
        from, RUNBOOK_BASE,
        "docs/deployment.md's sed replaces the shipped base"
    );
    let rule = read(PROMETHEUS_RULE);
    let rewritten = rule.replace(&from, &to);
    let doc = documents(&rewritten, PROMETHEUS_RULE).remove(0);
    let mut alerts = 0;
    for group in at(&doc, "spec.groups").as_sequence().expect("groups") {
        for rule in at(group, "rules").as_sequence().expect("rules") {
            if let Some(alert) = rule.get("alert").and_then(Value::as_str) {
                alerts += 1;
                assert_eq!(
                    str_at(rule, "annotations.runbook_url"),
                    format!("{to}#{}", alert.to_lowercase()),
                    "{alert}: runbook_url after the documented sed"
                );
            }
        }
    }
    assert!(alerts >= 10, "{alerts} alerts");
    assert_eq!(
        rule.matches(&from).count(),
        alerts,
        "the base URL appears only in the runbook_url annotations"
    );
}

// ---------------------------------------------------------------------------------------------
// workloads

#[test]
fn workloads_run_as_non_root_with_a_read_only_root_and_no_capabilities() {
    for (name, pod, container) in workloads() {
        assert_eq!(
            at(&pod, "securityContext.runAsNonRoot").as_bool(),
            Some(true),
            "{name}: pod runAsNonRoot"
        );
        assert_eq!(
            at(&pod, "securityContext.runAsUser").as_u64(),
            Some(UID),
            "{name}: pod runAsUser"
        );
        assert_eq!(
            str_at(&pod, "securityContext.seccompProfile.type"),
            "RuntimeDefault",
            "{name}"
        );
        assert_eq!(
            at(&pod, "automountServiceAccountToken").as_bool(),
            Some(false),
            "{name}"
        );

        let sc = at(&container, "securityContext");
        assert_eq!(
            at(sc, "runAsNonRoot").as_bool(),
            Some(true),
            "{name}: runAsNonRoot"
        );
        assert_eq!(at(sc, "runAsUser").as_u64(), Some(UID), "{name}: runAsUser");
        assert_eq!(
            at(sc, "readOnlyRootFilesystem").as_bool(),
            Some(true),
            "{name}: readOnlyRootFilesystem"
        );
        assert_eq!(
            at(sc, "allowPrivilegeEscalation").as_bool(),
            Some(false),
            "{name}: allowPrivilegeEscalation"
        );
        assert_eq!(
            at(sc, "capabilities.drop"),
            &Value::Sequence(vec!["ALL".into()]),
            "{name}: drop ALL"
        );
        assert!(
            at(sc, "capabilities").get("add").is_none(),
            "{name}: no capability may be added"
        );
        assert_eq!(
            str_at(sc, "seccompProfile.type"),
            "RuntimeDefault",
            "{name}: seccompProfile"
        );
    }
}

#[test]
fn workloads_request_small_resources_with_a_memory_limit() {
    for (name, _, container) in workloads() {
        let resources = at(&container, "resources");
        assert!(
            at(resources, "requests").get("cpu").is_some(),
            "{name}: cpu request"
        );
        assert!(
            at(resources, "requests").get("memory").is_some(),
            "{name}: memory request"
        );
        assert!(
            at(resources, "limits").get("memory").is_some(),
            "{name}: memory limit"
        );
    }
}

#[test]
fn probes_hit_healthz_and_readyz_on_the_named_metrics_port() {
    for (name, _, container) in workloads() {
        assert_strings_at(
            &container,
            &[
                ("livenessProbe.httpGet.path", "/healthz"),
                ("livenessProbe.httpGet.port", PORT_NAME),
                ("readinessProbe.httpGet.path", "/readyz"),
                ("readinessProbe.httpGet.port", PORT_NAME),
            ],
            &name,
        );
    }
}

#[test]
fn exporter_listens_on_9825_and_every_service_and_monitor_targets_it() {
    for (name, _, container) in workloads() {
        let ports = at(&container, "ports")
            .as_sequence()
            .expect("ports is a list");
        assert_eq!(ports.len(), 1, "{name}: one port");
        assert_eq!(str_at(&ports[0], "name"), PORT_NAME, "{name}");
        assert_eq!(
            at(&ports[0], "containerPort").as_u64(),
            Some(PORT),
            "{name}"
        );
        let args = string_list(at(&container, "args"));
        assert!(
            args.iter()
                .any(|a| a == &format!("--web.listen-address=:{PORT}")),
            "{name}: listen address"
        );
    }
    let services = documents_of_kind("Service");
    assert_eq!(services.len(), 2, "the plain and the headless Service");
    for (file, service) in services {
        let ports = at(&service, "spec.ports")
            .as_sequence()
            .expect("ports is a list");
        assert_eq!(ports.len(), 1, "{file}");
        assert_eq!(str_at(&ports[0], "name"), PORT_NAME, "{file}");
        assert_eq!(at(&ports[0], "port").as_u64(), Some(PORT), "{file}");
        let target = at(&ports[0], "targetPort");
        assert!(
            target.as_str() == Some(PORT_NAME) || target.as_u64() == Some(PORT),
            "{file}: targetPort {target:?}"
        );
    }
    let monitors = documents_of_kind("ServiceMonitor");
    assert_eq!(monitors.len(), 2);
    for (file, monitor) in monitors {
        assert_strings_at(
            &monitor,
            &[
                ("spec.endpoints.0.port", PORT_NAME),
                ("spec.endpoints.0.path", "/metrics"),
                ("spec.endpoints.0.interval", "60s"),
                ("spec.endpoints.0.scrapeTimeout", "30s"),
            ],
            &file,
        );
    }
    assert!(dockerfile_instructions()
        .iter()
        .any(|(i, a)| i == "EXPOSE" && a == &PORT.to_string()));
}

#[test]
fn services_and_monitors_select_the_pods_of_their_own_workload() {
    fn labels(doc: &Value, path: &str) -> Mapping {
        at(doc, path)
            .as_mapping()
            .expect("labels are a mapping")
            .clone()
    }
    fn one(kind: &str, file: &str) -> Value {
        let file = format!("deploy/kubernetes/{file}");
        let mut found = documents_of_kind(kind)
            .into_iter()
            .filter(|(f, _)| f == &file);
        found
            .next()
            .unwrap_or_else(|| panic!("no {kind} in {file}"))
            .1
    }
    fn subset(small: &Mapping, big: &Mapping) -> bool {
        small.iter().all(|(k, v)| big.get(k) == Some(v))
    }
    let pairs = [
        (
            one("Deployment", "base/deployment.yaml"),
            one("Service", "base/service.yaml"),
            one("ServiceMonitor", "base/servicemonitor.yaml"),
        ),
        (
            one("StatefulSet", "components/sharded/statefulset-sharded.yaml"),
            one("Service", "components/sharded/statefulset-sharded.yaml"),
            one(
                "ServiceMonitor",
                "components/sharded/statefulset-sharded.yaml",
            ),
        ),
    ];
    for (workload, service, monitor) in &pairs {
        let what = str_at(workload, "kind");
        let pods = labels(workload, "spec.template.metadata.labels");
        assert!(
            subset(&labels(service, "spec.selector"), &pods),
            "{what}: its Service selects other pods"
        );
        let wanted = labels(monitor, "spec.selector.matchLabels");
        assert!(
            subset(&wanted, &labels(service, "metadata.labels")),
            "{what}: its ServiceMonitor misses its Service"
        );
    }
    // Neither ServiceMonitor may pick up the other's Service: that would double every series.
    let (plain, sharded) = (&pairs[0], &pairs[1]);
    assert!(!subset(
        &labels(&plain.2, "spec.selector.matchLabels"),
        &labels(&sharded.1, "metadata.labels")
    ));
    assert!(!subset(
        &labels(&sharded.2, "spec.selector.matchLabels"),
        &labels(&plain.1, "metadata.labels")
    ));
}

#[test]
fn config_and_credentials_are_mounted_as_whole_directories() {
    let (configmap_name, secret_name) = (CONFIGMAP_NAME, SECRET_NAME);
    for (name, pod, container) in workloads() {
        let args = string_list(at(&container, "args"));
        assert!(
            args.contains(&format!("--config.file={CONFIG_FILE}")),
            "{name}: --config.file"
        );
        let mounts = at(&container, "volumeMounts")
            .as_sequence()
            .expect("volumeMounts");
        for mount in mounts {
            assert!(
                mount.get("subPath").is_none(),
                "{name}: subPath mounts never see updates"
            );
            assert_eq!(
                at(mount, "readOnly").as_bool(),
                Some(true),
                "{name}: mounts are read-only"
            );
        }
        let volume_at = |dir: &str| -> Value {
            let mount = mounts
                .iter()
                .find(|m| str_at(m, "mountPath") == dir)
                .unwrap_or_else(|| panic!("{name}: nothing mounted at {dir}"));
            let volume_name = str_at(mount, "name");
            at(&pod, "volumes")
                .as_sequence()
                .expect("volumes")
                .iter()
                .find(|v| str_at(v, "name") == volume_name)
                .expect("volume")
                .clone()
        };
        assert_eq!(
            str_at(&volume_at(CONFIG_DIR), "configMap.name"),
            configmap_name,
            "{name}"
        );
        assert_eq!(
            str_at(&volume_at(SECRETS_DIR), "secret.secretName"),
            secret_name,
            "{name}"
        );
        // Group-readable for fsGroup 65532, hidden from everyone else.
        let mode = at(&volume_at(SECRETS_DIR), "secret.defaultMode").as_u64();
        assert_eq!(mode, Some(0o440), "{name}: Secret defaultMode");
    }
    // All example Secrets share the name, so switching auth mode touches only the config.
    for overlay in overlays() {
        let file = format!("overlays/{overlay}/secret.example.yaml");
        let secret = single_document(&format!("deploy/kubernetes/{file}"));
        assert_eq!(str_at(&secret, "metadata.name"), secret_name, "{file}");
    }
}

#[test]
fn sharded_statefulset_takes_its_shard_index_from_the_pod_index_label() {
    let statefulset = &documents_of_kind("StatefulSet")[0].1;
    let replicas = at(statefulset, "spec.replicas").as_u64().expect("replicas");
    assert_eq!(replicas, 3);
    let container = at(statefulset, "spec.template.spec.containers.0");
    let env = at(container, "env").as_sequence().expect("env");
    let index = env
        .iter()
        .find(|e| str_at(e, "name") == "SHARD_INDEX")
        .expect("SHARD_INDEX env");
    assert_eq!(
        str_at(index, "valueFrom.fieldRef.fieldPath"),
        "metadata.labels['apps.kubernetes.io/pod-index']"
    );
    let args = string_list(at(container, "args"));
    assert!(
        args.contains(&format!("--shard=$(SHARD_INDEX)/{replicas}")),
        "--shard COUNT must equal replicas: {args:?}"
    );

    let service = documents_of_kind("Service")
        .into_iter()
        .find(|(f, _)| f.ends_with("statefulset-sharded.yaml"))
        .expect("headless");
    assert_eq!(
        str_at(&service.1, "spec.clusterIP"),
        "None",
        "the shards' Service is headless"
    );
    assert_eq!(
        str_at(statefulset, "spec.serviceName"),
        str_at(&service.1, "metadata.name")
    );
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

/// (INSTRUCTION, arguments) with line continuations joined and comments dropped.
fn dockerfile_instructions() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in read("Dockerfile").lines() {
        let trimmed = line.trim();
        if pending.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(body) = trimmed.strip_suffix('\\') {
            pending.push_str(body);
            pending.push(' ');
            continue;
        }
        pending.push_str(trimmed);
        let (instruction, arguments) = pending
            .split_once(char::is_whitespace)
            .unwrap_or((&pending, ""));
        out.push((
            instruction.to_ascii_uppercase(),
            arguments.trim().to_owned(),
        ));
        pending.clear();
    }
    out
}

/// Sources of every COPY/ADD from the build context (not `--from=` another stage).
fn dockerfile_context_sources() -> Vec<String> {
    let mut sources = Vec::new();
    for (instruction, arguments) in dockerfile_instructions() {
        if instruction != "COPY" && instruction != "ADD" {
            continue;
        }
        let words: Vec<String> = if arguments.starts_with('[') {
            serde_json::from_str(&arguments).expect("COPY in JSON form")
        } else {
            arguments.split_whitespace().map(str::to_owned).collect()
        };
        if words.iter().any(|w| w.starts_with("--from=")) {
            continue;
        }
        let operands: Vec<String> = words.into_iter().filter(|w| !w.starts_with("--")).collect();
        assert!(
            operands.len() >= 2,
            "COPY needs a source and a destination: {arguments}"
        );
        sources.extend(operands[..operands.len() - 1].iter().cloned());
    }
    sources
}

/// The non-comment lines of `.dockerignore`.
fn dockerignore_patterns() -> Vec<String> {
    read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

// These read the Dockerfile; scripts/image.sh (run by scripts/test-all.sh) builds it with buildah.

#[test]
fn dockerfile_copies_only_paths_that_exist_and_the_context_keeps() {
    let sources = dockerfile_context_sources();
    assert!(
        !sources.is_empty(),
        "the Dockerfile copies from the build context"
    );
    let patterns = dockerignore_patterns();
    let allowlist = patterns.first().map(String::as_str) == Some("*");
    for source in sources {
        let source = source.trim_start_matches("./").trim_end_matches('/');
        if source.is_empty() || source == "." {
            continue; // the whole context: the next test checks what it holds
        }
        assert!(
            repo_file(source).exists(),
            "Dockerfile copies `{source}`, which does not exist"
        );
        if allowlist {
            assert!(
                patterns.contains(&format!("!{source}")),
                ".dockerignore excludes `{source}`: add `!{source}`"
            );
        } else {
            assert!(
                !patterns.iter().any(|p| p == source),
                ".dockerignore excludes `{source}`"
            );
        }
    }
}

#[test]
fn build_context_keeps_every_path_cargo_reads_to_load_the_workspace() {
    // cargo loads every workspace member before it builds anything, and the sources of the
    // targets it builds; build.rs bakes in the revision. The bench it neither builds nor reads
    // (the image build in CI has no benches/ in its context).
    let patterns = dockerignore_patterns();
    assert_eq!(
        patterns.first().map(String::as_str),
        Some("*"),
        "an allowlist"
    );
    for path in ["Cargo.toml", "Cargo.lock", "build.rs", "src", "crates"] {
        assert!(repo_file(path).exists(), "{path} exists");
        assert!(
            patterns.contains(&format!("!{path}")),
            ".dockerignore leaves out `{path}`, which the build reads: add `!{path}`"
        );
    }
}

#[test]
fn dockerfile_cross_compiles_on_the_build_platform_for_both_architectures() {
    let instructions = dockerfile_instructions();
    let froms: Vec<&str> = instructions
        .iter()
        .filter(|(i, _)| i == "FROM")
        .map(|(_, a)| a.as_str())
        .collect();
    let (runtime, builders) = froms.split_last().expect("FROM");
    for from in builders {
        assert!(
            from.starts_with("--platform=$BUILDPLATFORM "),
            "a build stage runs natively and cross-compiles: {from}"
        );
    }
    // Said explicitly, for buildah 1.28, which otherwise looks the runtime base up for the build
    // stages' platform.
    assert!(
        runtime.starts_with("--platform=$TARGETPLATFORM "),
        "the runtime stage is of the target platform: {runtime}"
    );
    let text = read("Dockerfile");
    for needed in [
        "ARG TARGETARCH",
        "amd64)",
        "arm64)",
        "arch=aarch64",
        "--target",
    ] {
        assert!(text.contains(needed), "the Dockerfile has `{needed}`");
    }
}

#[test]
fn dockerfile_runtime_is_non_root_on_9825_with_the_documented_entrypoint() {
    let instructions = dockerfile_instructions();
    let last_from = instructions
        .iter()
        .rposition(|(i, _)| i == "FROM")
        .expect("FROM");
    let runtime = &instructions[last_from..];
    let get = |name: &str| {
        runtime
            .iter()
            .filter(|(i, _)| i == name)
            .map(|(_, a)| a.as_str())
            .collect::<Vec<_>>()
    };
    let base = get("FROM")[0].trim_start_matches("--platform=$TARGETPLATFORM ");
    assert!(
        base.starts_with("gcr.io/distroless/"),
        "runtime image has no shell"
    );
    assert_eq!(get("USER"), ["65532:65532"]);
    assert_eq!(get("EXPOSE"), [PORT.to_string()]);
    assert_eq!(
        get("ENTRYPOINT"),
        [r#"["/usr/local/bin/codearts-repo-exporter"]"#]
    );
    assert_eq!(get("CMD"), [format!(r#"["--config.file={CONFIG_FILE}"]"#)]);
    assert!(get("HEALTHCHECK").is_empty());
    let labels = get("LABEL").join(" ");
    for key in [
        "version",
        "revision",
        "source",
        "title",
        "description",
        "licenses",
    ] {
        assert!(
            labels.contains(&format!("org.opencontainers.image.{key}=")),
            "OCI label {key}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// PrometheusRule generated from dashboards/

fn dashboards_dir() -> PathBuf {
    std::env::var_os("DASHBOARDS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_file("dashboards"))
}

/// The groups of dashboards/rules.yml followed by those of dashboards/alerts.yml.
fn shipped_rule_groups() -> Vec<Value> {
    let dir = dashboards_dir();
    let mut groups = Vec::new();
    for file in ["rules.yml", "alerts.yml"] {
        let path = dir.join(file);
        let text = fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}. The PrometheusRule is generated from dashboards/rules.yml and dashboards/alerts.yml; \
                 ship them (or point DASHBOARDS_DIR at them) before checking deploy/kubernetes/base/prometheusrule.yaml",
                path.display()
            )
        });
        let doc = documents(&text, &path.display().to_string()).remove(0);
        let file_groups = doc
            .get("groups")
            .and_then(Value::as_sequence)
            .unwrap_or_else(|| panic!("{}: no `groups` list", path.display()));
        groups.extend(file_groups.iter().cloned());
    }
    groups
}

fn render_prometheus_rule(groups: &[Value]) -> String {
    let mut metadata = Mapping::new();
    metadata.insert("name".into(), "codearts-repo-exporter".into());
    let mut labels = Mapping::new();
    labels.insert(
        "app.kubernetes.io/name".into(),
        "codearts-repo-exporter".into(),
    );
    metadata.insert("labels".into(), Value::Mapping(labels));
    let mut spec = Mapping::new();
    spec.insert("groups".into(), Value::Sequence(groups.to_vec()));
    let mut rule = Mapping::new();
    rule.insert("apiVersion".into(), "monitoring.coreos.com/v1".into());
    rule.insert("kind".into(), "PrometheusRule".into());
    rule.insert("metadata".into(), Value::Mapping(metadata));
    rule.insert("spec".into(), Value::Mapping(spec));
    let body = serde_yaml_ng::to_string(&Value::Mapping(rule)).expect("a YAML value serialises");
    format!(
        "# GENERATED from dashboards/rules.yml and dashboards/alerts.yml; do not edit by hand.\n\
         # Regenerate: UPDATE_GENERATED=1 cargo test --test in_process deploy::prometheus_rule\n\
         # The Prometheus resource must select it (ruleSelector; kube-prometheus-stack wants a\n\
         # `release: <name>` label unless ruleSelectorNilUsesHelmValues is false).\n{body}"
    )
}

#[test]
fn prometheus_rule_groups_equal_the_shipped_rules_and_alerts() {
    let groups = shipped_rule_groups();
    let names: Vec<&str> = groups.iter().map(|g| str_at(g, "name")).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(
        unique.len(),
        names.len(),
        "rule group names repeat across rules.yml and alerts.yml: {names:?}"
    );

    if std::env::var_os("UPDATE_GENERATED").is_some_and(|v| v == "1") {
        let path = repo_file(PROMETHEUS_RULE);
        fs::write(&path, render_prometheus_rule(&groups))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!("rewrote {PROMETHEUS_RULE}; review with `git diff` and commit it");
    }

    let rule = single_document(PROMETHEUS_RULE);
    assert_eq!(
        at(&rule, "spec.groups"),
        &Value::Sequence(groups),
        "{PROMETHEUS_RULE} is stale: run `UPDATE_GENERATED=1 cargo test --test in_process deploy::prometheus_rule` and commit"
    );
}

fn string_list(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .expect("a list")
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}
