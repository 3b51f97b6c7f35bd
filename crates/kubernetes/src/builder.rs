//! [`Builder`]: watcher events → the published [`SourceSnapshot`], kept up to date in place. Each
//! event touches only its object: it passes the same apiserver-like checks as manifest files
//! (`oxigress_objects::validate`), an invalid (or undecodable) object becomes a diagnostic and its last
//! good version (if this controller saw one) stays in use, as in standalone mode. Every object whose
//! entry in the published [`Resources`] changed is recorded in the snapshot's change log, so the
//! controller re-translates only what depends on it.
//!
//! A re-list (the watcher's `Init`, `InitApply`…, `InitDone`, after a `410 Gone` or at start) is applied
//! object by object as it arrives (each is a current version), and at `InitDone` the objects the list no
//! longer holds are removed: every change stays attributed, so the log never has to say "unknown" after
//! the first snapshot.

use std::collections::{BTreeMap, BTreeSet};

use oxigress_objects::{validate::validate, Diagnostic, KubeObject, ObjectRef, Resources};
use oxigress_sources::SourceSnapshot;

/// One object as a watcher delivered it.
// why: nearly every event carries an object; boxing it would add an allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Observed {
    /// The typed object (namespace normalized as the manifest loader does).
    Object(KubeObject),
    /// An object that could not be decoded into its typed form, and why.
    Undecodable(ObjectRef, String),
}

impl Observed {
    /// A typed object, its namespace normalized.
    pub(crate) fn object(mut object: KubeObject) -> Self {
        object.normalize_namespace();
        Self::Object(object)
    }

    /// `Kind ns/name`, as `KubeObject::object_ref` names it.
    pub(crate) fn reference(&self) -> ObjectRef {
        match self {
            Self::Object(object) => object.object_ref(),
            Self::Undecodable(reference, _) => reference.clone(),
        }
    }
}

/// What a watcher reported (kube-runtime's `watcher::Event`, converted).
#[derive(Debug, Clone)]
pub(crate) enum Change {
    /// An object was added or changed.
    Apply(Observed),
    /// An object was deleted.
    Delete(ObjectRef),
    /// A (re-)list starts.
    Init,
    /// An object of the list.
    InitApply(Observed),
    /// The list is complete: objects it did not hold are gone.
    InitDone,
}

/// A [`Change`] of one watch stream (one kind in one scope).
#[derive(Debug, Clone)]
pub(crate) struct StreamEvent {
    /// Which stream (an index given when the watches start).
    pub(crate) stream: usize,
    /// What happened.
    pub(crate) change: Change,
}

/// What is known of one watch stream.
#[derive(Debug, Default)]
struct Stream {
    /// Whether its first list completed.
    synced: bool,
    /// The objects it currently holds.
    objects: BTreeSet<ObjectRef>,
    /// The objects listed so far while a re-list runs.
    listed: Option<BTreeSet<ObjectRef>>,
}

/// Applies watcher events to the published snapshot.
#[derive(Debug)]
pub(crate) struct Builder {
    streams: Vec<Stream>,
    /// The current diagnostic of each invalid or undecodable object.
    diagnostics: BTreeMap<ObjectRef, Diagnostic>,
    /// Objects whose entry in the resources changed since the last publish.
    changed: BTreeSet<ObjectRef>,
    /// Whether `diagnostics` changed since the last publish.
    diagnostics_changed: bool,
    revision: u64,
}

impl Builder {
    /// A builder for `streams` watch streams, numbered from 0.
    pub(crate) fn new(streams: usize) -> Self {
        Self {
            streams: (0..streams).map(|_| Stream::default()).collect(),
            diagnostics: BTreeMap::new(),
            changed: BTreeSet::new(),
            diagnostics_changed: false,
            revision: 0,
        }
    }

    /// Whether every stream completed its first list (before that, a snapshot would be partial).
    pub(crate) fn synced(&self) -> bool {
        self.streams.iter().all(|s| s.synced)
    }

    /// Whether [`Builder::publish`] has something new to publish.
    pub(crate) fn pending(&self) -> bool {
        self.revision == 0 || self.diagnostics_changed || !self.changed.is_empty()
    }

    /// Applies one event to `resources` (the resources of the snapshot [`Builder::publish`] completes).
    pub(crate) fn apply(&mut self, resources: &mut Resources, event: StreamEvent) {
        let Some(stream) = self.streams.get_mut(event.stream) else {
            tracing::error!(stream = event.stream, "event of an unknown watch stream ignored");
            return;
        };
        match event.change {
            Change::Apply(observed) => {
                stream.objects.insert(observed.reference());
                self.observe(resources, observed);
            }
            Change::InitApply(observed) => {
                let reference = observed.reference();
                stream.listed.get_or_insert_default().insert(reference.clone());
                stream.objects.insert(reference);
                self.observe(resources, observed);
            }
            Change::Delete(reference) => {
                stream.objects.remove(&reference);
                self.forget(resources, &reference);
            }
            Change::Init => stream.listed = Some(BTreeSet::new()),
            Change::InitDone => {
                stream.synced = true;
                let listed = stream.listed.take().unwrap_or_default();
                let gone: Vec<ObjectRef> = stream.objects.difference(&listed).cloned().collect();
                stream.objects = listed;
                for reference in &gone {
                    self.forget(resources, reference);
                }
            }
        }
    }

    /// Completes `snapshot` (whose resources every event since the last publish was applied to) as the
    /// next revision: its change log names the objects changed since the previous one; the first
    /// snapshot starts the log.
    pub(crate) fn publish(&mut self, snapshot: &mut SourceSnapshot) {
        self.revision += 1;
        let changed = std::mem::take(&mut self.changed);
        if self.revision == 1 {
            snapshot.changes.start(self.revision);
        } else {
            snapshot.changes.record(self.revision, changed);
        }
        if std::mem::take(&mut self.diagnostics_changed) || self.revision == 1 {
            snapshot.diagnostics = self.diagnostics.values().cloned().collect();
        }
        snapshot.revision = self.revision;
    }

    /// Takes the current version of an object: valid ones replace the published version, invalid ones
    /// leave it (the last good version) and become a diagnostic.
    fn observe(&mut self, resources: &mut Resources, observed: Observed) {
        let reference = observed.reference();
        let problem = match observed {
            Observed::Object(object) => {
                let problems = validate(&object);
                if problems.is_empty() {
                    self.set_diagnostic(&reference, None);
                    if !holds(resources, &object) {
                        resources.insert(object);
                        self.changed.insert(reference);
                    }
                    return;
                }
                problems.join("; ")
            }
            Observed::Undecodable(_, message) => message,
        };
        let suffix = if contains(resources, &reference) { "; keeping its last good version" } else { "" };
        let diagnostic = Diagnostic::error("InvalidObject", Some(reference.clone()), format!("{problem}{suffix}"));
        self.set_diagnostic(&reference, Some(diagnostic));
    }

    /// An object is gone: so are its published version and its diagnostic.
    fn forget(&mut self, resources: &mut Resources, reference: &ObjectRef) {
        if resources.remove(reference) {
            self.changed.insert(reference.clone());
        }
        self.set_diagnostic(reference, None);
    }

    fn set_diagnostic(&mut self, reference: &ObjectRef, diagnostic: Option<Diagnostic>) {
        let changed = match diagnostic {
            Some(diagnostic) if self.diagnostics.get(reference) == Some(&diagnostic) => false,
            Some(diagnostic) => {
                self.diagnostics.insert(reference.clone(), diagnostic);
                true
            }
            None => self.diagnostics.remove(reference).is_some(),
        };
        self.diagnostics_changed |= changed;
    }
}

/// Whether `resources` holds exactly `object`.
fn holds(resources: &Resources, object: &KubeObject) -> bool {
    let key = object.object_ref().key();
    match object {
        KubeObject::Ingress(o) => resources.ingresses.get(&key) == Some(o),
        KubeObject::IngressClass(o) => resources.ingress_classes.get(&key) == Some(o),
        KubeObject::Service(o) => resources.services.get(&key) == Some(o),
        KubeObject::EndpointSlice(o) => resources.endpoint_slices.get(&key) == Some(o),
        KubeObject::Endpoints(o) => resources.endpoints.get(&key) == Some(o),
        KubeObject::Secret(o) => resources.secrets.get(&key) == Some(o),
        KubeObject::ConfigMap(o) => resources.config_maps.get(&key) == Some(o),
        KubeObject::WasmPlugin(o) => resources.wasm_plugins.get(&key) == Some(o),
    }
}

/// Whether `resources` holds a version of `reference`.
fn contains(resources: &Resources, reference: &ObjectRef) -> bool {
    let key = reference.key();
    match reference.kind.as_str() {
        "Ingress" => resources.ingresses.contains_key(&key),
        "IngressClass" => resources.ingress_classes.contains_key(&key),
        "Service" => resources.services.contains_key(&key),
        "EndpointSlice" => resources.endpoint_slices.contains_key(&key),
        "Endpoints" => resources.endpoints.contains_key(&key),
        "Secret" => resources.secrets.contains_key(&key),
        "ConfigMap" => resources.config_maps.contains_key(&key),
        "WasmPlugin" => resources.wasm_plugins.contains_key(&key),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
