//! Route matching: host index (exact, then one-label wildcard, then `*`), then the host's routes in order.

use std::collections::HashMap;
use std::sync::Arc;

use http::{HeaderMap, Method};
use oxigress_ir::{HeaderMatch, MatchKind, PathMatch, VirtualHost};
use oxigress_plugins::Chain;
use regex::Regex;

use crate::cluster::ClusterRuntime;
use crate::metrics::{AiMetrics, LazyAiMetrics, PluginCounters, RouteMetrics};

/// Why an IR route could not be compiled.
#[derive(Debug, thiserror::Error)]
#[error("route {route}: {reason}")]
pub struct CompileError {
    /// Route id.
    pub route: String,
    /// What is wrong.
    pub reason: String,
}

/// What the request path needs to know about one route.
pub struct CompiledRoute {
    /// Higress route name (`name` or `ns/name`).
    pub name: Arc<str>,
    path: PathMatcher,
    headers: Vec<ValueMatcher>,
    query: Vec<ValueMatcher>,
    methods: Vec<Method>,
    /// The route's cluster.
    pub cluster: Arc<ClusterRuntime>,
    /// Used when `cluster` has no endpoints.
    pub fallback: Option<Arc<ClusterRuntime>>,
    /// Plugins run before the upstream.
    pub chain: Chain,
    /// Per-route counters.
    pub metrics: RouteMetrics,
    /// Decision counters of the snapshot's plugins, by plugin index.
    pub plugin_counters: Arc<[PluginCounters]>,
    /// LLM request metrics (created on the route's first LLM request).
    pub ai: LazyAiMetrics,
}

enum PathMatcher {
    Exact(String),
    Prefix(String),
    Regex(Regex),
}

struct ValueMatcher {
    name: String,
    kind: ValueKind,
}

enum ValueKind {
    Exact(String),
    Prefix(String),
    Regex(Regex),
}

/// The request facts a route matches on.
pub struct RequestFacts<'a> {
    /// Host without port, lower case.
    pub host: &'a str,
    /// Path without query.
    pub path: &'a str,
    /// Raw query string.
    pub query: Option<&'a str>,
    /// Method.
    pub method: &'a Method,
    /// Headers.
    pub headers: &'a HeaderMap,
}

/// Host index plus each host's ordered routes.
#[derive(Default)]
pub struct Router {
    exact: HashMap<String, usize>,
    wildcard: HashMap<String, usize>,
    any: Option<usize>,
    hosts: Vec<Vec<Arc<CompiledRoute>>>,
}

impl Router {
    /// Adds a virtual host with its compiled routes.
    pub fn add_host(&mut self, vhost: &VirtualHost, routes: Vec<Arc<CompiledRoute>>) {
        let index = self.hosts.len();
        self.hosts.push(routes);
        if vhost.host == "*" {
            self.any = Some(index);
        } else if let Some(suffix) = vhost.host.strip_prefix("*.") {
            self.wildcard.insert(suffix.to_string(), index);
        } else {
            self.exact.insert(vhost.host.clone(), index);
        }
    }

    /// The first route of the request's virtual host that matches; `None` means 404.
    ///
    /// why: as in Envoy, a request is confined to the one virtual host its Host selects; a miss there is a
    /// 404 even if `*` has a matching route. A wildcard `*.foo.com` covers exactly one label (`a.foo.com`,
    /// not `a.b.foo.com`, nor `foo.com`), as the Ingress spec says.
    pub fn find(&self, facts: &RequestFacts<'_>) -> Option<&Arc<CompiledRoute>> {
        let index = self
            .exact
            .get(facts.host)
            .or_else(|| facts.host.split_once('.').and_then(|(_, suffix)| self.wildcard.get(suffix)))
            .copied()
            .or(self.any)?;
        self.hosts[index].iter().find(|route| route.matches(facts))
    }
}

impl CompiledRoute {
    /// Compiles the matchers of an IR route.
    pub fn new(
        route: &oxigress_ir::Route,
        cluster: Arc<ClusterRuntime>,
        fallback: Option<Arc<ClusterRuntime>>,
        chain: Chain,
        metrics: RouteMetrics,
        plugin_counters: Arc<[PluginCounters]>,
        ai: &AiMetrics,
    ) -> Result<Self, CompileError> {
        let fail = |reason: String| CompileError { route: route.id.clone(), reason };
        let path = match &route.path {
            PathMatch::Exact(p) => PathMatcher::Exact(p.clone()),
            PathMatch::Prefix(p) => PathMatcher::Prefix(p.clone()),
            PathMatch::Regex(r) => PathMatcher::Regex(anchored(r).map_err(fail)?),
        };
        let values = |list: &[HeaderMatch]| -> Result<Vec<ValueMatcher>, CompileError> {
            list.iter()
                .map(|m| {
                    let kind = match m.kind {
                        MatchKind::Exact => ValueKind::Exact(m.value.clone()),
                        MatchKind::Prefix => ValueKind::Prefix(m.value.clone()),
                        MatchKind::Regex => ValueKind::Regex(anchored(&m.value).map_err(fail)?),
                    };
                    Ok(ValueMatcher { name: m.name.clone(), kind })
                })
                .collect()
        };
        let methods = route
            .methods
            .iter()
            .map(|m| Method::from_bytes(m.as_bytes()).map_err(|e| fail(format!("method {m:?}: {e}"))))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            name: Arc::from(route.name.as_str()),
            path,
            headers: values(&route.headers)?,
            query: values(&route.query)?,
            methods,
            cluster,
            fallback,
            chain,
            metrics,
            plugin_counters,
            ai: LazyAiMetrics::new(Arc::from(route.name.as_str()), ai.clone()),
        })
    }

    fn matches(&self, facts: &RequestFacts<'_>) -> bool {
        let path_ok = match &self.path {
            PathMatcher::Exact(p) => facts.path == p,
            PathMatcher::Prefix(p) => {
                p == "/"
                    || facts.path.strip_prefix(p.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            }
            PathMatcher::Regex(r) => r.is_match(facts.path),
        };
        path_ok
            && (self.methods.is_empty() || self.methods.contains(facts.method))
            && self.headers.iter().all(|m| m.matches(header_value(facts, &m.name)))
            && self.query.iter().all(|m| m.matches(query_value(facts.query, &m.name)))
    }
}

impl ValueMatcher {
    fn matches(&self, value: Option<&str>) -> bool {
        let Some(value) = value else { return false };
        match &self.kind {
            ValueKind::Exact(v) => value == v,
            ValueKind::Prefix(v) => value.starts_with(v.as_str()),
            ValueKind::Regex(r) => r.is_match(value),
        }
    }
}

fn header_value<'a>(facts: &RequestFacts<'a>, name: &str) -> Option<&'a str> {
    match name {
        ":authority" => Some(facts.host),
        ":path" => Some(facts.path),
        ":method" => Some(facts.method.as_str()),
        _ => facts.headers.get(name).and_then(|v| v.to_str().ok()),
    }
}

fn query_value<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    })
}

/// A regex that must match the whole value (RE2 full match, as Envoy).
fn anchored(pattern: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| format!("regex {pattern:?}: {e}"))
}
