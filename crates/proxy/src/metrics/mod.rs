//! Data-plane metrics. Per-route counters are looked up once when a snapshot is compiled, so the request
//! path only increments atomics (no label allocation, no map lookup, no lock). When a snapshot is applied,
//! the series of routes and plugins it no longer has are removed ([`ProxyMetrics::retain`]), so replacing
//! routes does not grow memory (or `/metrics`) without bound.

mod ai;
mod histogram;

pub use ai::{AiMetrics, LazyAiMetrics};
pub use histogram::LatencyHistogram;

use std::collections::HashSet;
use std::sync::Arc;

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
    routes: HashSet<String>,
    plugins: HashSet<String>,
    /// Routes removed by the previous apply (removed once more at the next).
    retired: HashSet<String>,
}

impl ProxyMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = LatencyHistogram::default();
        let upstream_errors = Counter::default();
        let snapshots_applied = Counter::default();
        registry.register("oxigress_requests", "Requests by route and status class", requests.clone());
        registry.register("oxigress_request_duration_seconds", "Request duration", latency.clone());
        registry.register("oxigress_upstream_errors", "Requests that failed talking to the upstream", upstream_errors.clone());
        registry.register("oxigress_snapshots_applied", "Configuration snapshots the proxy swapped in", snapshots_applied.clone());
        let plugin_decisions = Family::<PluginLabels, Counter>::default();
        registry.register("oxigress_plugin_decisions", "Plugin decisions by plugin", plugin_decisions.clone());
        let unrouted = RouteMetrics::new(&requests, "");
        let ai = AiMetrics::register(registry);
        Self { requests, latency, upstream_errors, snapshots_applied, unrouted, plugin_decisions, ai, labelled: Arc::default() }
    }

    /// Removes the series of every route and plugin not in `routes` / `plugins` (the names of the snapshot
    /// just applied), and remembers these as the live ones. Called once per applied snapshot, never on the
    /// request path. A request still running on the previous snapshot counts into its detached counters;
    /// the series an LLM route creates on its first LLM request could be re-created by such a request
    /// after the swap, so the routes that went away are removed once more at the next apply.
    pub fn retain<'a>(&self, routes: impl IntoIterator<Item = &'a str>, plugins: impl IntoIterator<Item = &'a str>) {
        let routes: HashSet<String> = routes.into_iter().map(str::to_string).collect();
        let plugins: HashSet<String> = plugins.into_iter().map(str::to_string).collect();
        let mut labelled = self.labelled.lock();
        let gone: HashSet<String> = labelled.routes.difference(&routes).cloned().collect();
        for route in gone.iter().chain(labelled.retired.difference(&routes)) {
            for code in CLASSES {
                self.requests.remove(&RequestLabels { route: route.clone(), code });
            }
            self.ai.remove_route(route);
        }
        for gone in labelled.plugins.difference(&plugins) {
            for decision in ["continue", "respond"] {
                self.plugin_decisions.remove(&PluginLabels { plugin: gone.clone(), decision });
            }
        }
        *labelled = Labelled { routes, plugins, retired: gone };
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
