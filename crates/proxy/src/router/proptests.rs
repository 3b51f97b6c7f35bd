//! Property tests of the router: random route tables (valid and invalid regexes, methods, policies) and
//! random requests never panic, and the route found is the one a naive reference picks: the request's
//! virtual host (exact host, else the one-label wildcard, else `*`; an exact host falls back to its
//! wildcard host), then the first route in order whose path, method, header and query conditions hold.
//! Cases: `PROPTEST_CASES` (default 256).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use oxigress_ir::{
    Cluster, Forward, HeaderMatch, MatchKind, PathMatch, PathRewrite, RateLimit, Route, RouteAction, RoutePolicy,
    Snapshot, SourceRef, VirtualHost,
};
use proptest::prelude::*;
use prometheus_client::registry::Registry;
use regex::Regex;

use super::RequestFacts;
use crate::metrics::ProxyMetrics;
use crate::runtime::Runtime;

const HOSTS: &[&str] = &["a.com", "b.a.com", "*.a.com", "*", "x.b.com", "*.b.com", "*.x.b.com"];
const REQUEST_HOSTS: &[&str] = &["a.com", "b.a.com", "c.a.com", "a.b.a.com", "x.b.com", "y.b.com", "b.com", "z.com", ""];
const PATHS: &[&str] = &["/", "/a", "/a/", "/A", "/ab", "/a/b", "/b", "//", "/a/b/c", "", "/é", "/%2F"];
const REGEXES: &[&str] = &["/a.*", "/(a|b)", "(", "/[a-", ".*", "/a/(.*)", "(?i)/A", "\\", "/a{2,}", "^/a$"];
const HEADER_NAMES: &[&str] = &["x-a", "x-b", ":authority", ":path", ":method"];
const VALUES: &[&str] = &["", "1", "10", "a", "a.com", "/a", "GET", "(", ".*", "1.*"];
const METHODS: &[&str] = &["GET", "POST", "PUT", "G E T", "", "get", "PATCH"];

fn kind() -> impl Strategy<Value = MatchKind> {
    prop_oneof![Just(MatchKind::Exact), Just(MatchKind::Prefix), Just(MatchKind::Regex)]
}

fn value_match(names: &'static [&'static str]) -> impl Strategy<Value = HeaderMatch> {
    (prop::sample::select(names), kind(), prop::sample::select(VALUES)).prop_map(|(name, kind, value)| HeaderMatch {
        name: name.to_string(),
        kind,
        value: value.to_string(),
    })
}

fn path_match() -> impl Strategy<Value = PathMatch> {
    prop_oneof![
        prop::sample::select(PATHS).prop_map(|p| PathMatch::Exact(p.to_string())),
        prop::sample::select(PATHS).prop_map(|p| PathMatch::Prefix(p.trim_end_matches('/').to_string())),
        prop::sample::select(REGEXES).prop_map(|p| PathMatch::Regex(p.to_string())),
    ]
}

fn policy() -> impl Strategy<Value = RoutePolicy> {
    (
        any::<bool>(),
        prop::option::weighted(0.1, (prop::sample::select(REGEXES), ".{0,6}")),
        prop::option::weighted(0.1, (any::<u32>(), any::<u32>(), 0u64..5000)),
        prop::collection::vec(prop::sample::select(&["10.0.0.0/8", "1.2.3.4", "::1/129", "x", ""][..]), 0..2),
        prop::option::weighted(0.1, ".{0,10}"),
    )
        .prop_map(|(ignore_path_case, rewrite, rate, allow, host)| RoutePolicy {
            ignore_path_case,
            path_rewrite: rewrite.map(|(pattern, substitution)| PathRewrite { pattern: pattern.to_string(), substitution }),
            rate_limit: rate.map(|(max, per_fill, interval_ms)| RateLimit { max, per_fill, interval_ms }),
            allow_sources: allow.into_iter().map(String::from).collect(),
            host_rewrite: host,
            ..RoutePolicy::default()
        })
}

fn route() -> impl Strategy<Value = (PathMatch, Vec<HeaderMatch>, Vec<HeaderMatch>, Vec<String>, RoutePolicy)> {
    (
        path_match(),
        prop::collection::vec(value_match(HEADER_NAMES), 0..2),
        prop::collection::vec(value_match(&["q", "r"]), 0..2),
        prop::collection::vec(prop::sample::select(METHODS).prop_map(String::from), 0..2),
        policy(),
    )
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    prop::collection::btree_map(prop::sample::select(HOSTS), prop::collection::vec(route(), 0..5), 0..5).prop_map(|hosts| {
        let cluster = Cluster { id: "c".into(), endpoints: Vec::new(), upstream: Default::default() };
        let virtual_hosts = hosts
            .into_iter()
            .map(|(host, routes)| VirtualHost {
                host: host.to_string(),
                routes: routes
                    .into_iter()
                    .enumerate()
                    .map(|(i, (path, headers, query, methods, policy))| Route {
                        id: format!("{host}/{i}"),
                        name: format!("{host}/{i}"),
                        source: SourceRef { kind: "Ingress".into(), namespace: "ns".into(), name: "i".into() },
                        path,
                        headers,
                        query,
                        methods,
                        action: RouteAction::Forward(Forward { cluster: "c".into(), fallback: None, canary: None, error_fallback: None }),
                        plugins: Vec::new(),
                        policy,
                    })
                    .collect(),
            })
            .map(Arc::new)
            .collect();
        Snapshot { virtual_hosts, clusters: [("c".to_string(), Arc::new(cluster))].into(), ..Snapshot::default() }
    })
}

#[derive(Debug, Clone)]
struct Request {
    host: &'static str,
    path: &'static str,
    query: Option<&'static str>,
    method: &'static str,
    headers: Vec<(&'static str, &'static str)>,
}

fn request() -> impl Strategy<Value = Request> {
    (
        prop::sample::select(REQUEST_HOSTS),
        prop::sample::select(PATHS),
        prop::option::of(prop::sample::select(&["q=1", "q=", "q", "r=a&q=10", "q=a&q=b", "&&", "q=(%"][..])),
        prop::sample::select(&["GET", "POST", "PUT", "PATCH"][..]),
        prop::collection::vec((prop::sample::select(&["x-a", "x-b"][..]), prop::sample::select(VALUES)), 0..3),
    )
        .prop_map(|(host, path, query, method, headers)| Request { host, path, query, method, headers })
}

// === the naive reference ===

fn anchored(pattern: &str) -> Option<Regex> {
    Regex::new(&format!("^(?:{pattern})$")).ok()
}

/// Whether the proxy can compile `route` at all (bad regexes and methods drop the route).
fn compiles(route: &Route) -> bool {
    let path_ok = match &route.path {
        PathMatch::Regex(r) => anchored(r).is_some() && anchored(&format!("(?i:{r})")).is_some(),
        _ => true,
    };
    let values_ok = |list: &[HeaderMatch]| list.iter().all(|m| m.kind != MatchKind::Regex || anchored(&m.value).is_some());
    path_ok
        && values_ok(&route.headers)
        && values_ok(&route.query)
        && route.methods.iter().all(|m| Method::from_bytes(m.as_bytes()).is_ok())
        && crate::route_policy::CompiledPolicy::new(&route.policy).is_ok()
}

fn path_holds(route: &Route, path: &str) -> bool {
    let fold = route.policy.ignore_path_case;
    let eq = |a: &str, b: &str| if fold { a.eq_ignore_ascii_case(b) } else { a == b };
    match &route.path {
        PathMatch::Exact(p) => eq(path, p),
        PathMatch::Prefix(p) => {
            p == "/"
                || path.len() >= p.len()
                    && path.is_char_boundary(p.len())
                    && eq(&path[..p.len()], p)
                    && (path.len() == p.len() || path[p.len()..].starts_with('/'))
        }
        PathMatch::Regex(r) => {
            let pattern = if fold { format!("(?i:{r})") } else { r.clone() };
            anchored(&pattern).is_some_and(|re| re.is_match(path))
        }
    }
}

fn value_holds(m: &HeaderMatch, value: Option<&str>) -> bool {
    let Some(value) = value else { return false };
    match m.kind {
        MatchKind::Exact => value == m.value,
        MatchKind::Prefix => value.starts_with(&m.value),
        MatchKind::Regex => anchored(&m.value).is_some_and(|re| re.is_match(value)),
    }
}

fn holds(route: &Route, r: &Request) -> bool {
    let header = |name: &str| -> Option<&str> {
        match name {
            ":authority" => Some(r.host),
            ":path" => Some(r.path),
            ":method" => Some(r.method),
            _ => r.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v),
        }
    };
    let query = |name: &str| -> Option<&str> {
        r.query?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    };
    path_holds(route, r.path)
        && (route.methods.is_empty() || route.methods.iter().any(|m| m == r.method))
        && route.headers.iter().all(|m| value_holds(m, header(&m.name)))
        && route.query.iter().all(|m| value_holds(m, query(&m.name)))
}

fn reference(snapshot: &Snapshot, r: &Request) -> Option<String> {
    let vhost = |host: &str| snapshot.virtual_hosts.iter().find(|v| v.host == host);
    let first = |v: &Arc<VirtualHost>| v.routes.iter().filter(|route| compiles(route)).find(|route| holds(route, r)).map(|x| x.name.clone());
    let wildcard = r.host.split_once('.').and_then(|(_, suffix)| vhost(&format!("*.{suffix}")));
    if let Some(exact) = vhost(r.host).filter(|_| r.host != "*" && !r.host.starts_with("*.")) {
        return first(exact).or_else(|| wildcard.and_then(first));
    }
    wildcard.or_else(|| vhost("*")).and_then(first)
}

proptest! {
    #[test]
    fn router_agrees_with_a_naive_reference(snapshot in snapshot(), requests in prop::collection::vec(request(), 1..8)) {
        let metrics = ProxyMetrics::register(&mut Registry::default());
        let (runtime, _problems) = Runtime::compile(Arc::new(snapshot.clone()), &metrics, None);
        for r in &requests {
            let mut headers = HeaderMap::new();
            for (name, value) in &r.headers {
                headers.append(HeaderName::from_static(name), HeaderValue::from_static(value));
            }
            let method = Method::from_bytes(r.method.as_bytes()).unwrap();
            let facts = RequestFacts { host: r.host, path: r.path, query: r.query, method: &method, headers: &headers };
            let found = runtime.router.find(&facts).map(|route| route.name.to_string());
            prop_assert_eq!(found, reference(&snapshot, r), "request {:?}", r);
        }
    }
}

/// `s1`'s virtual hosts where `take_second` says so replaced by `s2`'s (hosts only one has kept or
/// dropped the same way), cluster `c` with one endpoint when `endpoint` is set.
fn mixed(s1: &Snapshot, s2: &Snapshot, take_second: &[bool], endpoint: bool) -> Snapshot {
    let mut hosts = std::collections::BTreeMap::new();
    for (i, host) in HOSTS.iter().enumerate() {
        let from = if take_second.get(i).copied().unwrap_or(false) { s2 } else { s1 };
        if let Some(v) = from.virtual_hosts.iter().find(|v| v.host == *host) {
            hosts.insert(v.host.clone(), v.clone());
        }
    }
    let mut snapshot = Snapshot { virtual_hosts: hosts.into_values().collect(), ..s1.clone() };
    if endpoint {
        if let Some(c) = snapshot.clusters.get_mut("c") {
            Arc::make_mut(c).endpoints = vec![oxigress_ir::Endpoint { ip: "127.0.0.1".into(), port: 9 }];
        }
    }
    snapshot
}

/// The name of the route `runtime` picks for `r`.
fn pick(runtime: &Runtime, r: &Request) -> Option<String> {
    let mut headers = HeaderMap::new();
    for (name, value) in &r.headers {
        headers.append(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    let method = Method::from_bytes(r.method.as_bytes()).unwrap();
    let facts = RequestFacts { host: r.host, path: r.path, query: r.query, method: &method, headers: &headers };
    runtime.router.find(&facts).map(|route| route.name.to_string())
}

proptest! {
    /// A runtime compiled after a previous one (reusing its unchanged clusters and routes) routes every
    /// request as a runtime compiled from scratch, reports the same problems, and none of its routes
    /// holds a cluster other than the runtime's own.
    #[test]
    fn a_runtime_reusing_the_previous_one_routes_as_a_fresh_one(
        s1 in snapshot(),
        s2 in snapshot(),
        take_second in prop::collection::vec(any::<bool>(), HOSTS.len()),
        endpoint in any::<bool>(),
        requests in prop::collection::vec(request(), 1..8),
    ) {
        let metrics = ProxyMetrics::register(&mut Registry::default());
        let (first, _) = Runtime::compile(Arc::new(s1.clone()), &metrics, None);
        let next = mixed(&s1, &s2, &take_second, endpoint);
        let (reused, reused_problems) = Runtime::compile(Arc::new(next.clone()), &metrics, Some(&first));
        let (fresh, fresh_problems) = Runtime::compile(Arc::new(next), &metrics, None);
        prop_assert_eq!(reused_problems, fresh_problems);
        for r in &requests {
            prop_assert_eq!(pick(&reused, r), pick(&fresh, r), "request {:?}", r);
        }
        for route in reused.router.hosts.iter().flat_map(|h| h.iter()) {
            prop_assert!(Arc::ptr_eq(&route.cluster, &reused.clusters[&route.cluster.id]));
        }
    }
}

/// An unchanged snapshot reuses every compiled route and cluster; new endpoints for a cluster compile it
/// and every route using it again.
#[test]
fn unchanged_routes_and_clusters_are_reused_changed_ones_compiled_again() {
    let snapshot = mixed(
        &Snapshot {
            virtual_hosts: vec![Arc::new(VirtualHost {
                host: "a.com".into(),
                routes: vec![Route {
                    id: "r".into(),
                    name: "r".into(),
                    source: SourceRef { kind: "Ingress".into(), namespace: "ns".into(), name: "i".into() },
                    path: PathMatch::Prefix("/".into()),
                    headers: Vec::new(),
                    query: Vec::new(),
                    methods: Vec::new(),
                    action: RouteAction::Forward(Forward { cluster: "c".into(), fallback: None, canary: None, error_fallback: None }),
                    plugins: Vec::new(),
                    policy: RoutePolicy::default(),
                }],
            })],
            clusters: [("c".to_string(), Arc::new(Cluster { id: "c".into(), endpoints: Vec::new(), upstream: Default::default() }))]
                .into(),
            ..Snapshot::default()
        },
        &Snapshot::default(),
        &[],
        false,
    );
    let metrics = ProxyMetrics::register(&mut Registry::default());
    let (first, _) = Runtime::compile(Arc::new(snapshot.clone()), &metrics, None);
    let (same, _) = Runtime::compile(Arc::new(snapshot.clone()), &metrics, Some(&first));
    assert!(Arc::ptr_eq(&first.router.hosts[0][0], &same.router.hosts[0][0]));
    // The host is the same `Arc` in both snapshots: its route list is taken whole.
    assert!(Arc::ptr_eq(&first.router.hosts[0], &same.router.hosts[0]));
    assert!(Arc::ptr_eq(&first.clusters["c"], &same.clusters["c"]));
    let changed = mixed(&snapshot, &Snapshot::default(), &[], true);
    let (after, _) = Runtime::compile(Arc::new(changed), &metrics, Some(&same));
    assert!(!Arc::ptr_eq(&same.router.hosts[0][0], &after.router.hosts[0][0]));
    assert!(!Arc::ptr_eq(&same.router.hosts[0], &after.router.hosts[0]));
    assert!(!Arc::ptr_eq(&same.clusters["c"], &after.clusters["c"]));
    assert!(Arc::ptr_eq(&after.router.hosts[0][0].cluster, &after.clusters["c"]));
}
