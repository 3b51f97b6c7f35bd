//! Data-plane metrics. Per-route counters are looked up once when a snapshot is compiled, so the request
//! path only increments atomics (no label allocation, no map lookup, no lock). When a snapshot is applied,
//! the series of routes and plugins it no longer has are removed ([`ProxyMetrics::retain`]), so replacing
//! routes does not grow memory (or `/metrics`) without bound. Only the virtual hosts that changed since the
//! previous snapshot are looked at (an unchanged host is the same `Arc`), so a change to one Ingress among
//! thousands costs in proportion to that change.

mod ai;
mod histogram;

pub use ai::{AiMetrics, LazyAiMetrics};
pub use histogram::LatencyHistogram;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use oxigress_ir::{Snapshot, VirtualHost};

use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Labels of the request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// Route name (`name` or `ns/name`); empty when no route matched.
    route: String,
    /// Status class: `2xx`, `3xx`, `4xx`, `5xx` or `1xx`.
    code: &'static str,
}

const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Labels of the plugin decision counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    /// Plugin id (`ns/name` of the WasmPlugin).
    plugin: String,
    /// `continue` or `respond`.
    decision: &'static str,
}

/// Decision counters of one plugin.
#[derive(Clone, Debug)]
pub struct PluginCounters {
    /// The plugin let the request go on.
    pub pass: Counter,
    /// The plugin answered the request itself.
    pub respond: Counter,
}

/// All data-plane metrics of one instance.
#[derive(Clone)]
pub struct ProxyMetrics {
    requests: Family<RequestLabels, Counter>,
    /// Request duration, seconds.
    pub latency: LatencyHistogram,
    /// Requests that failed talking to the upstream.
    pub upstream_errors: Counter,
    /// Response body bytes moved from the upstream's connection to the client's without being read
    /// (`splice(2)`).
    pub spliced_response_bytes: Counter,
    /// Snapshots applied.
    pub snapshots_applied: Counter,
    /// Counters of requests that matched no route.
    pub unrouted: RouteMetrics,
    plugin_decisions: Family<PluginLabels, Counter>,
    /// LLM requests (ai-proxy).
    pub ai: AiMetrics,
    /// The route names and plugin ids that have series (only touched when a snapshot is applied).
    labelled: Arc<Mutex<Labelled>>,
}

/// What [`ProxyMetrics`] has created series for.
#[derive(Default)]
struct Labelled {
    /// The snapshot `routes` and `plugins` describe (the last one retained).
    basis: Arc<Snapshot>,
    /// Per route name: how many routes of `basis` have it (one Ingress rule's name is on every host it
    /// lists).
    routes: HashMap<String, usize>,
    plugins: HashSet<String>,
    /// Routes removed by the previous apply (removed once more at the next).
    retired: Vec<String>,
}

impl ProxyMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = LatencyHistogram::default();
        let upstream_errors = Counter::default();
        let spliced_response_bytes = Counter::default();
        let snapshots_applied = Counter::default();
        registry.register("oxigress_requests", "Requests by route and status class", requests.clone());
        registry.register("oxigress_request_duration_seconds", "Request duration", latency.clone());
        registry.register("oxigress_upstream_errors", "Requests that failed talking to the upstream", upstream_errors.clone());
        registry.register(
            "oxigress_spliced_response_bytes",
            "Response body bytes moved from the upstream's connection to the client's without being read (splice)",
            spliced_response_bytes.clone(),
        );
        registry.register("oxigress_snapshots_applied", "Configuration snapshots the proxy swapped in", snapshots_applied.clone());
        let plugin_decisions = Family::<PluginLabels, Counter>::default();
        registry.register("oxigress_plugin_decisions", "Plugin decisions by plugin", plugin_decisions.clone());
        let unrouted = RouteMetrics::new(&requests, "");
        let ai = AiMetrics::register(registry);
        Self {
            requests,
            latency,
            upstream_errors,
            spliced_response_bytes,
            snapshots_applied,
            unrouted,
            plugin_decisions,
            ai,
            labelled: Arc::default(),
        }
    }

    /// Removes the series of every route and plugin `snapshot` (the one just applied) no longer has, and
    /// remembers it as the live one. Called once per applied snapshot, never on the request path; only the
    /// virtual hosts that differ from the previously retained snapshot are looked at. A request still
    /// running on the previous snapshot counts into its detached counters; the series an LLM route creates
    /// on its first LLM request could be re-created by such a request after the swap, so the routes that
    /// went away are removed once more at the next apply.
    pub fn retain(&self, snapshot: &Arc<Snapshot>) {
        let mut labelled = self.labelled.lock();
        let Labelled { basis, routes, plugins, retired } = &mut *labelled;
        // Names that lost a route: gone if no route has them once every change is counted.
        let mut lost: Vec<&str> = Vec::new();
        each_changed_host(&basis.virtual_hosts, &snapshot.virtual_hosts, |host, added| {
            for route in &host.routes {
                if added {
                    *routes.entry(route.name.clone()).or_default() += 1;
                } else if let Some(count) = routes.get_mut(&route.name) {
                    *count = count.saturating_sub(1);
                    lost.push(&route.name);
                }
            }
        });
        let mut gone = Vec::new();
        for name in lost {
            if routes.get(name) == Some(&0) {
                routes.remove(name);
                gone.push(name.to_string());
            }
        }
        for route in gone.iter().chain(retired.iter().filter(|r| !routes.contains_key(*r))) {
            for code in CLASSES {
                self.requests.remove(&RequestLabels { route: route.clone(), code });
            }
            self.ai.remove_route(route);
        }
        if basis.plugins != snapshot.plugins {
            let live: HashSet<String> = snapshot.plugins.iter().map(|p| p.id.clone()).collect();
            for gone in plugins.difference(&live) {
                for decision in ["continue", "respond"] {
                    self.plugin_decisions.remove(&PluginLabels { plugin: gone.clone(), decision });
                }
            }
            *plugins = live;
        }
        *retired = gone;
        *basis = snapshot.clone();
    }

    /// The decision counters of one plugin.
    pub fn plugin(&self, id: &str) -> PluginCounters {
        let counter = |decision| self.plugin_decisions.get_or_create(&PluginLabels { plugin: id.to_string(), decision }).clone();
        PluginCounters { pass: counter("continue"), respond: counter("respond") }
    }

    /// The counters of one route.
    pub fn route(&self, name: &str) -> RouteMetrics {
        RouteMetrics::new(&self.requests, name)
    }
}

/// Request counters of one route, by status class.
#[derive(Clone, Debug)]
pub struct RouteMetrics {
    by_class: [Counter; 5],
}

impl RouteMetrics {
    fn new(family: &Family<RequestLabels, Counter>, route: &str) -> Self {
        let by_class = CLASSES.map(|code| family.get_or_create(&RequestLabels { route: route.to_string(), code }).clone());
        Self { by_class }
    }

    /// Counts one response with `status`.
    pub fn record(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.by_class[class].inc();
    }
}

/// Calls `f(host, added)` for every virtual host of `old` that is not in `new` (`added` false) and every
/// host of `new` not in `old` (`added` true). Both lists are sorted by host name; a host that is the same
/// `Arc` in both is skipped without comparing, a host whose name is in both but whose value changed is
/// reported as removed and added. Were the lists not sorted, every host would still be reported or
/// skipped exactly once, so counts kept from these calls stay right.
fn each_changed_host<'a>(old: &'a [Arc<VirtualHost>], new: &'a [Arc<VirtualHost>], mut f: impl FnMut(&'a VirtualHost, bool)) {
    let (mut i, mut j) = (0, 0);
    loop {
        match (old.get(i), new.get(j)) {
            (Some(o), Some(n)) if Arc::ptr_eq(o, n) => (i, j) = (i + 1, j + 1),
            (Some(o), Some(n)) if o.host < n.host => {
                f(o, false);
                i += 1;
            }
            (Some(o), Some(n)) if o.host > n.host => {
                f(n, true);
                j += 1;
            }
            (Some(o), Some(n)) => {
                f(o, false);
                f(n, true);
                (i, j) = (i + 1, j + 1);
            }
            (Some(o), None) => {
                f(o, false);
                i += 1;
            }
            (None, Some(n)) => {
                f(n, true);
                j += 1;
            }
            (None, None) => break,
        }
    }
}
