//! # oxigress-ir: step (5) of the data flow, the contract between control plane and data plane.
//!
//! `translate` produces a [`Snapshot`]; the proxy compiles it into its runtime and swaps it in atomically.
//! Everything here is plain, serializable, deterministic data (sorted `Vec`s and `BTreeMap`s), so a JSON dump
//! is byte-stable and golden files can compare it. Nothing here depends on Kubernetes or on the proxy.

mod cluster;
mod gateway;
mod plugin;
mod route;
mod route_policy;
mod tls;

pub use cluster::{Cluster, ClusterId, CookieAffinity, Endpoint, HashKey, LoadBalance, UpstreamPolicy, UpstreamProtocol, UpstreamTls};
pub use gateway::{GatewaySettings, Gzip, Downstream, Http2, Upstream, MAX_BUFFERED_REQUEST_BODY, MAX_BUFFERED_UPSTREAM_DATA};
pub use plugin::{Phase, PluginInstance, PluginRule, RoutePlugin, RouteRule};
pub use route_policy::{BasicAuth, Cors, HeaderEdits, Mirror, MirrorTarget, PathRewrite, RateLimit, Redirect, Retry, RoutePolicy};
pub use route::{ErrorFallback, WeightedCanary, Forward, HeaderMatch, MatchKind, PathMatch, Route, RouteAction, SourceRef, VirtualHost};
pub use tls::{Certificate, CertificateId, TlsHost};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Everything one gateway instance serves, as of one translation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The instance this snapshot belongs to (`--instance-name`).
    pub instance: String,
    /// Virtual hosts, sorted by host; the proxy picks one per request (exact, then wildcard, then `*`).
    ///
    /// why `Arc`: a translation that changes one host shares every other host with the previous snapshot,
    /// so comparing snapshots and recompiling the proxy's routes costs about the changed hosts (`Arc`
    /// equality of `Eq` values checks the pointer first).
    pub virtual_hosts: Vec<Arc<VirtualHost>>,
    /// Upstream clusters by id, with their resolved endpoints (shared between snapshots, as hosts).
    pub clusters: BTreeMap<ClusterId, Arc<Cluster>>,
    /// Server certificates by id.
    pub certificates: BTreeMap<CertificateId, Certificate>,
    /// Which certificate (and TLS policy) serves which SNI host, sorted by host.
    pub tls_hosts: Vec<TlsHost>,
    /// The instance's plugins, in execution order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<PluginInstance>,
    /// Instance-wide settings from the gateway ConfigMap (Higress's defaults without one).
    #[serde(default, skip_serializing_if = "GatewaySettings::is_default")]
    pub settings: GatewaySettings,
}

impl Snapshot {
    /// Cross-reference problems: routes pointing at unknown clusters, TLS hosts at unknown certificates,
    /// duplicate hosts. Run by tests and debug builds; translate must never produce any.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut hosts = std::collections::BTreeSet::new();
        for vhost in &self.virtual_hosts {
            if !hosts.insert(&vhost.host) {
                problems.push(format!("duplicate virtual host {}", vhost.host));
            }
            for route in &vhost.routes {
                let RouteAction::Forward(forward) = &route.action;
                for cluster in forward.clusters() {
                    if !self.clusters.contains_key(cluster) {
                        problems.push(format!("route {} points at unknown cluster {}", route.id, cluster));
                    }
                }
            }
        }
        let plugin_ids: std::collections::BTreeSet<&str> = self.plugins.iter().map(|p| p.id.as_str()).collect();
        for route in self.virtual_hosts.iter().flat_map(|v| &v.routes) {
            for used in &route.plugins {
                let known = self.plugins.iter().find(|p| p.id == used.plugin);
                match known {
                    None => problems.push(format!("route {} uses unknown plugin {}", route.id, used.plugin)),
                    Some(p) if used.rules.iter().any(|r| r.rule >= p.rules.len()) => {
                        problems.push(format!("route {} uses a missing rule of plugin {}", route.id, used.plugin))
                    }
                    Some(_) => {}
                }
            }
        }
        if plugin_ids.len() != self.plugins.len() {
            problems.push("duplicate plugin ids".to_string());
        }
        for cluster in self.clusters.values() {
            if let Some(cert) = cluster.upstream.tls.as_ref().and_then(|t| t.client_certificate.as_ref()) {
                if !self.certificates.contains_key(cert) {
                    problems.push(format!("cluster {} points at unknown certificate {}", cluster.id, cert));
                }
            }
        }
        for tls in &self.tls_hosts {
            if !self.certificates.contains_key(&tls.certificate) {
                problems.push(format!("TLS host {} points at unknown certificate {}", tls.host, tls.certificate));
            }
        }
        problems
    }

    /// The snapshot as pretty JSON (what golden files hold).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The snapshot as pretty JSON with every plugin configuration passed through `redact(builtin,
    /// config)` first and basic-auth secrets replaced (what `/debug/config` serves: credentials such as
    /// API tokens and passwords replaced).
    pub fn to_redacted_json(&self, redact: impl Fn(&str, &serde_json::Value) -> serde_json::Value) -> String {
        let mut shown = self.clone();
        for route in shown.virtual_hosts.iter_mut().flat_map(|v| &mut Arc::make_mut(v).routes) {
            if let Some(auth) = &mut route.policy.basic_auth {
                for credential in &mut auth.credentials {
                    let user = credential.split_once(':').map_or("", |(user, _)| user);
                    *credential = format!("{user}:<redacted>");
                }
            }
        }
        for plugin in &mut shown.plugins {
            if let Some(config) = &plugin.default_config {
                plugin.default_config = Some(redact(&plugin.builtin, config));
            }
            for rule in &mut plugin.rules {
                rule.config = redact(&plugin.builtin, &rule.config);
            }
        }
        shown.to_json()
    }
}
