//! Plugins: the WasmPlugins an instance applies (in execution order) and, per route, which of their
//! configurations may apply.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::route::SourceRef;

/// Where in the chain a plugin runs (Higress/Istio `phase`); chains run AUTHN, AUTHZ, STATS, then
/// UNSPECIFIED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Phase {
    /// Authentication.
    Authn,
    /// Authorization.
    Authz,
    /// Statistics.
    Stats,
    /// Last, before the upstream.
    Unspecified,
}

/// One WasmPlugin object, resolved to a built-in plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInstance {
    /// `ns/name` of the WasmPlugin.
    pub id: String,
    /// The built-in plugin it runs (e.g. `request-block`).
    pub builtin: String,
    /// The WasmPlugin object.
    pub source: SourceRef,
    /// Phase.
    pub phase: Phase,
    /// Higher runs first within a phase; `None` runs last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// `failStrategy: FAIL_OPEN`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fail_open: bool,
    /// The global configuration; `None` when disabled (`defaultConfigDisable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_config: Option<Value>,
    /// Match rules, in list order (first match wins).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<PluginRule>,
    /// Why the plugin could not be configured, when there was no last good version to keep and its
    /// `failStrategy` is `FAIL_CLOSE`: it then applies to every route (its scope is unknown) and answers
    /// 503, as Envoy fails the streams of a Wasm plugin whose configuration failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// One `matchRules` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRule {
    /// Route names (`name` / `ns/name`, or `ns/*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<String>,
    /// Host patterns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domain: Vec<String>,
    /// Services (`fqdn` or `fqdn:port`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service: Vec<String>,
    /// Configuration for matching requests.
    pub config: Value,
    /// Why this rule's configuration was rejected (`FAIL_CLOSE`, no last good version): requests it
    /// matches are answered 503; the plugin's other rules and global configuration still apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// A plugin on a route: the rules that may apply (in order) and whether the global configuration
/// applies when none does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutePlugin {
    /// `ns/name` of the plugin.
    pub plugin: String,
    /// Candidate rules, in order; the last one may be unconditional.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RouteRule>,
    /// The global configuration applies when no candidate rule matches.
    pub default: bool,
}

/// A rule that may apply on a route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteRule {
    /// Index into the plugin's `rules`.
    pub rule: usize,
    /// Host patterns checked per request (a route of a wildcard or `*` host); empty = the rule applies to
    /// every request of the route (matched by Ingress, Service or the route's exact host).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
}
