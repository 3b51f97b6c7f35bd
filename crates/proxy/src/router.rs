//! Route matching: host index (exact, then one-label wildcard, then `*`), then the host's routes in order.

use std::collections::HashMap;
use std::sync::Arc;

use http::{HeaderMap, Method};
use oxigress_ir::{HeaderMatch, MatchKind, PathMatch, VirtualHost};
use oxigress_plugins::Chain;
use regex::Regex;

use crate::cluster::ClusterRuntime;
use crate::metrics::{AiMetrics, LazyAiMetrics, PluginCounters, RouteMetrics};
use crate::mirror::CompiledMirror;
use crate::route_policy::CompiledPolicy;

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
    headers: Vec<ValueMatcher<HeaderKey>>,
    query: Vec<ValueMatcher<String>>,
    methods: Vec<Method>,
    /// The route's cluster.
    pub cluster: Arc<ClusterRuntime>,
    /// Used when `cluster` has no endpoints.
    pub fallback: Option<Arc<ClusterRuntime>>,
    /// A weighted canary.
    pub canary: Option<CanarySplit>,
    /// Where request copies go (`mirror-target-service`, `mirror-target-fqdn`).
    pub mirror: Option<CompiledMirror>,
    /// Where answers with some statuses send the request (`custom-http-errors`).
    pub error_fallback: Option<ErrorFallbackRuntime>,
    /// Plugins run before the upstream.
    pub chain: Chain,
    /// Per-route counters.
    pub metrics: RouteMetrics,
    /// Decision counters of the snapshot's plugins, by plugin index.
    pub plugin_counters: Arc<[PluginCounters]>,
    /// Redirect, header edits, host rewrite, allow-list, timeout.
    pub policy: CompiledPolicy,
    /// LLM request metrics (created on the route's first LLM request).
    pub ai: LazyAiMetrics,
}

enum PathMatcher {
    Exact(String),
    Prefix(String),
    Regex(Regex),
}

struct ValueMatcher<K> {
    /// What is matched: a header ([`HeaderKey`]) or a query parameter's name.
    key: K,
    kind: ValueKind,
}

/// The request value a header matcher reads, resolved when the route is compiled (a `&str` header lookup
/// would parse the name on every request).
enum HeaderKey {
    Authority,
    Path,
    Method,
    Header(http::HeaderName),
    /// Not a valid header name: no request has it.
    Invalid,
}

impl HeaderKey {
    fn new(name: &str) -> Self {
        match name {
            ":authority" => Self::Authority,
            ":path" => Self::Path,
            ":method" => Self::Method,
            _ => http::HeaderName::from_bytes(name.as_bytes()).map_or(Self::Invalid, Self::Header),
        }
    }
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

/// Host maps: hashed with foldhash (seeded per process), several times cheaper than std's SipHash for the
/// lookups every request makes.
type HostMap = HashMap<String, usize, foldhash::fast::RandomState>;

/// Host index plus each host's ordered routes.
#[derive(Default)]
pub struct Router {
    exact: HostMap,
    wildcard: HostMap,
    any: Option<usize>,
    /// Per virtual host (in snapshot order), its routes; shared with the next router when unchanged.
    hosts: Vec<Arc<[Arc<CompiledRoute>]>>,
}

impl Router {
    /// An empty router with room for `hosts` virtual hosts (no rehashing while a large snapshot is added).
    pub fn with_capacity(hosts: usize) -> Self {
        Self {
            exact: HostMap::with_capacity_and_hasher(hosts, Default::default()),
            hosts: Vec::with_capacity(hosts),
            ..Self::default()
        }
    }

    /// Adds a virtual host with its compiled routes.
    pub fn add_host(&mut self, vhost: &VirtualHost, routes: Arc<[Arc<CompiledRoute>]>) {
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

    /// The routes of the `index`th virtual host added.
    pub fn host_routes(&self, index: usize) -> Option<&Arc<[Arc<CompiledRoute>]>> {
        self.hosts.get(index)
    }

    /// The first route of the request's virtual host that matches; `None` means 404.
    ///
    /// why: as in Envoy, a request is confined to the virtual host its Host selects (a miss is a 404 even
    /// if `*` has a matching route), except that an exact host falls back to its wildcard host (Higress).
    /// A wildcard `*.foo.com` covers exactly one label (`a.foo.com`, not `a.b.foo.com`, nor `foo.com`), as
    /// the Ingress spec says.
    pub fn find(&self, facts: &RequestFacts<'_>) -> Option<&Arc<CompiledRoute>> {
        let wildcard = || {
            if self.wildcard.is_empty() {
                return None;
            }
            facts.host.split_once('.').and_then(|(_, suffix)| self.wildcard.get(suffix)).copied()
        };
        if let Some(&exact) = self.exact.get(facts.host) {
            // why: Higress' exact-domain fallback: a request for an exact host that none of its routes
            // match is tried against the routes of the wildcard host covering it.
            return self.hosts[exact]
                .iter()
                .find(|route| route.matches(facts))
                .or_else(|| wildcard().and_then(|w| self.hosts[w].iter().find(|route| route.matches(facts))));
        }
        let index = wildcard().or(self.any)?;
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
            PathMatch::Regex(r) if route.policy.ignore_path_case => {
                PathMatcher::Regex(anchored(&format!("(?i:{r})")).map_err(fail)?)
            }
            PathMatch::Regex(r) => PathMatcher::Regex(anchored(r).map_err(fail)?),
        };
        fn values<K>(list: &[HeaderMatch], key: impl Fn(&str) -> K) -> Result<Vec<ValueMatcher<K>>, String> {
            list.iter()
                .map(|m| {
                    let kind = match m.kind {
                        MatchKind::Exact => ValueKind::Exact(m.value.clone()),
                        MatchKind::Prefix => ValueKind::Prefix(m.value.clone()),
                        MatchKind::Regex => ValueKind::Regex(anchored(&m.value)?),
                    };
                    Ok(ValueMatcher { key: key(&m.name), kind })
                })
                .collect()
        }
        let methods = route
            .methods
            .iter()
            .map(|m| Method::from_bytes(m.as_bytes()).map_err(|e| fail(format!("method {m:?}: {e}"))))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            name: Arc::from(route.name.as_str()),
            path,
            headers: values(&route.headers, HeaderKey::new).map_err(fail)?,
            query: values(&route.query, str::to_string).map_err(fail)?,
            methods,
            cluster,
            fallback,
            canary: None,
            mirror: None,
            error_fallback: None,
            chain,
            metrics,
            plugin_counters,
            policy: CompiledPolicy::new(&route.policy).map_err(fail)?,
            ai: LazyAiMetrics::new(Arc::from(route.name.as_str()), ai.clone()),
        })
    }

    /// The route with its weighted canary, mirror and error fallback.
    pub fn with_extra_clusters(
        self,
        canary: Option<CanarySplit>,
        mirror: Option<CompiledMirror>,
        error_fallback: Option<ErrorFallbackRuntime>,
    ) -> Self {
        Self { canary, mirror, error_fallback, ..self }
    }

    /// `ignore-path-case` (Envoy `ignore_case`): literal paths compare ASCII case-insensitively.
    fn path_matches_ignoring_case(&self, path: &str) -> bool {
        match &self.path {
            PathMatcher::Exact(p) => path.eq_ignore_ascii_case(p),
            PathMatcher::Prefix(p) => {
                p == "/"
                    || (path.len() >= p.len()
                        && path.is_char_boundary(p.len())
                        && path[..p.len()].eq_ignore_ascii_case(p)
                        && (path.len() == p.len() || path[p.len()..].starts_with('/')))
            }
            PathMatcher::Regex(r) => r.is_match(path),
        }
    }

    fn matches(&self, facts: &RequestFacts<'_>) -> bool {
        let path_ok = if self.policy.ignore_path_case {
            self.path_matches_ignoring_case(facts.path)
        } else {
            match &self.path {
                PathMatcher::Exact(p) => facts.path == p,
                PathMatcher::Prefix(p) => {
                    p == "/"
                        || facts.path.strip_prefix(p.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
                }
                PathMatcher::Regex(r) => r.is_match(facts.path),
            }
        };
        path_ok
            && (self.methods.is_empty() || self.methods.contains(facts.method))
            && self.headers.iter().all(|m| m.matches(header_value(facts, &m.key)))
            && self.query.iter().all(|m| m.matches(query_value(facts.query, &m.key)))
    }
}

impl<K> ValueMatcher<K> {
    fn matches(&self, value: Option<&str>) -> bool {
        let Some(value) = value else { return false };
        match &self.kind {
            ValueKind::Exact(v) => value == v,
            ValueKind::Prefix(v) => value.starts_with(v.as_str()),
            ValueKind::Regex(r) => r.is_match(value),
        }
    }
}

fn header_value<'a>(facts: &RequestFacts<'a>, key: &HeaderKey) -> Option<&'a str> {
    match key {
        HeaderKey::Authority => Some(facts.host),
        HeaderKey::Path => Some(facts.path),
        HeaderKey::Method => Some(facts.method.as_str()),
        HeaderKey::Header(name) => facts.headers.get(name).and_then(|v| v.to_str().ok()),
        HeaderKey::Invalid => None,
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

/// `custom-http-errors` with `default-backend` (Higress's internal active redirect): an upstream answer
/// with one of `statuses` sends the request once more, to `cluster`, with path `/` and the two headers
/// Higress's redirect adds.
pub struct ErrorFallbackRuntime {
    /// The `default-backend` Service's cluster.
    pub cluster: Arc<ClusterRuntime>,
    statuses: Vec<u16>,
    /// `x-envoy-route-name: <route name>-fallback`.
    pub route_header: http::HeaderValue,
    /// `x-envoy-fallback-service: <ns>/<name>`.
    pub service_header: http::HeaderValue,
}

impl ErrorFallbackRuntime {
    /// Compiles the IR's error fallback of route `route_name`; `None` when a header value is not valid.
    pub fn new(cluster: Arc<ClusterRuntime>, fallback: &oxigress_ir::ErrorFallback, route_name: &str) -> Option<Self> {
        Some(Self {
            cluster,
            statuses: fallback.statuses.clone(),
            route_header: http::HeaderValue::from_str(&format!("{route_name}-fallback")).ok()?,
            service_header: http::HeaderValue::from_str(&fallback.service).ok()?,
        })
    }

    /// Whether an answer with `status` goes to the fallback.
    pub fn catches(&self, status: u16) -> bool {
        self.statuses.contains(&status)
    }
}

/// A weighted canary: `weight` of every `total` requests go to `cluster` (a shared counter spreads them
/// evenly, as Envoy's weighted clusters do on average; no random numbers on the request path).
pub struct CanarySplit {
    /// The canary's cluster.
    pub cluster: Arc<ClusterRuntime>,
    weight: u32,
    total: u32,
    counter: std::sync::atomic::AtomicU32,
}

impl CanarySplit {
    /// A split of `weight` per `total` (total > 0).
    pub fn new(cluster: Arc<ClusterRuntime>, weight: u32, total: u32) -> Self {
        Self { cluster, weight, total: total.max(1), counter: std::sync::atomic::AtomicU32::new(0) }
    }

    /// Whether this request goes to the canary.
    pub fn take(&self) -> bool {
        if self.weight == 0 {
            return false;
        }
        if self.weight >= self.total {
            return true;
        }
        let n = self.counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.total;
        // Spread the canary's share over the cycle: request n is a canary when the running share crosses
        // an integer.
        (u64::from(n) + 1) * u64::from(self.weight) / u64::from(self.total)
            != u64::from(n) * u64::from(self.weight) / u64::from(self.total)
    }
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod canary_tests {
    use super::*;

    #[test]
    fn canary_split_takes_exactly_its_share_per_cycle() {
        let cluster = Arc::new(ClusterRuntime::compile(&oxigress_ir::Cluster { id: "c".into(), endpoints: Vec::new(), upstream: Default::default() }, None, Default::default()));
        for (weight, total) in [(0, 100), (30, 100), (1, 3), (100, 100), (7, 10)] {
            let split = CanarySplit::new(cluster.clone(), weight, total);
            let taken = (0..total * 4).filter(|_| split.take()).count();
            assert_eq!(taken as u32, weight * 4, "{weight}/{total}");
        }
    }
}
