//! # oxigress-controller: step (6) of the data flow, the loop from objects to published snapshots.
//!
//! On every [`SourceSnapshot`] it runs the pure `translate` (incrementally when the source says which
//! objects changed since the last translated revision: a [`TranslateMemo`] kept by the loop reuses the
//! work of every Ingress whose inputs did not change; same result), logs diagnostics that are new, keeps the
//! current diagnostics for `/debug/diagnostics` and the metrics, and publishes the IR [`Snapshot`] on a
//! watch channel, only when it differs from the last one (so identical reloads cost the proxy nothing).
//! An Ingress whose new version has an annotation with an invalid value keeps its last clean version:
//! translate stays pure and only marks such Ingresses ([`ingresses_with_invalid_annotations`]); the loop
//! remembers the last version of each Ingress that translated cleanly and translates again with it in
//! place of the invalid one (the diagnostic stays). A new Ingress that was never clean is translated as
//! it is (the invalid annotation dropped).
//!
//! It never depends on the proxy: whoever holds the receiver (the in-process proxy today, a remote
//! gateway later) applies the snapshots.

mod metrics;

pub use metrics::ControllerMetrics;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arc_swap::ArcSwap;
use oxigress_ir::Snapshot;
use oxigress_objects::k8s_openapi::api::networking::v1::Ingress;
use oxigress_objects::{Diagnostic, ObjectKey, ObjectRef, Severity};
use oxigress_sources::SourceSnapshot;
use oxigress_translate::select::ingress_selection;
use oxigress_translate::annotations::INVALID_ANNOTATION;
use oxigress_translate::{
    ingresses_with_invalid_annotations, translate_with_memo, InstanceOptions, TranslateMemo, Translation,
};
use tokio::sync::watch;

/// Current diagnostics of one instance (source + translation), readable from anywhere, and
/// subscribable (Kubernetes mode turns new ones into Events).
pub struct DiagnosticsView {
    current: ArcSwap<Vec<Diagnostic>>,
    changes: watch::Sender<Arc<Vec<Diagnostic>>>,
}

impl Default for DiagnosticsView {
    fn default() -> Self {
        Self { current: ArcSwap::default(), changes: watch::Sender::new(Arc::new(Vec::new())) }
    }
}

impl DiagnosticsView {
    /// The diagnostics after every translation (the current ones first).
    pub fn subscribe(&self) -> watch::Receiver<Arc<Vec<Diagnostic>>> {
        self.changes.subscribe()
    }

    fn store(&self, diagnostics: Vec<Diagnostic>) {
        let diagnostics = Arc::new(diagnostics);
        self.current.store(diagnostics.clone());
        self.changes.send_if_modified(|current| {
            if **current == *diagnostics {
                return false;
            }
            *current = diagnostics;
            true
        });
    }

    /// The current diagnostics.
    pub fn current(&self) -> Arc<Vec<Diagnostic>> {
        self.current.load_full()
    }

    /// The current diagnostics as a JSON array.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&*self.current()).unwrap_or_else(|_| serde_json::Value::Array(Vec::new()))
    }
}

/// A running controller loop.
pub struct Controller {
    /// The published IR snapshots (`None` until the first translation).
    pub snapshots: watch::Receiver<Option<Arc<Snapshot>>>,
    /// The current diagnostics.
    pub diagnostics: Arc<DiagnosticsView>,
    /// The loop task; it ends when the source closes.
    pub task: tokio::task::JoinHandle<()>,
}

impl Controller {
    /// Starts translating `source` for the instance `options`. The first source snapshot is translated
    /// before this returns, so `snapshots` already holds it.
    pub fn spawn(
        options: InstanceOptions,
        mut source: watch::Receiver<Arc<SourceSnapshot>>,
        metrics: ControllerMetrics,
    ) -> Self {
        let view = Arc::new(DiagnosticsView::default());
        let mut state =
            LoopState {
            options,
            metrics,
            view: view.clone(),
            seen: BTreeSet::new(),
            last: None,
            selection: BTreeMap::new(),
            last_clean: BTreeMap::new(),
            memo: TranslateMemo::default(),
            translated_revision: None,
            substituted: BTreeSet::new(),
        };
        let first = source.borrow_and_update().clone();
        let (tx, rx) = watch::channel(Some(state.translate(&first)));
        let task = tokio::spawn(async move {
            while source.changed().await.is_ok() {
                let input = source.borrow_and_update().clone();
                let snapshot = state.translate(&input);
                tx.send_if_modified(|current| {
                    if current.as_deref() == Some(&*snapshot) {
                        return false;
                    }
                    *current = Some(snapshot);
                    true
                });
            }
        });
        Self { snapshots: rx, diagnostics: view, task }
    }
}

struct LoopState {
    options: InstanceOptions,
    metrics: ControllerMetrics,
    view: Arc<DiagnosticsView>,
    /// Diagnostics already logged (each is logged once while it persists).
    seen: BTreeSet<Diagnostic>,
    /// The last snapshot (invalid plugin configurations keep their version from it).
    last: Option<Arc<Snapshot>>,
    /// Which Ingresses were taken (`None`) or skipped (the reason) last time, to log changes once.
    selection: BTreeMap<ObjectKey, Option<String>>,
    /// The last version of each Ingress that translated without an invalid annotation value.
    last_clean: BTreeMap<ObjectKey, Ingress>,
    /// Per-Ingress translation work of the last translation, reused when its inputs did not change.
    memo: TranslateMemo,
    /// The source revision translated last.
    translated_revision: Option<u64>,
    /// The Ingresses the last translation took in their last clean version instead of the source's.
    substituted: BTreeSet<ObjectRef>,
}

impl LoopState {
    /// Logs (at debug) every Ingress whose selection changed: taken, or skipped with the reason.
    fn log_selection(&mut self, input: &SourceSnapshot) {
        if !tracing::enabled!(tracing::Level::DEBUG) {
            return;
        }
        let instance = &self.options.instance_name;
        let mut now = BTreeMap::new();
        for (key, ingress) in &input.resources.ingresses {
            let decision = ingress_selection(ingress, &input.resources, &self.options).err().map(|r| r.to_string());
            if self.selection.get(key) != Some(&decision) {
                match &decision {
                    None => tracing::debug!(instance = %instance, ingress = %key, "took Ingress"),
                    Some(reason) => tracing::debug!(instance = %instance, ingress = %key, %reason, "skipped Ingress"),
                }
            }
            now.insert(key.clone(), decision);
        }
        self.selection = now;
    }

    fn translate(&mut self, input: &SourceSnapshot) -> Arc<Snapshot> {
        self.log_selection(input);
        let started = std::time::Instant::now();
        let translation = self.translate_keeping_clean_ingresses(input);
        let translate_ms = started.elapsed().as_secs_f64() * 1000.0;
        let mut diagnostics = input.diagnostics.clone();
        diagnostics.extend(translation.diagnostics);
        let current: BTreeSet<Diagnostic> = diagnostics.iter().cloned().collect();
        for diagnostic in current.difference(&self.seen) {
            match diagnostic.severity {
                Severity::Error => tracing::error!(instance = %self.options.instance_name, "{diagnostic}"),
                Severity::Warning => tracing::warn!(instance = %self.options.instance_name, "{diagnostic}"),
            }
        }
        let failed = diagnostics.iter().any(|d| d.severity == Severity::Error);
        self.metrics.record_reload(failed, &diagnostics);
        self.seen = current;
        self.view.store(diagnostics);
        let snapshot = translation.snapshot;
        tracing::info!(
            instance = %self.options.instance_name,
            revision = input.revision,
            hosts = snapshot.virtual_hosts.len(),
            routes = snapshot.virtual_hosts.iter().map(|v| v.routes.len()).sum::<usize>(),
            translate_ms,
            "translated configuration"
        );
        let snapshot = Arc::new(snapshot);
        self.last = Some(snapshot.clone());
        snapshot
    }

    /// Translates `input`; an Ingress with an invalid annotation value that translated cleanly before is
    /// translated in its last clean version instead (its diagnostics stay, saying so).
    fn translate_keeping_clean_ingresses(&mut self, input: &SourceSnapshot) -> Translation {
        let ingresses = &input.resources.ingresses;
        // The objects that may differ from those the memo last translated (`None`: not known).
        let changed = self.translated_revision.and_then(|r| input.changes.since(r)).map(|mut changed| {
            changed.extend(std::mem::take(&mut self.substituted));
            changed
        });
        self.translated_revision = Some(input.revision);
        self.substituted.clear();
        let first =
            translate_with_memo(&mut self.memo, &input.resources, &self.options, self.last.as_deref(), changed.as_ref());
        let invalid = ingresses_with_invalid_annotations(&first.diagnostics);
        // An Ingress that did not change kept its version and whether it was clean.
        let candidates: Vec<ObjectKey> = match &changed {
            Some(changed) => changed.iter().filter(|r| r.kind == "Ingress").map(ObjectRef::key).collect(),
            None => {
                self.last_clean.retain(|key, _| ingresses.contains_key(key));
                ingresses.keys().cloned().collect()
            }
        };
        for key in candidates {
            match ingresses.get(&key) {
                None => {
                    self.last_clean.remove(&key);
                }
                Some(ingress) if !invalid.contains(&key) && self.last_clean.get(&key) != Some(ingress) => {
                    self.last_clean.insert(key, ingress.clone());
                }
                Some(_) => {}
            }
        }
        let kept: BTreeMap<&ObjectKey, &Ingress> = invalid
            .iter()
            .filter_map(|key| self.last_clean.get_key_value(key))
            .filter(|(key, clean)| ingresses.get(*key) != Some(*clean))
            .collect();
        if kept.is_empty() {
            return first;
        }
        let mut resources = input.resources.clone();
        for (key, clean) in &kept {
            resources.ingresses.insert((*key).clone(), (*clean).clone());
        }
        self.substituted = kept.keys().map(|key| ObjectRef::new("Ingress", &key.namespace, &key.name)).collect();
        let substituted = self.substituted.clone();
        let mut second =
            translate_with_memo(&mut self.memo, &resources, &self.options, self.last.as_deref(), Some(&substituted));
        let marked = first.diagnostics.into_iter().filter(|d| {
            d.code == INVALID_ANNOTATION && d.object.as_ref().is_some_and(|o| kept.contains_key(&o.key()))
        });
        second.diagnostics.extend(marked.map(|mut d| {
            d.message.push_str("; the Ingress' last good version stays active");
            d
        }));
        second
    }
}

#[cfg(test)]
mod tests;
