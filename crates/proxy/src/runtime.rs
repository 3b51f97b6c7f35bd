//! [`Runtime`]: everything the request path needs, compiled from one IR snapshot. Immutable once built;
//! a new snapshot builds a whole new runtime.

use std::collections::HashMap;
use std::sync::Arc;

use oxigress_ir::{MirrorTarget, RouteAction, RoutePlugin, Snapshot};
use oxigress_plugins::fail_strategy::{self, Guarded};
use oxigress_plugins::{Chain, ChainEntry, HostPattern, Plugin};

use crate::cluster::ClusterRuntime;
use crate::metrics::{PluginCounters, ProxyMetrics};
use crate::mirror::{CompiledMirror, MirrorDestination};
use crate::router::{CanarySplit, CompiledRoute, ErrorFallbackRuntime, Router};
use crate::settings::SettingsRuntime;
use crate::tls::TlsRuntime;
use crate::upstream::UpstreamConnect;

/// The compiled form of one snapshot.
pub struct Runtime {
    /// The snapshot this runtime was built from (`/debug/config`).
    pub snapshot: Arc<Snapshot>,
    /// Host and route matching.
    pub router: Router,
    /// Certificates by SNI.
    pub tls: TlsRuntime,
    /// The gateway ConfigMap's settings.
    pub settings: Arc<SettingsRuntime>,
    /// Clusters by id (the next snapshot takes their endpoints' passive health over).
    pub clusters: HashMap<String, Arc<ClusterRuntime>>,
}

impl Runtime {
    /// An empty runtime (every request 404s) for before the first snapshot.
    pub fn empty() -> Self {
        Self {
            snapshot: Arc::new(Snapshot::default()),
            router: Router::default(),
            tls: TlsRuntime::default(),
            settings: Arc::default(),
            clusters: HashMap::new(),
        }
    }

    /// Compiles `snapshot`. Parts that cannot be compiled (a bad regex, an unreadable certificate) are
    /// left out and reported; the rest serves. Endpoints `previous` had keep their passive health.
    pub fn compile(snapshot: Arc<Snapshot>, metrics: &ProxyMetrics, previous: Option<&Runtime>) -> (Self, Vec<String>) {
        let metrics_all = metrics;
        let mut problems = Vec::new();
        let compiled: HashMap<String, Arc<ClusterRuntime>> = snapshot
            .clusters
            .iter()
            .map(|(id, c)| {
                let connect = UpstreamConnect::compile(&c.upstream, &snapshot.certificates, &mut problems, id);
                let old = previous.and_then(|p| p.clusters.get(id)).map(|c| &**c);
                (id.clone(), Arc::new(ClusterRuntime::compile(c, old, connect)))
            })
            .collect();
        let clusters: HashMap<&str, Arc<ClusterRuntime>> = compiled.iter().map(|(id, c)| (id.as_str(), c.clone())).collect();
        let plugins = compile_plugins(&snapshot, &mut problems);
        let plugin_counters: Arc<[PluginCounters]> = snapshot.plugins.iter().map(|p| metrics.plugin(&p.id)).collect();
        let mut route_metrics = HashMap::new();
        let mut router = Router::default();
        for vhost in &snapshot.virtual_hosts {
            let mut routes = Vec::with_capacity(vhost.routes.len());
            for route in &vhost.routes {
                let RouteAction::Forward(forward) = &route.action;
                let Some(cluster) = clusters.get(forward.cluster.as_str()).cloned() else {
                    problems.push(format!("route {}: unknown cluster {}", route.id, forward.cluster));
                    continue;
                };
                let fallback = forward.fallback.as_deref().and_then(|f| clusters.get(f).cloned());
                let metrics =
                    route_metrics.entry(route.name.clone()).or_insert_with(|| metrics.route(&route.name)).clone();
                let chain = chain(&route.plugins, &plugins);
                let mirror = route.policy.mirror.as_ref().and_then(|m| {
                    let destination = match &m.target {
                        MirrorTarget::Cluster(id) => MirrorDestination::Cluster(clusters.get(id.as_str())?.clone()),
                        MirrorTarget::Fqdn { host, port } => MirrorDestination::Fqdn { host: Arc::from(host.as_str()), port: *port },
                    };
                    Some(CompiledMirror::new(destination, m.percent))
                });
                let error_fallback = forward.error_fallback.as_ref().and_then(|f| {
                    let compiled = ErrorFallbackRuntime::new(clusters.get(f.cluster.as_str())?.clone(), f, &route.name);
                    if compiled.is_none() {
                        problems.push(format!("route {}: error fallback header values are not valid", route.id));
                    }
                    compiled
                });
                let canary = forward.canary.as_ref().and_then(|c| {
                    clusters.get(c.cluster.as_str()).cloned().map(|cluster| CanarySplit::new(cluster, c.weight, c.total))
                });
                match CompiledRoute::new(route, cluster, fallback, chain, metrics, plugin_counters.clone(), &metrics_all.ai)
                    .map(|r| r.with_extra_clusters(canary, mirror, error_fallback))
                {
                    Ok(compiled) => routes.push(Arc::new(compiled)),
                    Err(e) => problems.push(e.to_string()),
                }
            }
            router.add_host(vhost, routes);
        }
        let tls = TlsRuntime::compile(&snapshot, &mut problems);
        let settings = Arc::new(SettingsRuntime::compile(&snapshot.settings));
        drop(clusters);
        (Self { snapshot, router, tls, settings, clusters: compiled }, problems)
    }
}

/// Every configuration of every plugin, built once: by plugin id, its index, the rule instances and the
/// default.
type CompiledPlugins = HashMap<String, (usize, Vec<Arc<dyn Plugin>>, Option<Arc<dyn Plugin>>)>;

fn compile_plugins(snapshot: &Snapshot, problems: &mut Vec<String>) -> CompiledPlugins {
    let mut out = HashMap::new();
    for (index, plugin) in snapshot.plugins.iter().enumerate() {
        // A configuration that failed (in translate, or here) runs as its `failStrategy` says.
        let failed = || fail_strategy::failed(&plugin.builtin, plugin.fail_open);
        let mut build = |what: &str, config: &serde_json::Value| match oxigress_plugins::registry::build(&plugin.builtin, config) {
            Ok(built) => Guarded::wrap(built, &plugin.id, plugin.fail_open),
            Err(e) => {
                problems.push(format!("plugin {} {what}: {e}", plugin.id));
                failed()
            }
        };
        if plugin.failed.is_some() {
            out.insert(plugin.id.clone(), (index, Vec::new(), Some(failed())));
            continue;
        }
        let rules = plugin
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| if r.failed.is_some() { failed() } else { build(&format!("rule {i}"), &r.config) })
            .collect();
        let default = plugin.default_config.as_ref().map(|c| build("default config", c));
        out.insert(plugin.id.clone(), (index, rules, default));
    }
    out
}

fn chain(route_plugins: &[RoutePlugin], plugins: &CompiledPlugins) -> Chain {
    let entries = route_plugins
        .iter()
        .filter_map(|used| {
            let (index, rules, default) = plugins.get(&used.plugin)?;
            let rules = used
                .rules
                .iter()
                .filter_map(|r| {
                    let plugin = rules.get(r.rule)?.clone();
                    Some((r.hosts.iter().map(|h| HostPattern::parse(h)).collect(), plugin))
                })
                .collect();
            let default = if used.default { default.clone() } else { None };
            Some(ChainEntry { index: *index, rules, default })
        })
        .collect();
    Chain::new(entries)
}
