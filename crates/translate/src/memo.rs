//! [`TranslateMemo`]: incremental translation for a caller that translates snapshot after snapshot.
//!
//! The expensive part of a translation is planning each Ingress ([`crate::plan`]): parsing annotations,
//! resolving Services to clusters with their endpoints, building routes. A plan is a function of the
//! Ingress, the instance options and the objects its reader read ([`Dep`]), nothing else — so the memo
//! keeps every plan with the Ingress it was made from, and a copy of every object some plan read. On the
//! next translation a plan is reused when its Ingress is equal and none of the objects it read changed
//! (compared in place); everything else is planned again. Replaying the plans and the global steps
//! (route order, conflicts, canaries, plugins, settings) runs in full every time, so the result is
//! exactly [`crate::translate_after`]'s.
//!
//! No global state: each memo belongs to its caller (one per controller), and the memo never changes
//! what a translation returns, only how long it takes.

use std::collections::{BTreeMap, BTreeSet};

use oxigress_ir::Snapshot;
use oxigress_objects::k8s_openapi::api::networking::v1::Ingress;
use oxigress_objects::{ObjectKey, Resources};

use crate::inputs::{Dep, DepValue, Inputs};
use crate::plan::IngressPlan;
use crate::{assemble, ingress, ingresses_in_order, InstanceOptions, Translation};

/// What one translation leaves for the next; start with `TranslateMemo::default()`.
#[derive(Default)]
pub struct TranslateMemo {
    /// The options the plans were made for (other options: nothing is reused).
    options: Option<InstanceOptions>,
    /// Per selected Ingress: the Ingress as it was planned, and its plan.
    plans: BTreeMap<ObjectKey, (Ingress, IngressPlan)>,
    /// Every object some plan read, with its value then and how many plans read it.
    deps: BTreeMap<Dep, (DepValue, usize)>,
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

    fn forget(&mut self, plan: &IngressPlan) {
        for dep in &plan.reads {
            if let Some((_, users)) = self.deps.get_mut(dep) {
                *users -= 1;
                if *users == 0 {
                    self.deps.remove(dep);
                }
            }
        }
    }

    fn remember(&mut self, plan: &IngressPlan, inputs: &Inputs<'_>) {
        for dep in &plan.reads {
            match self.deps.get_mut(dep) {
                Some((_, users)) => *users += 1,
                None => {
                    self.deps.insert(dep.clone(), (inputs.value(dep), 1));
                }
            }
        }
    }
}

/// [`crate::translate_after`], reusing from `memo` the plan of every Ingress whose inputs did not change
/// since the memo's last translation, and updating `memo` for the next one. The result is always equal
/// to `translate_after(resources, options, previous)`.
pub fn translate_with_memo(
    memo: &mut TranslateMemo,
    resources: &Resources,
    options: &InstanceOptions,
    previous: Option<&Snapshot>,
) -> Translation {
    if memo.options.as_ref() != Some(options) {
        *memo = TranslateMemo { options: Some(options.clone()), ..TranslateMemo::default() };
    }
    let inputs = Inputs::new(resources, options);
    // The objects that changed since they were read; their stored value becomes the current one.
    let mut changed = BTreeSet::new();
    for (dep, (value, _)) in memo.deps.iter_mut() {
        if !inputs.unchanged(dep, value) {
            *value = inputs.value(dep);
            changed.insert(dep.clone());
        }
    }
    let order = ingresses_in_order(resources, options);
    let selected: BTreeSet<&ObjectKey> = order.iter().map(|(k, _)| *k).collect();
    let gone: Vec<ObjectKey> = memo.plans.keys().filter(|k| !selected.contains(k)).cloned().collect();
    for key in gone {
        if let Some((_, plan)) = memo.plans.remove(&key) {
            memo.forget(&plan);
        }
    }
    for (key, ingress) in &order {
        let fresh = memo
            .plans
            .get(*key)
            .is_some_and(|(planned, plan)| planned == *ingress && plan.reads.iter().all(|d| !changed.contains(d)));
        if fresh {
            continue;
        }
        let plan = ingress::plan_ingress(ingress, &inputs);
        memo.remember(&plan, &inputs);
        if let Some((_, old)) = memo.plans.insert((*key).clone(), ((*ingress).clone(), plan)) {
            memo.forget(&old);
        }
    }
    let plans = order.iter().filter_map(|(key, _)| memo.plans.get(*key).map(|(_, plan)| plan));
    assemble(resources, options, previous, plans)
}
