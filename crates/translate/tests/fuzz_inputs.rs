//! Property tests of everything that reads user input on the control plane, run by `cargo test` with a
//! bounded number of cases (`PROPTEST_CASES`, default 256; the unbounded fuzzers are under `fuzz/`):
//!
//! - the manifest loader: arbitrary bytes and YAML-ish documents of every kind oxigress reads never
//!   panic, and whatever loads also translates without panicking;
//! - every supported annotation (`annotations::SUPPORTED`, both prefixes, plus the `higress.io` match
//!   family) with random values: translate never panics, is deterministic and yields a consistent IR;
//! - route precedence: for random Exact/Prefix paths on one host, the first route of the IR that matches a
//!   request is the one a naive reference picks (an equal Exact path, else the longest matching Prefix).
#![allow(clippy::unwrap_used)]

use oxigress_ir::{PathMatch, Snapshot};
use oxigress_objects::{load_documents, LoadedDocument, Resources};
use oxigress_translate::annotations::{HIGRESS_PREFIX, NGINX_PREFIX, SUPPORTED};
use oxigress_translate::{translate, InstanceOptions};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn resources_of(text: &str) -> Resources {
    let objects = load_documents(text).map(|docs| {
        docs.into_iter().filter_map(|d| match d {
            LoadedDocument::Object(o) => Some(o),
            _ => None,
        })
    });
    objects.map(Resources::from_objects).unwrap_or_default()
}

fn options() -> InstanceOptions {
    InstanceOptions { ingress_class: String::new(), ..InstanceOptions::default() }
}

fn assert_consistent(snapshot: &Snapshot) -> Result<(), TestCaseError> {
    let problems = snapshot.validate();
    prop_assert!(problems.is_empty(), "inconsistent IR: {:?}", problems);
    Ok(())
}

// === the loader ===

/// Field names of the kinds oxigress reads, so random documents reach the typed decoders.
const FIELDS: &[&str] = &[
    "metadata", "name", "namespace", "labels", "annotations", "creationTimestamp", "spec", "rules", "host",
    "http", "paths", "path", "pathType", "backend", "service", "port", "number", "tls", "hosts", "secretName",
    "ingressClassName", "defaultBackend", "resource", "ports", "targetPort", "protocol", "type", "endpoints",
    "addresses", "conditions", "ready", "addressType", "subsets", "ip", "data", "stringData", "url",
    "defaultConfig", "matchRules", "ingress", "domain", "config", "configDisable", "phase", "priority",
    "pluginConfig", "items", "kind", "apiVersion", "controller", "externalName", "clusterIP",
];

const KINDS: &[(&str, &str)] = &[
    ("networking.k8s.io/v1", "Ingress"),
    ("networking.k8s.io/v1", "IngressClass"),
    ("v1", "Service"),
    ("discovery.k8s.io/v1", "EndpointSlice"),
    ("v1", "Endpoints"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("extensions.higress.io/v1alpha1", "WasmPlugin"),
    ("v1", "List"),
    ("v1", "Pod"),
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop_oneof![Just(0i64), Just(80), Just(-1), Just(65536), Just(i64::from(i32::MAX) + 1)].prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        prop_oneof![
            Just("Prefix"), Just("Exact"), Just("ImplementationSpecific"), Just("/"), Just("/a"), Just("*.x.com"),
            Just("a.com"), Just("10.0.0.1"), Just("apps"), Just("svc"), Just("higress"), Just(""), Just("ÿ\u{0}"),
            Just("oci://x/plugins/request-block:1.0.0"), Just("dGVzdA=="), Just("-----BEGIN CERTIFICATE-----"),
        ]
        .prop_map(|s| Value::String(s.to_string())),
        ".{0,20}".prop_map(Value::String),
    ]
}

fn field() -> impl Strategy<Value = String> {
    prop_oneof![9 => prop::sample::select(FIELDS).prop_map(String::from), 1 => "[a-z]{1,8}"]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 64, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((field(), inner), 0..6).prop_map(|f| Value::Object(f.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn document() -> impl Strategy<Value = Value> {
    (prop::sample::select(KINDS), prop::collection::vec((field(), value()), 0..6), "[a-z]{0,3}", "[a-z]{0,3}").prop_map(
        |((api_version, kind), fields, name, namespace)| {
            let mut doc: Map<String, Value> = fields.into_iter().collect();
            doc.insert("apiVersion".into(), json!(api_version));
            doc.insert("kind".into(), json!(kind));
            if !doc.get("metadata").is_some_and(Value::is_object) {
                doc.insert("metadata".into(), json!({"name": name, "namespace": namespace}));
            }
            Value::Object(doc)
        },
    )
}

/// A manifest file: documents as YAML or JSON, optionally cut or spliced with YAML syntax.
fn manifest_text() -> impl Strategy<Value = String> {
    let splice = prop::sample::select(&[
        "", "---\n", "&a x\n", "*a\n", "<<: *a\n", "!!binary x\n", ": :\n", "- [\n", "\t", "key: {a: 1\n", "... \n",
        "%YAML 1.2\n", "? complex\n", "!custom\n",
    ][..]);
    (prop::collection::vec((document(), any::<bool>()), 0..4), any::<prop::sample::Index>(), splice, any::<bool>()).prop_map(
        |(docs, at, splice, cut)| {
            let mut text = String::new();
            for (doc, as_json) in docs {
                text.push_str("---\n");
                if as_json {
                    text.push_str(&doc.to_string());
                    text.push('\n');
                } else {
                    text.push_str(&serde_yaml_ng::to_string(&doc).unwrap());
                }
            }
            let mut boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
            boundaries.push(text.len());
            let position = boundaries[at.index(boundaries.len())];
            if cut {
                text.truncate(position);
            }
            let position = position.min(text.len());
            text.insert_str(position, splice);
            text
        },
    )
}

proptest! {
    #[test]
    fn loader_survives_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = load_documents(&text);
    }

    #[test]
    fn loader_and_translate_survive_yaml_ish_documents(text in manifest_text()) {
        match load_documents(&text) {
            Ok(documents) => {
                for document in &documents {
                    if let LoadedDocument::Invalid { message, .. } = document {
                        prop_assert!(!message.is_empty());
                    }
                }
            }
            Err(e) => prop_assert!(!e.0.is_empty()),
        }
        let resources = resources_of(&text);
        let first = translate(&resources, &options());
        assert_consistent(&first.snapshot)?;
        prop_assert_eq!(first, translate(&resources, &options()));
    }
}

/// Aliases that expand exponentially are refused (or bounded), not expanded until memory runs out.
#[test]
fn loader_refuses_alias_bombs() {
    let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = (b'a' + (i - 1) as u8) as char;
        let this = (b'a' + i as u8) as char;
        text.push_str(&format!("{this}: &{this} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    let started = std::time::Instant::now();
    let _ = load_documents(&text);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "alias expansion took {:?}", started.elapsed());
}

/// Very deep nesting is an error, not a stack overflow.
#[test]
fn loader_refuses_deep_nesting() {
    let depth = 100_000;
    let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(load_documents(&text).is_err());
    let text = format!("kind: Ingress\napiVersion: networking.k8s.io/v1\nspec: {}1{}", "{a: ".repeat(depth), "}".repeat(depth));
    assert!(load_documents(&text).is_err());
}

// === annotations ===

/// Values an annotation parser may trip over.
fn annotation_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(&[
            "", " ", "true", "false", "TRUE", "0", "1", "-1", "100", "101", "1000", "4294967296", "99999999999999999999",
            "1.5", "301", "399", "600", "10s", "5m", "(", ".*", "/a/(.*)", "/$1", "/$2/x", "$9", "^/a$", "[a-", "\\",
            "10.0.0.0/8", "1.2.3.4", "::1/129", "1.2.3.4/33", "a,b,,c", "ns/name", "/name", "ns/", "a/b/c",
            "svc", "apps/svc", "apps/svc:80", "svc:http", "https://example.com/x", "example.com", "http://", "*",
            "GET POST", "get", "G E T", "X-A 1\nX-B 2", "X-A", "\n\n", "a:b", "x-a: 1", "ECDHE-RSA-AES128-GCM-SHA256",
            "foo:bar", "ALL:!aNULL", "Content-Type", "https://a.com,https://*.b.com", "é", "\u{0}",
        ][..])
        .prop_map(String::from),
        ".{0,24}",
    ]
}

fn annotation_key() -> impl Strategy<Value = String> {
    let supported = prop::sample::select(SUPPORTED).prop_flat_map(|key| {
        prop::sample::select(&[NGINX_PREFIX, HIGRESS_PREFIX][..]).prop_map(move |prefix| format!("{prefix}{key}"))
    });
    let matches = (
        prop::sample::select(&["exact-", "prefix-", "regex-", "bogus-"][..]),
        prop::sample::select(&["match-header-", "match-pseudo-header-", "match-query-"][..]),
        "[a-zA-Z:-]{0,6}",
    )
        .prop_map(|(kind, family, name)| format!("{HIGRESS_PREFIX}{kind}{family}{name}"));
    prop_oneof![6 => supported, 2 => matches, 1 => Just(format!("{HIGRESS_PREFIX}match-method")), 1 => "[a-z./-]{1,30}"]
}

fn annotated_ingresses() -> impl Strategy<Value = String> {
    let one = (
        prop::collection::btree_map(annotation_key(), annotation_value(), 0..10),
        prop::sample::select(&["a.com", "*.a.com", "b.com"][..]),
        prop::collection::vec(
            (prop::sample::select(&["/", "/a", "/a/", "/a/(.*)", "/b/.+", "/(", "/c"][..]), prop::sample::select(&["Prefix", "Exact", "ImplementationSpecific"][..])),
            1..3,
        ),
        any::<bool>(),
        any::<bool>(),
    );
    prop::collection::vec(one, 1..4).prop_map(|ingresses| {
        let mut items = vec![
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": "apps"}, "spec": {"ports": [{"port": 80, "name": "http"}]}}),
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "svc-1", "namespace": "apps", "labels": {"kubernetes.io/service-name": "svc"}},
                   "addressType": "IPv4", "ports": [{"name": "http", "port": 8080}], "endpoints": [{"addresses": ["10.0.0.1"]}]}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "name", "namespace": "ns"},
                   "stringData": {"tls.crt": "-----BEGIN CERTIFICATE-----", "tls.key": "-----BEGIN KEY-----", "ca.crt": "-----BEGIN CERTIFICATE-----"}}),
        ];
        for (i, (annotations, host, paths, tls, default_backend)) in ingresses.into_iter().enumerate() {
            let paths: Vec<Value> = paths
                .into_iter()
                .map(|(path, kind)| json!({"path": path, "pathType": kind, "backend": {"service": {"name": "svc", "port": {"number": 80}}}}))
                .collect();
            let mut spec = json!({"rules": [{"host": host, "http": {"paths": paths}}]});
            if tls {
                spec["tls"] = json!([{"hosts": [host], "secretName": "name"}]);
            }
            if default_backend {
                spec["defaultBackend"] = json!({"service": {"name": "svc", "port": {"name": "http"}}});
            }
            items.push(json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": format!("i{i}"), "namespace": "apps", "annotations": annotations,
                             "creationTimestamp": format!("2024-01-01T00:00:0{i}Z")},
                "spec": spec}));
        }
        json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string()
    })
}

proptest! {
    #[test]
    fn annotations_never_panic_and_translate_deterministically(text in annotated_ingresses()) {
        let resources = resources_of(&text);
        prop_assert!(!resources.ingresses.is_empty());
        let first = translate(&resources, &options());
        assert_consistent(&first.snapshot)?;
        prop_assert_eq!(&first, &translate(&resources, &options()));
        // Serializes (what /debug/config and the snapshot stream do).
        let json = first.snapshot.to_json();
        let back: Snapshot = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back.virtual_hosts, first.snapshot.virtual_hosts);
    }
}

// === route precedence model ===

fn prefix_matches(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty() || path == prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
}

/// What a request for `path` should hit, from the Ingress paths as written: `(exact?, normalized path)`.
fn reference(paths: &[(String, bool)], path: &str) -> Option<(bool, String)> {
    if paths.iter().any(|(p, exact)| *exact && p == path) {
        return Some((true, path.to_string()));
    }
    paths
        .iter()
        .filter(|(p, exact)| !exact && prefix_matches(p, path))
        .map(|(p, _)| p.trim_end_matches('/').to_string())
        .max_by_key(String::len)
        .map(|p| (false, if p.is_empty() { "/".to_string() } else { p }))
}

fn ir_pick(snapshot: &Snapshot, path: &str) -> Option<(bool, String)> {
    let routes = &snapshot.virtual_hosts.iter().find(|v| v.host == "m.com")?.routes;
    routes.iter().find_map(|route| match &route.path {
        PathMatch::Exact(p) if p == path => Some((true, p.clone())),
        PathMatch::Prefix(p) if prefix_matches(p, path) => {
            let p = p.trim_end_matches('/');
            Some((false, if p.is_empty() { "/".to_string() } else { p.to_string() }))
        }
        _ => None,
    })
}

const SEGMENTS: &[&str] = &["/", "/a", "/a/", "/ab", "/a/b", "/a/b/", "/b", "/b/a", "/a/b/c"];

proptest! {
    #[test]
    fn first_matching_route_is_exact_then_longest_prefix(
        ingresses in prop::collection::vec(prop::collection::vec((prop::sample::select(SEGMENTS), any::<bool>()), 1..4), 1..4),
        requests in prop::collection::vec(prop::sample::select(&["/", "/a", "/a/", "/ab", "/abc", "/a/b", "/a/b/c/d", "/b", "/b/", "/c"][..]), 1..8),
    ) {
        let mut items = vec![
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": "apps"}, "spec": {"ports": [{"port": 80}]}}),
        ];
        let mut written = Vec::new();
        for (i, paths) in ingresses.iter().enumerate() {
            let paths: Vec<Value> = paths
                .iter()
                .map(|(path, exact)| {
                    written.push((path.to_string(), *exact));
                    json!({"path": path, "pathType": if *exact { "Exact" } else { "Prefix" },
                           "backend": {"service": {"name": "svc", "port": {"number": 80}}}})
                })
                .collect();
            items.push(json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": format!("i{i}"), "namespace": "apps", "creationTimestamp": format!("2024-01-01T00:00:0{i}Z")},
                "spec": {"ingressClassName": "higress", "rules": [{"host": "m.com", "http": {"paths": paths}}]}}));
        }
        let resources = resources_of(&json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string());
        let snapshot = translate(&resources, &InstanceOptions::default()).snapshot;
        for path in requests {
            prop_assert_eq!(ir_pick(&snapshot, path), reference(&written, path), "request {}", path);
        }
    }
}
