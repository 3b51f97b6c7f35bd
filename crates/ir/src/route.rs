//! Virtual hosts and routes: how a request's host and path pick what happens to it.

use serde::{Deserialize, Serialize};

use crate::cluster::ClusterId;
use crate::plugin::RoutePlugin;
use crate::route_policy::RoutePolicy;

/// The Kubernetes object a route (or other IR node) was made from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SourceRef {
    /// Kind, e.g. `Ingress`.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// All routes of one host, in match order (the first route that matches wins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualHost {
    /// `foo.com` (exact), `*.foo.com` (one label wildcard) or `*` (any host).
    pub host: String,
    /// Routes, already sorted by precedence.
    pub routes: Vec<Route>,
}

/// One route: a match and what to do with matching requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Unique, stable id: `ns/name/rule/<i>/path/<j>` (or `ns/name/default`).
    pub id: String,
    /// Higress route name, shared by all paths of one Ingress: `name` in the instance namespace, else
    /// `ns/name` (WasmPlugin `matchRules.ingress` and metrics use it).
    pub name: String,
    /// The object this route came from.
    pub source: SourceRef,
    /// Path match.
    pub path: PathMatch,
    /// Header matches; all must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderMatch>,
    /// Query parameter matches; all must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<HeaderMatch>,
    /// Allowed methods; empty = any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// What happens to matching requests.
    pub action: RouteAction,
    /// Plugins that run on this route, in execution order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<RoutePlugin>,
    /// Redirects, header edits, host rewrite, source allow-list, timeout (annotations).
    #[serde(default, skip_serializing_if = "RoutePolicy::is_empty")]
    pub policy: RoutePolicy,
}

impl Route {
    /// Every cluster the route may send to: its action's, and the cluster its mirror copies go to.
    pub fn clusters(&self) -> impl Iterator<Item = &ClusterId> {
        let RouteAction::Forward(forward) = &self.action;
        forward.clusters().chain(self.policy.mirror.as_ref().and_then(|m| m.cluster()))
    }
}

/// How a request path is matched (never the query string).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value")]
pub enum PathMatch {
    /// The path equals this string.
    Exact(String),
    /// Segment-aware prefix (trailing `/` trimmed): `/a` matches `/a` and `/a/...`, not `/ab`; `/` matches all.
    Prefix(String),
    /// RE2-style regex that must match the whole path.
    Regex(String),
}

/// How a header or query value is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchKind {
    /// Equal.
    Exact,
    /// Starts with.
    Prefix,
    /// Whole-value regex.
    Regex,
}

/// A header (lower-case name) or query parameter match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderMatch {
    /// Header name (lower case) or query parameter name.
    pub name: String,
    /// Comparison.
    pub kind: MatchKind,
    /// Value compared with.
    pub value: String,
}

/// What a route does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteAction {
    /// Proxy to a cluster.
    Forward(Forward),
}

/// Proxy to a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forward {
    /// The cluster.
    pub cluster: ClusterId,
    /// Used instead when `cluster` has no endpoints (`default-backend` annotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<ClusterId>,
    /// A weighted canary (`canary-weight`): `weight` of every `total` requests go to its cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<WeightedCanary>,
    /// Answers with these statuses send the request again to another cluster (`custom-http-errors` with
    /// `default-backend`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_fallback: Option<ErrorFallback>,
}

/// Higress's internal active redirect (`custom-http-errors` + `default-backend`): when the upstream answers
/// one of `statuses`, the request goes once more, to `cluster`, with path `/` (query dropped), the same
/// method, host, headers and body, plus `x-envoy-route-name: <route name>-fallback` and
/// `x-envoy-fallback-service: <service>`; the client gets that second answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFallback {
    /// The `default-backend` Service's cluster.
    pub cluster: ClusterId,
    /// The upstream statuses that trigger the fallback (sorted, no duplicates).
    pub statuses: Vec<u16>,
    /// `ns/name` of the `default-backend` Service (the `x-envoy-fallback-service` header).
    pub service: String,
}

/// The canary share of a route's traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightedCanary {
    /// The canary's cluster.
    pub cluster: ClusterId,
    /// Requests per `total` sent to the canary.
    pub weight: u32,
    /// The weight total (`canary-weight-total`, default 100).
    pub total: u32,
}

impl Forward {
    /// Every cluster the action may use.
    pub fn clusters(&self) -> impl Iterator<Item = &ClusterId> {
        std::iter::once(&self.cluster)
            .chain(self.fallback.as_ref())
            .chain(self.canary.as_ref().map(|c| &c.cluster))
            .chain(self.error_fallback.as_ref().map(|e| &e.cluster))
    }
}
