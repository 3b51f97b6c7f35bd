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
        let (runtime, problems) = Runtime::compile(snapshot, &self.metrics, Some(&previous));
        for problem in &problems {
            tracing::error!(instance = %self.instance, "cannot compile: {problem}");
        }
        self.runtime.store(Arc::new(runtime));
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
