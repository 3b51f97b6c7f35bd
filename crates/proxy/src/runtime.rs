//! [`Runtime`]: everything the request path needs, compiled from one IR snapshot. Immutable once built;
//! a new snapshot builds a new runtime, reusing from the previous one every compiled cluster and route
//! whose IR is unchanged, and the whole route list of an unchanged host (the host index is always rebuilt).

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

/// Maps built per snapshot, keyed by ids: foldhash (seeded per process) is several times cheaper than
/// std's SipHash for short string keys, and a snapshot of 10,000 clusters builds one entry per cluster.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
/// See [`FastMap`].
type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// One virtual host's routes as compiled, `None` where a route did not compile cleanly.
type HostCompiled = Arc<[Option<Arc<CompiledRoute>>]>;

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
    pub clusters: FastMap<String, Arc<ClusterRuntime>>,
    /// Per virtual host of `snapshot`, per route: its compiled form, `None` when it could not be
    /// compiled cleanly (the next runtime compiles it again, so its problem is reported again; a host
    /// whose routes all compiled cleanly may be taken whole).
    compiled: Vec<HostCompiled>,
    /// The plugins, built once per plugin configuration, and their decision counters.
    plugins: Arc<CompiledPlugins>,
    plugin_counters: Arc<[PluginCounters]>,
    /// What building the plugins reported (reported again when they are reused).
    plugin_problems: Vec<String>,
}

impl Runtime {
    /// An empty runtime (every request 404s) for before the first snapshot.
    pub fn empty() -> Self {
        Self {
            snapshot: Arc::new(Snapshot::default()),
            router: Router::default(),
            tls: TlsRuntime::default(),
            settings: Arc::default(),
            clusters: FastMap::default(),
            compiled: Vec::new(),
            plugins: Arc::default(),
            plugin_counters: Arc::new([]),
            plugin_problems: Vec::new(),
        }
    }

    /// Compiles `snapshot`. Parts that cannot be compiled (a bad regex, an unreadable certificate) are
    /// left out and reported; the rest serves. Endpoints `previous` had keep their passive health.
    ///
    /// Reused from `previous`, as the very same objects: a cluster whose IR is unchanged (and that has no
    /// upstream TLS, whose certificates are read again), the plugins when the snapshot's plugins are
    /// unchanged, and then a route whose IR is unchanged at the same place of the same host and whose
    /// clusters were all reused. A reused object behaves exactly as a new one compiled from the same IR.
    pub fn compile(snapshot: Arc<Snapshot>, metrics: &ProxyMetrics, previous: Option<&Runtime>) -> (Self, Vec<String>) {
        let metrics_all = metrics;
        let mut problems = Vec::new();
        // Clusters compiled anew (routes using one of them are compiled anew too).
        let mut recompiled: FastSet<&str> = FastSet::default();
        // The previous snapshot's clusters, walked alongside (both are sorted by id).
        let mut old_irs = previous.into_iter().flat_map(|p| p.snapshot.clusters.iter()).peekable();
        let compiled: FastMap<String, Arc<ClusterRuntime>> = snapshot
            .clusters
            .iter()
            .map(|(id, c)| {
                let old = previous.and_then(|p| p.clusters.get(id));
                while old_irs.next_if(|(o, _)| *o < id).is_some() {}
                let old_ir = old_irs.next_if(|(o, _)| *o == id).map(|(_, ir)| ir);
                // `Arc` equality: the pointer first (translation shares unchanged clusters), then the value.
                let unchanged = || old_ir.is_some_and(|o| o == c);
                if let Some(old) = old.filter(|_| c.upstream.tls.is_none() && unchanged()) {
                    return (id.clone(), old.clone());
                }
                recompiled.insert(id.as_str());
                let connect = UpstreamConnect::compile(&c.upstream, &snapshot.certificates, &mut problems, id);
                (id.clone(), Arc::new(ClusterRuntime::compile(c, old.map(|c| &**c), connect)))
            })
            .collect();
        let clusters = &compiled;
        // Routes are reused only with the plugin instances they were built with.
        let reusable = previous.filter(|p| p.snapshot.plugins == snapshot.plugins);
        let (plugins, plugin_counters, plugin_problems) = match reusable {
            Some(p) => (p.plugins.clone(), p.plugin_counters.clone(), p.plugin_problems.clone()),
            None => {
                let mut plugin_problems = Vec::new();
                let plugins = Arc::new(compile_plugins(&snapshot, &mut plugin_problems));
                let counters: Arc<[PluginCounters]> = snapshot.plugins.iter().map(|p| metrics.plugin(&p.id)).collect();
                (plugins, counters, plugin_problems)
            }
        };
        problems.extend_from_slice(&plugin_problems);
        let mut route_metrics = HashMap::new();
        let mut router = Router::with_capacity(snapshot.virtual_hosts.len());
        let mut compiled_routes = Vec::with_capacity(snapshot.virtual_hosts.len());
        // The previous snapshot's hosts, walked alongside (both are sorted by host).
        let mut old_hosts = reusable.map(|p| &p.snapshot.virtual_hosts[..]).unwrap_or_default().iter().enumerate().peekable();
        for vhost in &snapshot.virtual_hosts {
            while old_hosts.next_if(|(_, old)| old.host < vhost.host).is_some() {}
            let old_index = old_hosts.next_if(|(_, old)| old.host == vhost.host);
            let old_host = old_index.and_then(|(index, old)| {
                let p = reusable?;
                Some((old, p.compiled.get(index)?, p.router.host_routes(index)?))
            });
            let uses_recompiled = || {
                !recompiled.is_empty()
                    && vhost.routes.iter().flat_map(|route| route.clusters()).any(|c| recompiled.contains(c.as_str()))
            };
            // The whole host unchanged (translation shares unchanged hosts: usually the same pointer).
            if let Some((_, old_compiled, old_routes)) = old_host.filter(|(old, _, _)| *old == vhost) {
                if old_compiled.iter().all(Option::is_some) && !uses_recompiled() {
                    router.add_host(vhost, old_routes.clone());
                    compiled_routes.push(old_compiled.clone());
                    continue;
                }
            }
            let mut routes = Vec::with_capacity(vhost.routes.len());
            let mut host_compiled = Vec::with_capacity(vhost.routes.len());
            for (index, route) in vhost.routes.iter().enumerate() {
                let RouteAction::Forward(forward) = &route.action;
                let kept = old_host.and_then(|(old, old_compiled, _)| {
                    let same = old.routes.get(index) == Some(route)
                        && route.clusters().all(|c| clusters.contains_key(c.as_str()) && !recompiled.contains(c.as_str()));
                    if same { old_compiled.get(index).cloned().flatten() } else { None }
                });
                if let Some(kept) = kept {
                    routes.push(kept.clone());
                    host_compiled.push(Some(kept));
                    continue;
                }
                let problems_before = problems.len();
                let Some(cluster) = clusters.get(forward.cluster.as_str()).cloned() else {
                    problems.push(format!("route {}: unknown cluster {}", route.id, forward.cluster));
                    host_compiled.push(None);
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
                    Ok(compiled) => {
                        let compiled = Arc::new(compiled);
                        routes.push(compiled.clone());
                        host_compiled.push((problems.len() == problems_before).then_some(compiled));
                    }
                    Err(e) => {
                        problems.push(e.to_string());
                        host_compiled.push(None);
                    }
                }
            }
            router.add_host(vhost, routes.into());
            compiled_routes.push(host_compiled.into());
        }
        let tls = TlsRuntime::compile(&snapshot, &mut problems);
        let settings = Arc::new(SettingsRuntime::compile(&snapshot.settings));
        drop(recompiled);
        let runtime = Self {
            snapshot,
            router,
            tls,
            settings,
            clusters: compiled,
            compiled: compiled_routes,
            plugins,
            plugin_counters,
            plugin_problems,
        };
        (runtime, problems)
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
