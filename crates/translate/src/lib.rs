//! # oxigress-translate: steps (3) and (4) of the data flow, select then translate.
//!
//! [`translate`] is a pure function from the objects a source holds and the instance's settings to the
//! IR [`Snapshot`] this instance serves plus the [`Diagnostic`]s of everything wrong with the input. No I/O,
//! no clock, no async: the standalone directory, the Kubernetes watcher, golden tests and the offline CLI
//! all call this same function. Invalid input never aborts it; it becomes a diagnostic.
//!
//! A long-lived caller (the controller) keeps a [`TranslateMemo`] and calls [`translate_with_memo`] with
//! the objects that changed since its last call: the per-Ingress work of every Ingress whose inputs did
//! not change is reused; the result is the same as [`translate_after`]'s.

pub mod annotations;
mod backend;
pub mod gateway_config;
mod ingress;
mod inputs;
mod memo;
mod options;
mod plan;
mod routes;
pub mod select;
mod sort;
mod tls;
pub mod wasm_plugin;

pub use memo::{translate_with_memo, TranslateMemo};

/// Hash maps of the per-translation tables and the memo: foldhash (seeded per process) is several times
/// cheaper than std's SipHash for their short string keys; nothing depends on their iteration order.
type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// See [`FastMap`].
type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
pub use options::InstanceOptions;

use std::collections::BTreeSet;

use oxigress_ir::Snapshot;
use oxigress_objects::{Diagnostic, ObjectKey, ObjectRef, Resources};
use serde::Serialize;

/// What one translation produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Translation {
    /// The IR the proxy serves.
    pub snapshot: Snapshot,
    /// Problems found, in the order they were found (deterministic).
    pub diagnostics: Vec<Diagnostic>,
}

/// Selects what this instance owns in `resources` and translates it to the IR.
pub fn translate(resources: &Resources, options: &InstanceOptions) -> Translation {
    translate_after(resources, options, None)
}

/// [`translate`], keeping from `previous` (the last good snapshot) the version of any plugin whose new
/// configuration is invalid, and the gateway settings when the gateway ConfigMap is invalid.
pub fn translate_after(resources: &Resources, options: &InstanceOptions, previous: Option<&Snapshot>) -> Translation {
    translate_with_memo(&mut TranslateMemo::default(), resources, options, previous, None)
}

/// The Ingresses that did not translate cleanly: some annotation of theirs had an invalid value
/// ([`annotations::INVALID_ANNOTATION`] diagnostics). The controller re-translates with their last clean
/// version in their place.
pub fn ingresses_with_invalid_annotations(diagnostics: &[Diagnostic]) -> BTreeSet<ObjectKey> {
    diagnostics
        .iter()
        .filter(|d| d.code == annotations::INVALID_ANNOTATION)
        .filter_map(|d| d.object.as_ref().filter(|o| o.kind == "Ingress").map(ObjectRef::key))
        .collect()
}
