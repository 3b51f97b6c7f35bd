//! Isolation property test: for random sets of Ingresses, IngressClasses, Secrets, Services and
//! WasmPlugins, and random instance settings, no instance's IR ever holds a route, cluster, certificate,
//! client CA or plugin of an object it does not own.
//!
//! Ownership is computed here, independently of `oxigress_translate::select`, from the documented rules:
//! `../shared/spec/higress-behaviour.md` §2.2 (class filter), §2.3 (watched namespaces for Ingresses,
//! Services and Secrets), §3 (WasmPlugins of the instance namespace only) and `docs/multi-instance.md` /
//! README (the `oxigress.io/instance` label on Ingresses and WasmPlugins).
//!
//! Every object carries a marker of where it came from (Secret PEM text `marker:<ns>/<name>`, endpoint IP
//! per namespace), so a certificate with the right id but another object's content is caught too.
//! Cases: `PROPTEST_CASES` (default 256).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use oxigress_ir::Snapshot;
use oxigress_objects::{load_documents, LoadedDocument, Resources};
use oxigress_translate::{translate, InstanceOptions};
use proptest::prelude::*;
use serde_json::{json, Value};

const NAMESPACES: &[&str] = &["higress-system", "a", "b", "c"];
const CLASSES: &[&str] = &["higress", "nginx", "prod", "test", ""];
const INSTANCES: &[&str] = &["higress-gateway", "prod", "test"];
const SECRETS: &[&str] = &["s0", "s1", "s2"];
const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
const INSTANCE_LABEL: &str = "oxigress.io/instance";

#[derive(Debug, Clone)]
struct IngressCase {
    namespace: usize,
    /// `spec.ingressClassName`: a class of [`CLASSES`] or `dangling`.
    class_field: Option<String>,
    /// The class annotation (present even when empty).
    class_annotation: Option<String>,
    /// `oxigress.io/instance`.
    label: Option<String>,
    /// Shared host instead of its own.
    shared_host: bool,
    paths: Vec<String>,
    /// TLS entries: secret name, with the rule host or without hosts (`*`).
    tls: Vec<(String, bool)>,
    /// `auth-tls-secret`: `ns/name`.
    client_ca: Option<(usize, String)>,
}

#[derive(Debug, Clone)]
struct PluginCase {
    namespace: usize,
    label: Option<String>,
    /// `matchRules[].ingress` entries (route names).
    rules: Vec<String>,
    default_config: bool,
}

#[derive(Debug, Clone)]
struct Scenario {
    classes: Vec<String>,
    ingresses: Vec<IngressCase>,
    /// Secrets present: (namespace, name).
    secrets: BTreeSet<(usize, String)>,
    plugins: Vec<PluginCase>,
    instances: Vec<InstanceOptions>,
}

fn pick<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(items)
}

fn class_value() -> impl Strategy<Value = String> {
    prop_oneof![pick(CLASSES).prop_map(String::from), Just("dangling".to_string())]
}

fn ingress_case() -> impl Strategy<Value = IngressCase> {
    (
        0..NAMESPACES.len(),
        prop::option::of(class_value()),
        prop::option::of(class_value()),
        prop::option::weighted(0.3, pick(INSTANCES).prop_map(String::from)),
        prop::bool::weighted(0.2),
        prop::collection::vec(pick(&["/", "/a", "/b", "/a/b"]).prop_map(String::from), 1..3),
        prop::collection::vec((pick(SECRETS).prop_map(String::from), any::<bool>()), 0..3),
        prop::option::weighted(0.2, (0..NAMESPACES.len(), pick(SECRETS).prop_map(String::from))),
    )
        .prop_map(|(namespace, class_field, class_annotation, label, shared_host, paths, tls, client_ca)| IngressCase {
            namespace,
            class_field,
            class_annotation,
            label,
            shared_host,
            paths,
            tls,
            client_ca,
        })
}

fn plugin_case() -> impl Strategy<Value = PluginCase> {
    (
        0..NAMESPACES.len(),
        prop::option::weighted(0.5, pick(INSTANCES).prop_map(String::from)),
        prop::collection::vec(pick(&["ing0", "a/ing1", "b/ing2", "c/*", "higress-system/ing3"]).prop_map(String::from), 0..3),
        any::<bool>(),
    )
        .prop_map(|(namespace, label, rules, default_config)| PluginCase { namespace, label, rules, default_config })
}

fn instance_options() -> impl Strategy<Value = InstanceOptions> {
    (
        pick(INSTANCES),
        0..NAMESPACES.len(),
        pick(CLASSES),
        prop::collection::btree_set(0..NAMESPACES.len(), 0..3),
    )
        .prop_map(|(name, namespace, class, watched)| InstanceOptions {
            instance_name: name.to_string(),
            instance_namespace: NAMESPACES[namespace].to_string(),
            ingress_class: class.to_string(),
            watch_namespaces: watched.into_iter().map(|n| NAMESPACES[n].to_string()).collect(),
        })
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::btree_set(pick(&["higress", "nginx", "prod", "test"]).prop_map(String::from), 0..4),
        prop::collection::vec(ingress_case(), 0..8),
        prop::collection::btree_set((0..NAMESPACES.len(), pick(SECRETS).prop_map(String::from)), 0..8),
        prop::collection::vec(plugin_case(), 0..4),
        prop::collection::vec(instance_options(), 1..4),
    )
        .prop_map(|(classes, ingresses, secrets, plugins, instances)| Scenario {
            classes: classes.into_iter().collect(),
            ingresses,
            secrets,
            plugins,
            instances,
        })
}

fn host_of(index: usize, case: &IngressCase) -> String {
    if case.shared_host {
        "shared.example.com".to_string()
    } else {
        format!("h{index}.example.com")
    }
}

fn marker(namespace: &str, name: &str, key: &str) -> String {
    format!("-----BEGIN CERTIFICATE-----\nmarker:{namespace}/{name}/{key}\n-----END CERTIFICATE-----\n")
}

/// The scenario as Kubernetes manifests (JSON documents in a `List`).
fn manifests(s: &Scenario) -> String {
    let mut items: Vec<Value> = Vec::new();
    for class in &s.classes {
        items.push(json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": class}, "spec": {"controller": "higress.io/higress-controller"}}));
    }
    for (n, namespace) in NAMESPACES.iter().enumerate() {
        items.push(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": namespace},
            "spec": {"ports": [{"port": 80}]}}));
        items.push(json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "svc-1", "namespace": namespace, "labels": {"kubernetes.io/service-name": "svc"}},
            "addressType": "IPv4", "ports": [{"name": "", "port": 8080}],
            "endpoints": [{"addresses": [format!("10.0.{n}.1")], "conditions": {"ready": true}}]}));
    }
    for (n, name) in &s.secrets {
        let ns = NAMESPACES[*n];
        items.push(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
            "type": "kubernetes.io/tls",
            "stringData": {"tls.crt": marker(ns, name, "crt"), "tls.key": marker(ns, name, "key"), "ca.crt": marker(ns, name, "ca")}}));
    }
    for (i, case) in s.ingresses.iter().enumerate() {
        let ns = NAMESPACES[case.namespace];
        let host = host_of(i, case);
        let mut annotations = serde_json::Map::new();
        if let Some(class) = &case.class_annotation {
            annotations.insert(CLASS_ANNOTATION.into(), json!(class));
        }
        if let Some((n, name)) = &case.client_ca {
            annotations.insert("nginx.ingress.kubernetes.io/auth-tls-secret".into(), json!(format!("{}/{name}", NAMESPACES[*n])));
        }
        let mut labels = serde_json::Map::new();
        if let Some(label) = &case.label {
            labels.insert(INSTANCE_LABEL.into(), json!(label));
        }
        let paths: Vec<Value> = case
            .paths
            .iter()
            .map(|p| json!({"path": p, "pathType": "Prefix", "backend": {"service": {"name": "svc", "port": {"number": 80}}}}))
            .collect();
        let tls: Vec<Value> = case
            .tls
            .iter()
            .map(|(secret, with_host)| if *with_host { json!({"hosts": [host], "secretName": secret}) } else { json!({"secretName": secret}) })
            .collect();
        let mut spec = json!({"rules": [{"host": host, "http": {"paths": paths}}], "tls": tls});
        if let Some(class) = &case.class_field {
            spec["ingressClassName"] = json!(class);
        }
        items.push(json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": format!("ing{i}"), "namespace": ns, "annotations": annotations, "labels": labels},
            "spec": spec}));
    }
    for (i, case) in s.plugins.iter().enumerate() {
        let mut labels = serde_json::Map::new();
        if let Some(label) = &case.label {
            labels.insert(INSTANCE_LABEL.into(), json!(label));
        }
        let rules: Vec<Value> =
            case.rules.iter().map(|r| json!({"ingress": [r], "config": {"block_urls": [format!("/rule{i}")]}})).collect();
        let mut spec = json!({"url": "oci://x/plugins/request-block:1.0.0", "matchRules": rules});
        if case.default_config {
            spec["defaultConfig"] = json!({"block_urls": [format!("/plugin{i}")]});
        }
        items.push(json!({"apiVersion": "extensions.higress.io/v1alpha1", "kind": "WasmPlugin",
            "metadata": {"name": format!("p{i}"), "namespace": NAMESPACES[case.namespace], "labels": labels},
            "spec": spec}));
    }
    json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string()
}

fn resources(text: &str) -> Resources {
    let objects = load_documents(text).unwrap().into_iter().map(|d| match d {
        LoadedDocument::Object(o) => o,
        other => panic!("generated an invalid object: {other:?}"),
    });
    Resources::from_objects(objects)
}

// === the documented rules, written out again ===

fn watches(options: &InstanceOptions, namespace: &str) -> bool {
    options.watch_namespaces.is_empty() || options.watch_namespaces.iter().any(|w| w == namespace)
}

fn label_allows(label: &Option<String>, options: &InstanceOptions) -> bool {
    label.as_deref().is_none_or(|l| l == options.instance_name)
}

/// higress-behaviour.md §2.2, line by line.
fn class_accepts(case: &IngressCase, classes: &[String], opt: &str) -> bool {
    if let Some(ann) = &case.class_annotation {
        return match opt {
            "" => true,
            "nginx" => ann.is_empty() || ann == "nginx",
            _ => ann == opt,
        };
    }
    let object_exists = case.class_field.as_ref().is_some_and(|name| classes.contains(name));
    if object_exists {
        return opt.is_empty() || case.class_field.as_deref() == Some(opt);
    }
    match opt {
        "" => true,
        "nginx" => matches!(case.class_field.as_deref(), None | Some("") | Some("nginx")),
        _ => case.class_field.as_deref() == Some(opt),
    }
}

fn owns_ingress(s: &Scenario, case: &IngressCase, options: &InstanceOptions) -> bool {
    watches(options, NAMESPACES[case.namespace])
        && label_allows(&case.label, options)
        && class_accepts(case, &s.classes, &options.ingress_class)
}

fn owns_plugin(case: &PluginCase, options: &InstanceOptions) -> bool {
    NAMESPACES[case.namespace] == options.instance_namespace && label_allows(&case.label, options)
}

fn check(s: &Scenario, options: &InstanceOptions, snapshot: &Snapshot) -> Result<(), TestCaseError> {
    let owned: Vec<(usize, &IngressCase)> =
        s.ingresses.iter().enumerate().filter(|(_, c)| owns_ingress(s, c, options)).collect();
    let owned_names: BTreeSet<(String, String)> =
        owned.iter().map(|(i, c)| (NAMESPACES[c.namespace].to_string(), format!("ing{i}"))).collect();
    prop_assert!(snapshot.validate().is_empty(), "{:?}", snapshot.validate());

    // Routes: only from owned Ingresses; each owned Ingress with a host of its own has its routes.
    let mut seen = BTreeSet::new();
    for route in snapshot.virtual_hosts.iter().flat_map(|v| &v.routes) {
        prop_assert_eq!(&route.source.kind, "Ingress");
        let key = (route.source.namespace.clone(), route.source.name.clone());
        prop_assert!(owned_names.contains(&key), "route {} of {:?} not owned by {:?}", route.id, key, options);
        seen.insert(key);
    }
    for (i, case) in &owned {
        if !case.shared_host {
            let key = (NAMESPACES[case.namespace].to_string(), format!("ing{i}"));
            prop_assert!(seen.contains(&key), "owned Ingress {:?} has no route ({:?})", key, options);
        }
    }

    // Clusters: Services of watched namespaces used by owned Ingresses; endpoints of that namespace.
    for (id, cluster) in &snapshot.clusters {
        let (namespace, _) = id.split_once('/').unwrap();
        let n = NAMESPACES.iter().position(|x| *x == namespace).unwrap();
        prop_assert!(watches(options, namespace), "cluster {} of an unwatched namespace", id);
        prop_assert!(owned.iter().any(|(_, c)| c.namespace == n), "cluster {} used by no owned Ingress", id);
        for endpoint in &cluster.endpoints {
            prop_assert_eq!(&endpoint.ip, &format!("10.0.{n}.1"));
        }
    }

    // Certificates: a Secret of the owning Ingress' (watched) namespace, named in an owned Ingress' TLS.
    for (id, certificate) in &snapshot.certificates {
        let (namespace, name) = id.split_once('/').unwrap();
        prop_assert!(watches(options, namespace), "certificate {} of an unwatched namespace", id);
        prop_assert!(
            owned.iter().any(|(_, c)| NAMESPACES[c.namespace] == namespace && c.tls.iter().any(|(secret, _)| secret == name)),
            "certificate {} named by no owned Ingress ({:?})",
            id,
            options
        );
        prop_assert_eq!(&certificate.chain_pem, &marker(namespace, name, "crt"));
        prop_assert_eq!(&certificate.key_pem, &marker(namespace, name, "key"));
    }
    for tls in &snapshot.tls_hosts {
        if let Some(ca) = &tls.client_ca_pem {
            let allowed = owned.iter().filter_map(|(_, c)| c.client_ca.as_ref()).any(|(n, name)| {
                watches(options, NAMESPACES[*n]) && ca == &marker(NAMESPACES[*n], name, "ca")
            });
            prop_assert!(allowed, "client CA of host {} from a Secret no owned Ingress names in a watched namespace", tls.host);
        }
    }

    // Plugins: only the instance namespace's, labelled for this instance or not at all.
    let owned_plugins: BTreeSet<String> = s
        .plugins
        .iter()
        .enumerate()
        .filter(|(_, c)| owns_plugin(c, options))
        .map(|(i, c)| format!("{}/p{i}", NAMESPACES[c.namespace]))
        .collect();
    for plugin in &snapshot.plugins {
        prop_assert!(owned_plugins.contains(&plugin.id), "plugin {} not owned by {:?}", plugin.id, options);
        let id = format!("{}/{}", plugin.source.namespace, plugin.source.name);
        prop_assert_eq!(&plugin.id, &id);
    }
    // Each owned plugin with a global configuration is applied.
    for (i, case) in s.plugins.iter().enumerate() {
        if owns_plugin(case, options) && case.default_config {
            let id = format!("{}/p{i}", NAMESPACES[case.namespace]);
            prop_assert!(snapshot.plugins.iter().any(|p| p.id == id), "owned plugin {} missing", id);
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn no_instance_holds_what_it_does_not_own(s in scenario()) {
        let resources = resources(&manifests(&s));
        for options in &s.instances {
            let translation = translate(&resources, options);
            check(&s, options, &translation.snapshot)?;
        }
    }
}
