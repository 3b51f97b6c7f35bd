//! Incremental translation property test: for random histories of changes (Ingresses, Services,
//! EndpointSlices, Endpoints, Secrets, WasmPlugins and the IngressClass written, rewritten and deleted; instance options changed now
//! and then; now and then no list of changed objects), `translate_with_memo` with one memo kept across
//! the whole history, told which objects each change wrote or deleted (as the manifest source tells the
//! controller), gives after every change exactly what a full `translate_after` of the same objects gives
//! (equal values and equal JSON, diagnostics and their order included).
//!
//! The objects share a few names, hosts, paths and Services, so conflicts, canary merging, shared
//! clusters, first-upstream-policy and first-certificate decisions all change between steps.
//! Cases: `PROPTEST_CASES` (default 256).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use oxigress_objects::{load_documents, KubeObject, LoadedDocument, ObjectRef, Resources};
use oxigress_translate::{translate_after, translate_with_memo, InstanceOptions, TranslateMemo};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const NAMESPACES: &[&str] = &["a", "b"];
const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n";

fn pick<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(items)
}

fn meta(namespace: &str, name: &str) -> Value {
    json!({"namespace": namespace, "name": name})
}

/// A backend: Service index, and a port (80, 81, the name `http`, or a name no Service has).
fn backend() -> impl Strategy<Value = Value> {
    (0..3usize, 0..4usize).prop_map(|(service, port)| {
        let port = match port {
            0 => json!({"number": 80}),
            1 => json!({"number": 81}),
            2 => json!({"name": "http"}),
            _ => json!({"name": "nope"}),
        };
        json!({"service": {"name": format!("svc{service}"), "port": port}})
    })
}

fn annotations() -> impl Strategy<Value = Map<String, Value>> {
    const CHOICES: &[(&str, &str)] = &[
        ("nginx.ingress.kubernetes.io/canary", "true"),
        ("nginx.ingress.kubernetes.io/canary-by-header", "x-canary"),
        ("nginx.ingress.kubernetes.io/canary-weight", "30"),
        ("nginx.ingress.kubernetes.io/canary-weight", "lots"),
        ("nginx.ingress.kubernetes.io/app-root", "/app"),
        ("nginx.ingress.kubernetes.io/load-balance", "ewma"),
        ("nginx.ingress.kubernetes.io/load-balance", "round_robin"),
        ("nginx.ingress.kubernetes.io/backend-protocol", "HTTPS"),
        ("nginx.ingress.kubernetes.io/proxy-ssl-secret", "a/s0"),
        ("nginx.ingress.kubernetes.io/proxy-ssl-secret", "s1"),
        ("nginx.ingress.kubernetes.io/auth-type", "basic"),
        ("nginx.ingress.kubernetes.io/auth-secret", "s1"),
        ("nginx.ingress.kubernetes.io/mirror-target-service", "svc1"),
        ("nginx.ingress.kubernetes.io/default-backend", "svc2"),
        ("nginx.ingress.kubernetes.io/custom-http-errors", "503"),
        ("nginx.ingress.kubernetes.io/auth-tls-secret", "s0"),
        ("nginx.ingress.kubernetes.io/ssl-redirect", "maybe"),
        ("higress.io/exact-match-header-x-env", "blue"),
    ];
    prop::collection::vec(pick(CHOICES), 0..5)
        .prop_map(|pairs| pairs.into_iter().map(|(k, v)| (k.to_string(), Value::from(v))).collect())
}

fn ingress() -> impl Strategy<Value = Value> {
    let rule = (
        pick(&["h0.test", "h1.test", "", "*.w.test"]),
        prop::collection::vec((pick(&["/", "/x", "/x/", "/y"]), pick(&["Prefix", "Exact", "ImplementationSpecific"]), backend()), 1..3),
    )
        .prop_map(|(host, paths)| {
            let paths: Vec<Value> =
                paths.into_iter().map(|(path, kind, backend)| json!({"path": path, "pathType": kind, "backend": backend})).collect();
            let mut rule = json!({"http": {"paths": paths}});
            if !host.is_empty() {
                rule["host"] = Value::from(host);
            }
            rule
        });
    (
        pick(NAMESPACES),
        0..4usize,
        prop::option::of(0..3i64),
        pick(&["higress", "higress", "higress", "nginx", "other", ""]),
        annotations(),
        prop::collection::vec(rule, 1..3),
        prop::option::weighted(0.3, backend()),
        prop::option::weighted(0.3, (pick(&["s0", "s1", ""]), prop::option::of(pick(&["h0.test", "h1.test"])))),
    )
        .prop_map(|(namespace, name, created, class, annotations, rules, default_backend, tls)| {
            let mut metadata = meta(namespace, &format!("ing{name}"));
            metadata["annotations"] = Value::Object(annotations);
            if let Some(minutes) = created {
                metadata["creationTimestamp"] = Value::from(format!("2024-01-01T00:0{minutes}:00Z"));
            }
            let mut spec = json!({"rules": rules});
            if !class.is_empty() {
                spec["ingressClassName"] = Value::from(class);
            }
            if let Some(backend) = default_backend {
                spec["defaultBackend"] = backend;
            }
            if let Some((secret, host)) = tls {
                let hosts: Vec<&str> = host.into_iter().collect();
                spec["tls"] = json!([{"secretName": secret, "hosts": hosts}]);
            }
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": spec})
        })
}

fn service() -> impl Strategy<Value = Value> {
    (pick(NAMESPACES), 0..3usize, 0..4usize).prop_map(|(namespace, name, shape)| {
        let spec = match shape {
            0 => json!({"ports": [{"port": 80}]}),
            1 => json!({"ports": [{"port": 80, "name": "web"}, {"port": 81, "name": "http"}]}),
            2 => json!({"ports": [{"port": 81, "name": "http"}]}),
            _ => json!({"type": "ExternalName", "externalName": "example.com", "ports": [{"port": 80}]}),
        };
        json!({"apiVersion": "v1", "kind": "Service", "metadata": meta(namespace, &format!("svc{name}")), "spec": spec})
    })
}

fn endpoint_slice() -> impl Strategy<Value = Value> {
    (pick(NAMESPACES), 0..3usize, 0..2usize, 0..3usize, prop::option::of(any::<bool>()), pick(&["", "web", "http"]))
        .prop_map(|(namespace, service, index, address, ready, port_name)| {
            let mut metadata = meta(namespace, &format!("svc{service}-{index}"));
            metadata["labels"] = json!({"kubernetes.io/service-name": format!("svc{service}")});
            let mut endpoint = json!({"addresses": [format!("10.0.{index}.{address}")]});
            if let Some(ready) = ready {
                endpoint["conditions"] = json!({"ready": ready});
            }
            json!({
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": metadata,
                "addressType": "IPv4", "ports": [{"name": port_name, "port": 8080 + address}], "endpoints": [endpoint],
            })
        })
}

fn endpoints() -> impl Strategy<Value = Value> {
    (pick(NAMESPACES), 0..3usize, 0..3usize).prop_map(|(namespace, service, address)| {
        json!({
            "apiVersion": "v1", "kind": "Endpoints", "metadata": meta(namespace, &format!("svc{service}")),
            "subsets": [{"addresses": [{"ip": format!("10.1.0.{address}")}], "ports": [{"port": 9000}]}],
        })
    })
}

fn secret() -> impl Strategy<Value = Value> {
    (pick(NAMESPACES), 0..2usize, 0..4usize).prop_map(|(namespace, name, shape)| {
        let data = match shape {
            0 => json!({"tls.crt": PEM, "tls.key": KEY}),
            1 => json!({"tls.crt": PEM, "tls.key": KEY, "ca.crt": PEM.replace("MIIB", "CA")}),
            2 => json!({"ca.crt": PEM, "auth": "user:plain\nother:{SHA}x"}),
            _ => json!({"tls.crt": "not pem"}),
        };
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta(namespace, &format!("s{name}")), "stringData": data})
    })
}

/// A request-block WasmPlugin in the instance namespace `a`: global, or with ingress/domain rules.
fn wasm_plugin() -> impl Strategy<Value = Value> {
    (0..2usize, 0..3usize, pick(&["x", "y"])).prop_map(|(name, shape, word)| {
        let mut spec = json!({
            "url": "oci://higress-registry.cn-hangzhou.cr.aliyuncs.com/plugins/request-block:1.0.0",
            "defaultConfig": {"block_urls": [word]},
        });
        match shape {
            0 => {}
            1 => spec["matchRules"] = json!([{"ingress": ["a/ing0", "b/ing1"], "config": {"block_urls": ["z"]}}]),
            _ => spec["matchRules"] = json!([{"domain": ["h1.test", "*.w.test"], "config": {"block_urls": ["z"]}}]),
        }
        json!({
            "apiVersion": "extensions.higress.io/v1alpha1", "kind": "WasmPlugin",
            "metadata": meta("a", &format!("block{name}")), "spec": spec,
        })
    })
}

/// The IngressClass `higress` or `nginx` (whether `nginx` exists changes which Ingresses the `nginx`
/// instance selects).
fn ingress_class() -> impl Strategy<Value = Value> {
    pick(&["higress", "nginx"])
        .prop_map(|name| json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": name}}))
}

#[derive(Debug, Clone)]
enum Change {
    Write(Value),
    Delete(Value),
    /// Switch to the `n`th instance options.
    Options(usize),
    /// Translate without a list of changed objects.
    Unknown,
}

fn object() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => ingress(),
        2 => service(),
        2 => endpoint_slice(),
        1 => endpoints(),
        1 => secret(),
        1 => wasm_plugin(),
        1 => ingress_class(),
    ]
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        10 => object().prop_map(Change::Write),
        3 => object().prop_map(Change::Delete),
        1 => (0..4usize).prop_map(Change::Options),
        1 => Just(Change::Unknown),
    ]
}

fn options(n: usize) -> InstanceOptions {
    match n {
        0 => InstanceOptions { instance_namespace: "a".into(), ..Default::default() },
        1 => InstanceOptions { instance_namespace: "a".into(), watch_namespaces: vec!["a".into()], ..Default::default() },
        3 => InstanceOptions { instance_namespace: "a".into(), ingress_class: "nginx".into(), ..Default::default() },
        _ => InstanceOptions::default(),
    }
}

fn load(value: &Value) -> KubeObject {
    match load_documents(&value.to_string()).unwrap().pop() {
        Some(LoadedDocument::Object(object)) => object,
        other => panic!("generated an invalid object: {other:?}\n{value}"),
    }
}

/// Applies `changes` one by one and compares the memo's translation with a full one after each.
fn check(initial: Vec<Value>, changes: Vec<Change>) -> Result<(), TestCaseError> {
    let mut resources = Resources::from_objects(initial.iter().map(load));
    let mut options_now = options(0);
    let mut memo = TranslateMemo::default();
    let mut previous = None;
    for (step, change) in std::iter::once(None).chain(changes.into_iter().map(Some)).enumerate() {
        let mut changed = BTreeSet::new();
        let mut known = true;
        match change {
            None => {}
            Some(Change::Write(value)) => {
                let object = load(&value);
                changed.insert(object.object_ref());
                resources.insert(object);
            }
            Some(Change::Delete(value)) => {
                let reference: ObjectRef = load(&value).object_ref();
                resources.remove(&reference);
                changed.insert(reference);
            }
            Some(Change::Options(n)) => options_now = options(n),
            Some(Change::Unknown) => known = false,
        }
        let full = translate_after(&resources, &options_now, previous.as_ref());
        let hint = known.then_some(&changed);
        let incremental = translate_with_memo(&mut memo, &resources, &options_now, previous.as_ref(), hint);
        prop_assert_eq!(
            serde_json::to_string_pretty(&incremental).unwrap(),
            serde_json::to_string_pretty(&full).unwrap(),
            "step {}",
            step
        );
        prop_assert!(incremental == full, "step {}: equal JSON but unequal values", step);
        previous = Some(full.snapshot);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn incremental_translation_equals_a_full_translation(
        initial in prop::collection::vec(object(), 0..14),
        changes in prop::collection::vec(change(), 1..25),
    ) {
        check(initial, changes)?;
    }
}

/// A Service that appears after its Ingress was translated changes that Ingress' cluster (the cached
/// plan read "no Service"), a changed EndpointSlice changes its endpoints, and a slice moved to another
/// Service leaves the first one.
#[test]
fn a_changed_service_or_slice_replans_the_ingresses_that_read_it() {
    let ingress = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta("a", "ing0"),
        "spec": {"ingressClassName": "higress", "rules": [{"host": "h0.test", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "svc0", "port": {"number": 80}}}}]}}]},
    });
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": meta("a", "svc0"), "spec": {"ports": [{"port": 80}]}});
    let slice = |address: &str| {
        json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"namespace": "a", "name": "svc0-1", "labels": {"kubernetes.io/service-name": "svc0"}},
            "addressType": "IPv4", "ports": [{"name": "", "port": 8080}], "endpoints": [{"addresses": [address]}],
        })
    };
    let mut moved = slice("10.0.0.3");
    moved["metadata"]["labels"]["kubernetes.io/service-name"] = json!("svc1");
    check(
        vec![ingress],
        vec![
            Change::Write(service),
            Change::Write(slice("10.0.0.1")),
            Change::Write(slice("10.0.0.2")),
            Change::Write(moved),
            Change::Write(slice("10.0.0.4")),
        ],
    )
    .unwrap();
}

/// A change to one Ingress leaves every other host and cluster the very same `Arc` (what lets the
/// controller and the proxy skip them), and replaces those of the changed Ingress.
#[test]
fn unchanged_hosts_and_clusters_are_shared_with_the_previous_snapshot() {
    let ingress = |name: &str, service: &str| {
        json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta("a", name),
            "spec": {"ingressClassName": "higress", "rules": [{"host": format!("{name}.test"), "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": service, "port": {"number": 80}}}}]}}]},
        })
    };
    let service = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": meta("a", name), "spec": {"ports": [{"port": 80}]}})
    };
    let mut resources = Resources::from_objects(
        [ingress("one", "svc0"), ingress("two", "svc1"), service("svc0"), service("svc1")].iter().map(load),
    );
    let options = options(0);
    let mut memo = TranslateMemo::default();
    let before = translate_with_memo(&mut memo, &resources, &options, None, None).snapshot;
    let changed = load(&ingress("two", "svc0"));
    let changed_ref = changed.object_ref();
    resources.insert(changed);
    let after = translate_with_memo(&mut memo, &resources, &options, Some(&before), Some(&[changed_ref].into())).snapshot;
    let host = |s: &oxigress_ir::Snapshot, name: &str| s.virtual_hosts.iter().find(|v| v.host == name).unwrap().clone();
    assert!(std::sync::Arc::ptr_eq(&host(&before, "one.test"), &host(&after, "one.test")));
    assert!(!std::sync::Arc::ptr_eq(&host(&before, "two.test"), &host(&after, "two.test")));
    assert!(std::sync::Arc::ptr_eq(&before.clusters["a/svc0:80"], &after.clusters["a/svc0:80"]));
    assert!(!after.clusters.contains_key("a/svc1:80"), "svc1 is no longer used");
    assert_eq!(after, translate_after(&resources, &options, Some(&before)).snapshot);
}

