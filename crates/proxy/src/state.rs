//! [`ProxyState`]: the one `ArcSwap<Runtime>` of an instance, readiness, metrics and the in-flight count.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use oxigress_ir::Snapshot;

use crate::metrics::ProxyMetrics;
use crate::runtime::Runtime;

/// Shared state of one gateway instance's data plane.
pub struct ProxyState {
    /// Instance name (logs).
    pub instance: String,
    runtime: ArcSwap<Runtime>,
    ready: AtomicBool,
    in_flight: Arc<AtomicUsize>,
    problems: ArcSwap<Vec<String>>,
    /// Metrics.
    pub metrics: ProxyMetrics,
}

impl ProxyState {
    /// A state serving nothing until the first [`ProxyState::apply`].
    pub fn new(instance: impl Into<String>, metrics: ProxyMetrics) -> Arc<Self> {
        Arc::new(Self {
            instance: instance.into(),
            runtime: ArcSwap::from_pointee(Runtime::empty()),
            ready: AtomicBool::new(false),
            in_flight: Arc::new(AtomicUsize::new(0)),
            problems: ArcSwap::from_pointee(Vec::new()),
            metrics,
        })
    }

    /// Compiles `snapshot` and swaps it in with a single atomic store; requests already running keep the
    /// runtime they loaded. Returns what could not be compiled (left out, logged).
    pub fn apply(&self, snapshot: Arc<Snapshot>) -> Vec<String> {
        let previous = self.runtime.load_full();
        let (runtime, problems) = Runtime::compile(snapshot.clone(), &self.metrics, Some(&previous));
        for problem in &problems {
            tracing::error!(instance = %self.instance, "cannot compile: {problem}");
        }
        self.runtime.store(Arc::new(runtime));
        self.metrics.retain(&snapshot);
        self.problems.store(Arc::new(problems.clone()));
        self.metrics.snapshots_applied.inc();
        self.ready.store(true, Ordering::Release);
        problems
    }

    /// What the live snapshot contained that the proxy could not compile (e.g. an unreadable certificate).
    pub fn problems(&self) -> Arc<Vec<String>> {
        self.problems.load_full()
    }

    /// The live runtime.
    pub fn runtime(&self) -> arc_swap::Guard<Arc<Runtime>> {
        self.runtime.load()
    }

    /// Whether a snapshot has been applied.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Requests being served right now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    pub(crate) fn track_request(&self) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.in_flight.clone())
    }
}

/// Counts one request as in flight until dropped.
pub(crate) struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use oxigress_ir::{Cluster, Forward, PathMatch, Route, RouteAction, Snapshot, SourceRef, VirtualHost};
    use prometheus_client::registry::Registry;

    use super::ProxyState;
    use crate::metrics::ProxyMetrics;

    fn snapshot(routes: &[&str]) -> Arc<Snapshot> {
        let cluster = Cluster { id: "c".into(), endpoints: Vec::new(), upstream: Default::default() };
        let routes = routes
            .iter()
            .map(|name| Route {
                id: format!("{name}/0"),
                name: (*name).to_string(),
                source: SourceRef { kind: "Ingress".into(), namespace: "ns".into(), name: (*name).to_string() },
                path: PathMatch::Prefix(format!("/{name}")),
                headers: Vec::new(),
                query: Vec::new(),
                methods: Vec::new(),
                action: RouteAction::Forward(Forward { cluster: "c".into(), fallback: None, canary: None, error_fallback: None }),
                plugins: Vec::new(),
                policy: Default::default(),
            })
            .collect();
        let virtual_hosts = vec![Arc::new(VirtualHost { host: "*".into(), routes })];
        Arc::new(Snapshot { virtual_hosts, clusters: [("c".to_string(), Arc::new(cluster))].into(), ..Snapshot::default() })
    }

    /// A snapshot with one virtual host per `(host, route names)`, sorted by host as translation sorts them.
    fn hosts(hosts: &[(&str, &[&str])]) -> Arc<Snapshot> {
        let mut base = (*snapshot(&[])).clone();
        base.virtual_hosts = hosts
            .iter()
            .map(|(host, routes)| {
                let mut vhost = (*snapshot(routes).virtual_hosts[0]).clone();
                vhost.host = (*host).to_string();
                Arc::new(vhost)
            })
            .collect();
        Arc::new(base)
    }

    fn exposition(registry: &Registry) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
        text
    }

    #[test]
    fn series_of_removed_routes_leave_the_exposition() {
        let mut registry = Registry::default();
        let state = ProxyState::new("t", ProxyMetrics::register(&mut registry));
        state.apply(snapshot(&["keep", "ns/gone"]));
        // An LLM route's series are created on its first LLM request; they go with the route too.
        drop(state.metrics.ai.route("ns/gone"));
        let text = exposition(&registry);
        assert!(text.contains(r#"route="ns/gone""#) && text.contains(r#"oxigress_ai_tokens_total{route="ns/gone""#), "{text}");

        state.apply(snapshot(&["keep", "new"]));
        let text = exposition(&registry);
        assert!(!text.contains("ns/gone"), "{text}");
        assert!(text.contains(r#"oxigress_requests_total{route="keep",code="2xx"}"#), "{text}");
        assert!(text.contains(r#"route="new""#), "{text}");
        // A first LLM request still running on the old snapshot re-creates the series: the next apply
        // removes them again.
        drop(state.metrics.ai.route("ns/gone"));
        state.apply(snapshot(&["keep", "new"]));
        let text = exposition(&registry);
        assert!(!text.contains("ns/gone"), "{text}");

        // A route that comes back gets its series again.
        state.apply(snapshot(&["ns/gone"]));
        let text = exposition(&registry);
        assert!(text.contains(r#"oxigress_requests_total{route="ns/gone",code="2xx"}"#), "{text}");
        assert!(!text.contains(r#"route="keep""#) && !text.contains(r#"route="new""#), "{text}");
    }

    #[test]
    fn a_route_name_on_several_hosts_keeps_its_series_until_its_last_host_goes() {
        let mut registry = Registry::default();
        let state = ProxyState::new("t", ProxyMetrics::register(&mut registry));
        let first = hosts(&[("a.example", &["ns/shared"]), ("b.example", &["ns/shared", "ns/other"])]);
        state.apply(first.clone());
        assert!(exposition(&registry).contains(r#"route="ns/shared""#));

        // b.example changes (a new Arc), a.example is the very same host: only b's routes are counted again.
        let mut second = (*first).clone();
        second.virtual_hosts[1] = hosts(&[("b.example", &["ns/other"])]).virtual_hosts[0].clone();
        state.apply(Arc::new(second.clone()));
        let text = exposition(&registry);
        assert!(text.contains(r#"route="ns/shared""#), "still on a.example: {text}");
        assert!(text.contains(r#"route="ns/other""#), "{text}");

        // The last host with the name goes: so do its series.
        let third = hosts(&[("b.example", &["ns/other"])]);
        state.apply(third);
        let text = exposition(&registry);
        assert!(!text.contains("ns/shared"), "{text}");
        assert!(text.contains(r#"route="ns/other""#), "{text}");

        // Applying equal snapshots (new Arcs, same content) keeps every series.
        state.apply(hosts(&[("b.example", &["ns/other"])]));
        state.apply(hosts(&[("b.example", &["ns/other"])]));
        assert!(exposition(&registry).contains(r#"route="ns/other""#));
    }
}
