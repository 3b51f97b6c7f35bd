//! [`TranslateMemo`]: incremental translation for a caller that translates snapshot after snapshot and
//! knows which objects changed in between (the manifest source records them: `SourceSnapshot::changes`).
//!
//! The expensive part of a translation is planning each Ingress ([`crate::plan`]): parsing annotations,
//! resolving Services to clusters with their endpoints, building routes. A plan is a function of the
//! Ingress, the instance options and the objects its reader read ([`Dep`]), nothing else. The memo keeps
//! every plan and, per object read, which plans read it. Given the objects that changed since the memo's
//! last translation, only the plans of changed Ingresses and of Ingresses that read a changed object are
//! made again; without that list (or with other options) every plan is. Replaying the plans and the
//! global steps (route order, conflicts, canaries, plugins, settings) runs in full every time, so the
//! result is exactly [`crate::translate_after`]'s whenever the list is complete.
//!
//! No global state: each memo belongs to its caller (one per controller).

use std::collections::BTreeSet;

use oxigress_ir::Snapshot;
use oxigress_objects::{ObjectKey, ObjectRef, Resources};

use crate::inputs::{Dep, Inputs};
use crate::plan::IngressPlan;
use crate::{assemble, ingress, ingresses_in_order, select, FastMap, FastSet, InstanceOptions, Translation};

/// What one translation leaves for the next; start with `TranslateMemo::default()`.
#[derive(Default)]
pub struct TranslateMemo {
    /// The options the plans were made for.
    options: Option<InstanceOptions>,
    /// The plan of every selected Ingress.
    plans: FastMap<ObjectKey, IngressPlan>,
    /// For every object some plan read, the Ingresses whose plans read it (usually one).
    readers: FastMap<Dep, Vec<ObjectKey>>,
}

impl TranslateMemo {
    /// How many Ingress plans the memo holds.
    pub fn len(&self) -> usize {
        self.plans.len()
    }

    /// Whether the memo holds no plan.
    pub fn is_empty(&self) -> bool {
        self.plans.is_empty()
    }

    fn remove(&mut self, key: &ObjectKey) {
        let Some(plan) = self.plans.remove(key) else { return };
        for dep in &plan.reads {
            if let Some(readers) = self.readers.get_mut(dep) {
                readers.retain(|k| k != key);
                if readers.is_empty() {
                    self.readers.remove(dep);
                }
            }
        }
    }

    fn insert(&mut self, key: &ObjectKey, plan: IngressPlan) {
        self.remove(key);
        for dep in &plan.reads {
            match self.readers.get_mut(dep) {
                Some(readers) => readers.push(key.clone()),
                None => {
                    self.readers.insert(dep.clone(), vec![key.clone()]);
                }
            }
        }
        self.plans.insert(key.clone(), plan);
    }

    /// The Ingresses whose plans `changed` objects make stale, and whether selection may have changed
    /// for Ingresses not in `changed` (an IngressClass changed).
    fn stale(&self, changed: &BTreeSet<ObjectRef>, inputs: &Inputs<'_>) -> (FastSet<ObjectKey>, bool) {
        let mut stale = FastSet::default();
        let mut classes_changed = false;
        let mut deps = Vec::new();
        for reference in changed {
            let key = reference.key();
            match reference.kind.as_str() {
                "Ingress" => {
                    stale.insert(key);
                }
                "IngressClass" => classes_changed = true,
                "Service" => deps.push(Dep::Service(key)),
                "Endpoints" => deps.push(Dep::Endpoints(key)),
                "Secret" => deps.push(Dep::Secret(key)),
                "EndpointSlice" => {
                    // Its Service group now, and (through the slice itself) the group it was read in.
                    if let Some(service) = inputs.slice_service(&key) {
                        deps.push(Dep::Slices(service));
                    }
                    deps.push(Dep::Slice(key));
                }
                // Plugins and the gateway ConfigMap are global steps, done every time.
                _ => {}
            }
        }
        for dep in &deps {
            stale.extend(self.readers.get(dep).into_iter().flatten().cloned());
        }
        (stale, classes_changed)
    }
}

/// [`crate::translate_after`], reusing from `memo` the plan of every Ingress whose inputs did not change
/// since the memo's last translation, and updating `memo` for the next one.
///
/// `changed` lists every object (any kind) that may differ from the objects of the memo's last
/// translation: added, changed or removed; more is harmless. `None` (not known) plans everything again.
/// The result equals `translate_after(resources, options, previous)` when `changed` is complete.
pub fn translate_with_memo(
    memo: &mut TranslateMemo,
    resources: &Resources,
    options: &InstanceOptions,
    previous: Option<&Snapshot>,
    changed: Option<&BTreeSet<ObjectRef>>,
) -> Translation {
    let inputs = Inputs::new(resources, options);
    let known = changed.filter(|_| memo.options.as_ref() == Some(options));
    let (stale, selection_changed) = match known {
        Some(changed) => memo.stale(changed, &inputs),
        None => {
            *memo = TranslateMemo { options: Some(options.clone()), ..TranslateMemo::default() };
            (FastSet::default(), false)
        }
    };
    let order = ingresses_in_order(resources, options);
    // Plans of Ingresses no longer selected: they changed, or an IngressClass did.
    let selected = |key: &ObjectKey| {
        resources.ingresses.get(key).is_some_and(|i| select::selects_ingress(i, resources, options))
    };
    if selection_changed {
        let keep: FastSet<&ObjectKey> = order.iter().map(|(k, _)| *k).collect();
        let gone: Vec<ObjectKey> = memo.plans.keys().filter(|k| !keep.contains(k)).cloned().collect();
        gone.iter().for_each(|k| memo.remove(k));
    } else {
        let gone: Vec<&ObjectKey> = stale.iter().filter(|k| !selected(k)).collect();
        gone.into_iter().for_each(|k| memo.remove(k));
    }
    for (key, ingress) in &order {
        if stale.contains(*key) || !memo.plans.contains_key(*key) {
            memo.insert(key, ingress::plan_ingress(ingress, &inputs));
        }
    }
    let plans = order.iter().filter_map(|(key, _)| memo.plans.get(*key));
    assemble(resources, options, previous, plans)
}
