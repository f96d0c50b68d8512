//! The shipping artefacts (Dockerfile, deploy/, examples/) agree with each other and with the
//! exporter: every YAML parses, manifests have the kinds we ship, workloads run restricted on
//! port 9825 with the right probes, example configs use only the documented config keys, and the
//! PrometheusRule is exactly the shipped dashboards/rules.yml + dashboards/alerts.yml.
//!
//! The Kubernetes manifests are a kustomize base, components (auth modes, sharding, RBAC) and
//! overlays. `kubectl kustomize` is not available where the tests run, so the overlays are
//! checked by reading their kustomization.yaml files: what each one deploys (base + components,
//! minus what a component deletes), into which namespace, with which config, reading which Secret
//! keys, and that every overlay ships the PrometheusRule.
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

use crate::helpers::{docs_text, read, repo_file};

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
];

/// The overlays: (directory under deploy/kubernetes/overlays, its Secret example, the workload
/// kind it deploys).
const OVERLAYS: &[(&str, &str, &str)] = &[
    ("iam", "overlays/iam/secret.example.yaml", "Deployment"),
    ("aksk", "overlays/aksk/secret.example.yaml", "Deployment"),
    (
        "token-file",
        "overlays/token-file/secret.example.yaml",
        "Deployment",
    ),
    ("sharded", "overlays/iam/secret.example.yaml", "StatefulSet"),
];

// ---------------------------------------------------------------------------------------------
// helpers

/// All documents of a (possibly multi-document) YAML text; empty documents are dropped.
fn documents(text: &str, name: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .enumerate()
        .map(|(i, doc)| {
            <Value as serde::Deserialize>::deserialize(doc)
                .unwrap_or_else(|e| panic!("{name}: document {i} does not parse: {e}"))
        })
        .filter(|v| !v.is_null())
        .collect()
}

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

/// Follows a path of mapping keys and sequence indices ("spec.template.spec.containers.0").
fn at<'a>(value: &'a Value, path: &str) -> &'a Value {
    let mut current = value;
    for step in path.split('.') {
        current = match step.parse::<usize>() {
            Ok(i) => current.get(i),
            Err(_) => current.get(step),
        }
        .unwrap_or_else(|| panic!("missing `{path}` (stopped at `{step}`)"));
    }
    current
}

fn str_at<'a>(value: &'a Value, path: &str) -> &'a str {
    at(value, path)
        .as_str()
        .unwrap_or_else(|| panic!("`{path}` is not a string"))
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
// kustomize, read rather than run

/// What `kubectl kustomize` would put together for one directory, as far as these manifests use
/// kustomize: resources (files and directories), components, a configMapGenerator (create or
/// replace) and whole-resource `$patch: delete` patches. Anything else is refused, so a feature
/// added to the manifests cannot slip past these checks unread.
#[derive(Default)]
struct Build {
    /// (file, document) of every resource.
    resources: Vec<(String, Value)>,
    /// (file, parsed config.yml) of the generated ConfigMap.
    config: Option<(String, Value)>,
    namespace: Option<String>,
}

impl Build {
    fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.resources
            .iter()
            .filter(|(_, d)| d.get("kind").and_then(Value::as_str) == Some(kind))
            .map(|(_, d)| d)
            .collect()
    }
}

/// Builds `dir` (relative to deploy/kubernetes).
fn kustomize(dir: &str) -> Build {
    let base = repo_file("deploy/kubernetes");
    let path = |relative: &str| -> String {
        let joined = base.join(dir).join(relative);
        // Normalise `..` without touching the file system's symlinks.
        let mut parts: Vec<String> = Vec::new();
        for part in joined
            .strip_prefix(&base)
            .unwrap_or_else(|_| panic!("{dir}: {relative} leaves deploy/kubernetes"))
            .components()
        {
            match part.as_os_str().to_str().expect("utf-8 path") {
                ".." => {
                    parts
                        .pop()
                        .unwrap_or_else(|| panic!("{dir}: {relative} leaves deploy/kubernetes"));
                }
                "." => {}
                other => parts.push(other.to_owned()),
            }
        }
        parts.join("/")
    };
    let file = format!("deploy/kubernetes/{dir}/kustomization.yaml");
    assert!(repo_file(&file).is_file(), "{file} does not exist");
    let k = single_document(&file);
    let known = [
        "apiVersion",
        "kind",
        "namespace",
        "labels",
        "resources",
        "components",
        "configMapGenerator",
        "patches",
    ];
    for key in k.as_mapping().expect("a mapping").keys() {
        let key = key.as_str().unwrap_or("");
        assert!(
            known.contains(&key),
            "{file}: `{key}` is not read by this test's kustomize reader; teach it"
        );
    }
    let mut build = Build {
        namespace: k
            .get("namespace")
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..Build::default()
    };
    for resource in string_list_or_empty(k.get("resources")) {
        let target = path(&resource);
        let full = base.join(&target);
        if full.is_dir() {
            let inner = kustomize(&target);
            build.resources.extend(inner.resources);
            build.config = inner.config.or(build.config);
        } else {
            assert!(full.is_file(), "{file}: resource {resource} does not exist");
            let relative = format!("deploy/kubernetes/{target}");
            let docs = file_documents(&relative);
            for doc in &docs {
                assert_ne!(
                    doc.get("kind").and_then(Value::as_str),
                    Some("Secret"),
                    "{file}: {resource} is a Secret: a placeholder would overwrite the real one on every apply"
                );
            }
            build
                .resources
                .extend(docs.into_iter().map(|d| (relative.clone(), d)));
        }
    }
    for component in string_list_or_empty(k.get("components")) {
        let target = path(&component);
        let kind = single_document(&format!("deploy/kubernetes/{target}/kustomization.yaml"));
        assert_eq!(
            str_at(&kind, "kind"),
            "Component",
            "{file}: {component} is not a Component"
        );
        let inner = kustomize_component(&target, &mut build);
        build.resources.extend(inner.resources);
    }
    if let Some(generators) = k.get("configMapGenerator") {
        apply_config_generators(&file, dir, generators, &mut build);
    }
    if k.get("patches").is_some() && str_at(&k, "kind") != "Component" {
        panic!("{file}: patches outside a component are not read by this test");
    }
    build
}

/// A component applied to `build`: its generators and delete patches act on what `build` holds;
/// its own resources are returned.
fn kustomize_component(dir: &str, build: &mut Build) -> Build {
    let file = format!("deploy/kubernetes/{dir}/kustomization.yaml");
    let k = single_document(&file);
    let mut own = Build::default();
    for resource in string_list_or_empty(k.get("resources")) {
        let relative = format!("deploy/kubernetes/{dir}/{resource}");
        assert!(
            repo_file(&relative).is_file(),
            "{file}: resource {resource} does not exist"
        );
        own.resources.extend(
            file_documents(&relative)
                .into_iter()
                .map(|d| (relative.clone(), d)),
        );
    }
    if let Some(generators) = k.get("configMapGenerator") {
        apply_config_generators(&file, dir, generators, build);
    }
    for patch in k
        .get("patches")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        let text = str_at(patch, "patch");
        let doc = documents(text, &file).remove(0);
        assert_eq!(
            doc.get("$patch").and_then(Value::as_str),
            Some("delete"),
            "{file}: only whole-resource `$patch: delete` patches are read by this test"
        );
        let (kind, name) = (str_at(&doc, "kind"), str_at(&doc, "metadata.name"));
        let before = build.resources.len();
        build.resources.retain(|(_, d)| {
            !(d.get("kind").and_then(Value::as_str) == Some(kind)
                && d.get("metadata")
                    .and_then(|m| m.get("name"))
                    .and_then(Value::as_str)
                    == Some(name))
        });
        assert_eq!(
            before - build.resources.len(),
            1,
            "{file}: deletes {kind} {name}, which the base must hold exactly once"
        );
    }
    own
}

fn apply_config_generators(file: &str, dir: &str, generators: &Value, build: &mut Build) {
    for generator in generators.as_sequence().expect("configMapGenerator list") {
        assert_eq!(
            str_at(generator, "name"),
            CONFIGMAP_NAME,
            "{file}: the workloads mount {CONFIGMAP_NAME}"
        );
        let behavior = generator
            .get("behavior")
            .and_then(Value::as_str)
            .unwrap_or("create");
        match behavior {
            "create" => assert!(
                build.config.is_none(),
                "{file}: creates {CONFIGMAP_NAME} a second time"
            ),
            "replace" => assert!(
                build.config.is_some(),
                "{file}: replaces {CONFIGMAP_NAME}, which nothing created"
            ),
            other => panic!("{file}: configMapGenerator behavior {other} is not read by this test"),
        }
        let files = string_list(at(generator, "files"));
        assert_eq!(
            files,
            ["config.yml"],
            "{file}: the config is one config.yml"
        );
        let relative = format!("deploy/kubernetes/{dir}/config.yml");
        build.config = Some((relative.clone(), single_document(&relative)));
    }
}

fn string_list_or_empty(value: Option<&Value>) -> Vec<String> {
    value.map(string_list).unwrap_or_default()
}

fn labels_of(doc: &Value, path: &str) -> Mapping {
    at(doc, path)
        .as_mapping()
        .expect("labels are a mapping")
        .clone()
}

fn is_subset(small: &Mapping, big: &Mapping) -> bool {
    small.iter().all(|(k, v)| big.get(k) == Some(v))
}

#[test]
fn every_overlay_deploys_one_exporter_its_service_monitor_and_the_alerting_rules() {
    let on_disk: BTreeSet<String> = fs::read_dir(repo_file("deploy/kubernetes/overlays"))
        .expect("deploy/kubernetes/overlays")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = OVERLAYS.iter().map(|(o, _, _)| o.to_string()).collect();
    assert_eq!(on_disk, listed, "every overlay is listed in OVERLAYS");

    for (overlay, _, workload_kind) in OVERLAYS {
        let build = kustomize(&format!("overlays/{overlay}"));
        assert_eq!(build.namespace.as_deref(), Some(NAMESPACE), "{overlay}");
        let workloads: Vec<&Value> = ["Deployment", "StatefulSet"]
            .iter()
            .flat_map(|k| build.of_kind(k))
            .collect();
        assert_eq!(workloads.len(), 1, "{overlay}: one exporter workload");
        let workload = workloads[0];
        assert_eq!(str_at(workload, "kind"), *workload_kind, "{overlay}");
        // The shipped alerts come with every deployment, sharded or not.
        let rules = build.of_kind("PrometheusRule");
        assert_eq!(rules.len(), 1, "{overlay}: the PrometheusRule");
        let services = build.of_kind("Service");
        let monitors = build.of_kind("ServiceMonitor");
        assert_eq!(
            (services.len(), monitors.len()),
            (1, 1),
            "{overlay}: one Service, one ServiceMonitor"
        );
        let pods = labels_of(workload, "spec.template.metadata.labels");
        assert!(
            is_subset(&labels_of(services[0], "spec.selector"), &pods),
            "{overlay}: the Service selects the workload's pods"
        );
        assert!(
            is_subset(
                &labels_of(monitors[0], "spec.selector.matchLabels"),
                &labels_of(services[0], "metadata.labels")
            ),
            "{overlay}: the ServiceMonitor selects the Service"
        );
        let config = build
            .config
            .as_ref()
            .unwrap_or_else(|| panic!("{overlay}: no config generated"));
        check_config(&config.0, &config.1);
    }
}

#[test]
fn every_overlay_reads_only_secret_keys_its_example_secret_names() {
    for (overlay, secret_file, _) in OVERLAYS {
        let build = kustomize(&format!("overlays/{overlay}"));
        let (config_file, config) = build.config.expect("a config");
        let secret = single_document(&format!("deploy/kubernetes/{secret_file}"));
        assert_eq!(
            str_at(&secret, "metadata.name"),
            SECRET_NAME,
            "{secret_file}"
        );
        let files = check_config(&config_file, &config);
        assert_secret_provides(
            &files,
            &secret,
            &format!("{overlay} ({config_file}, {secret_file})"),
        );
    }
}

/// Fails unless a config reads at least one secret file, each of its `files` is in the Secret
/// volume, and `secret` (the Secret document mounted there) has the key of each. `context` names
/// the config and the Secret in the messages.
fn assert_secret_provides(files: &[String], secret: &Value, context: &str) {
    assert!(!files.is_empty(), "{context}: reads a secret file");
    let data = at(secret, "stringData");
    for file in files {
        let key = file
            .strip_prefix(&format!("{SECRETS_DIR}/"))
            .unwrap_or_else(|| {
                panic!("{context}: {file} is not in the Secret volume {SECRETS_DIR}")
            });
        assert!(
            data.get(key).is_some(),
            "{context}: the Secret has no key `{key}`"
        );
    }
}

#[test]
fn default_deployments_use_a_credential_the_exporter_renews() {
    // A static IAM user token lasts 24 hours; a default that reads one goes dark on day two.
    for (name, config) in [
        (
            "deploy/kubernetes/base/config.yml (overlays/iam, overlays/sharded)",
            single_document("deploy/kubernetes/base/config.yml"),
        ),
        (
            "deploy/systemd/config.yml",
            single_document("deploy/systemd/config.yml"),
        ),
    ] {
        let auth = at(&config, "codearts.auth");
        assert!(
            auth.get("iam").is_some() || auth.get("aksk").is_some(),
            "{name}: default to iam or aksk, not {auth:?}"
        );
    }
    assert!(
        kustomize("overlays/iam").config.expect("config").0 == "deploy/kubernetes/base/config.yml",
        "overlays/iam deploys the base's IAM config"
    );
}

#[test]
fn every_component_is_used_or_documented_as_optional() {
    let overlays: String = OVERLAYS
        .iter()
        .map(|(o, _, _)| {
            read(&format!(
                "deploy/kubernetes/overlays/{o}/kustomization.yaml"
            ))
        })
        .collect();
    for entry in fs::read_dir(repo_file("deploy/kubernetes/components")).expect("components") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(
            overlays.contains(&format!("../../components/{name}")),
            "components/{name}: no overlay uses or mentions it"
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
    for (_, file, _) in OVERLAYS {
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
// config files against the documented keys (docs/configuration.md)

/// Checks a config against the documented config keys: only known keys, exactly one auth mode,
/// valid durations and ids, and a source of repositories. Returns the files the auth block reads.
fn check_config(name: &str, config: &Value) -> Vec<String> {
    fn keys(name: &str, value: &Value, path: &str, allowed: &[&str]) {
        let map = value
            .as_mapping()
            .unwrap_or_else(|| panic!("{name}: `{path}` is not a mapping"));
        for key in map.keys() {
            let key = key
                .as_str()
                .unwrap_or_else(|| panic!("{name}: non-string key in `{path}`"));
            assert!(allowed.contains(&key), "{name}: unknown key `{path}.{key}`");
        }
    }
    fn duration(name: &str, value: &Value, path: &str) {
        let text = value
            .as_str()
            .unwrap_or_else(|| panic!("{name}: `{path}` is not a duration string"));
        humantime::parse_duration(text).unwrap_or_else(|e| panic!("{name}: `{path}`: {e}"));
    }

    keys(
        name,
        config,
        "",
        &[
            "codearts",
            "repositories",
            "discovery",
            "probe",
            "scrape",
            "shard",
        ],
    );
    let codearts = at(config, "codearts");
    keys(
        name,
        codearts,
        "codearts",
        &["endpoint", "region", "auth", "tls"],
    );
    assert!(
        codearts.get("endpoint").is_some() ^ codearts.get("region").is_some(),
        "{name}: exactly one of codearts.endpoint / codearts.region"
    );
    if let Some(tls) = codearts.get("tls") {
        keys(
            name,
            tls,
            "codearts.tls",
            &["ca_file", "insecure_skip_verify"],
        );
    }

    let auth = at(codearts, "auth");
    keys(
        name,
        auth,
        "codearts.auth",
        &["token", "token_file", "iam", "aksk", "ecs_agency"],
    );
    assert_eq!(
        auth.as_mapping().map(Mapping::len),
        Some(1),
        "{name}: exactly one auth mode"
    );
    let mut files = Vec::new();
    if let Some(file) = auth.get("token_file") {
        files.push(file.as_str().expect("token_file").to_owned());
    }
    if let Some(iam) = auth.get("iam") {
        keys(
            name,
            iam,
            "codearts.auth.iam",
            &["endpoint", "domain", "user", "password_file", "project"],
        );
        for required in ["domain", "user", "password_file"] {
            assert!(
                iam.get(required).is_some(),
                "{name}: codearts.auth.iam.{required} missing"
            );
        }
        files.push(str_at(iam, "password_file").to_owned());
    }
    if let Some(aksk) = auth.get("aksk") {
        keys(
            name,
            aksk,
            "codearts.auth.aksk",
            &[
                "access_key_file",
                "secret_key_file",
                "security_token_file",
                "project_id",
                "project",
                "iam_endpoint",
            ],
        );
        files.push(str_at(aksk, "access_key_file").to_owned());
        files.push(str_at(aksk, "secret_key_file").to_owned());
        if aksk.get("security_token_file").is_some() {
            files.push(str_at(aksk, "security_token_file").to_owned());
        }
    }
    if let Some(agency) = auth.get("ecs_agency") {
        keys(
            name,
            agency,
            "codearts.auth.ecs_agency",
            &["metadata_endpoint", "project_id", "project", "iam_endpoint"],
        );
    }

    let repositories = config
        .get("repositories")
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default();
    for (i, repository) in repositories.iter().enumerate() {
        keys(
            name,
            repository,
            &format!("repositories[{i}]"),
            &["id", "name"],
        );
        let id = at(repository, "id")
            .as_u64()
            .unwrap_or_else(|| panic!("{name}: repositories[{i}].id"));
        assert!(
            (1..=2_147_483_647).contains(&id),
            "{name}: repositories[{i}].id out of range"
        );
    }
    let discovery_enabled = config.get("discovery").map(|d| {
        keys(
            name,
            d,
            "discovery",
            &["enabled", "interval", "include", "exclude", "archived"],
        );
        if let Some(interval) = d.get("interval") {
            duration(name, interval, "discovery.interval");
        }
        d.get("enabled").and_then(Value::as_bool) == Some(true)
    });
    assert!(
        !repositories.is_empty() || discovery_enabled == Some(true),
        "{name}: no source of repositories"
    );

    if let Some(probe) = config.get("probe") {
        keys(name, probe, "probe", &["allow_unlisted"]);
    }
    if let Some(scrape) = config.get("scrape") {
        keys(
            name,
            scrape,
            "scrape",
            &[
                "concurrency",
                "request_timeout",
                "timeout_offset",
                "max_duration",
                "min_interval",
                "rate_limit",
                "retries",
            ],
        );
        for key in [
            "request_timeout",
            "timeout_offset",
            "max_duration",
            "min_interval",
        ] {
            if let Some(value) = scrape.get(key) {
                duration(name, value, &format!("scrape.{key}"));
            }
        }
    }
    files
}

#[test]
fn every_shipped_config_uses_only_documented_keys() {
    let mut shipped = Vec::new();
    for file in [
        "deploy/kubernetes/base/config.yml",
        "deploy/kubernetes/components/aksk/config.yml",
        "deploy/kubernetes/components/token-file/config.yml",
        "examples/token-file.yml",
        "examples/iam.yml",
        "examples/aksk.yml",
        "examples/temporary-aksk.yml",
        "examples/ecs-agency.yml",
        "examples/discovery.yml",
        "deploy/systemd/config.yml",
    ] {
        shipped.push((file.to_owned(), single_document(file)));
    }
    for (name, config) in shipped {
        check_config(&name, &config);
    }
}

#[test]
fn each_example_auth_mode_reads_keys_its_example_secret_provides() {
    for (example, secret) in [
        (
            "examples/token-file.yml",
            "deploy/kubernetes/overlays/token-file/secret.example.yaml",
        ),
        (
            "examples/iam.yml",
            "deploy/kubernetes/overlays/iam/secret.example.yaml",
        ),
        (
            "examples/aksk.yml",
            "deploy/kubernetes/overlays/aksk/secret.example.yaml",
        ),
    ] {
        let files = check_config(example, &single_document(example));
        assert_secret_provides(
            &files,
            &single_document(secret),
            &format!("{example} ({secret})"),
        );
    }
}

#[test]
fn systemd_config_reads_the_iam_password_from_the_credentials_directory() {
    let config = single_document("deploy/systemd/config.yml");
    assert_eq!(
        str_at(&config, "codearts.auth.iam.password_file"),
        "${CREDENTIALS_DIRECTORY}/iam-password"
    );
    let unit = read("deploy/systemd/codearts-repo-exporter.service");
    assert!(unit
        .lines()
        .any(|l| l == "LoadCredential=iam-password:/etc/codearts-repo-exporter/iam-password"));
    // The config is checked before each start, without the credential files (which
    // LoadCredential= already requires) and with the same extra flags as the start.
    assert!(
        unit.lines().any(|l| l
            == "ExecStartPre=/usr/local/bin/codearts-repo-exporter --config.check-syntax-only $CODEARTS_EXPORTER_ARGS"),
        "ExecStartPre= runs the syntax-only check"
    );
    assert!(unit
        .lines()
        .any(|l| l == "ExecReload=/bin/kill -HUP $MAINPID"));
    assert!(unit.lines().any(|l| l == "DynamicUser=yes"));
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

// These read the Dockerfile; scripts/dockerfile_replay.py (run by scripts/test-all.sh) runs it.

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
    // (the image replay in CI builds without benches/ in the context).
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
    assert!(
        !runtime.contains("--platform"),
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
    assert!(
        get("FROM")[0].starts_with("gcr.io/distroless/"),
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
