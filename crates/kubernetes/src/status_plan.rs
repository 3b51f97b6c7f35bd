//! Which Ingress status writes one instance should make: the pure half of the status writer.
//!
//! Given every Ingress the source holds, the instance's options and the gateway's addresses:
//! - an Ingress the instance **owns** ([`selects_ingress`]: class, watched namespaces, instance label)
//!   gets our addresses; entries of other gateways are kept, so two instances that both own an Ingress
//!   converge on the union instead of overwriting each other (Higress writes exactly its own list);
//!   with no addresses yet, owned Ingresses are left alone (as Higress);
//! - an Ingress it does **not** own loses exactly our entries, if it has any (an Ingress that moved to
//!   another class is cleared; Higress never clears);
//! - an Ingress of a namespace the instance does not watch is never touched.
//!
//! "Our entries" are the current addresses plus any the instance published before (`previous`), so a
//! changed load balancer address replaces the old one instead of accumulating.

use std::collections::BTreeSet;

use k8s_openapi::api::networking::v1::{Ingress, IngressLoadBalancerIngress};
use oxigress_objects::{ObjectKey, Resources};
use oxigress_translate::select::selects_ingress;
use oxigress_translate::InstanceOptions;

use crate::addresses::{address_key, AddressKey};

/// One status write: set `status.loadBalancer.ingress` of `ingress` to `entries`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    /// The Ingress.
    pub ingress: ObjectKey,
    /// The resourceVersion the plan was made from: the write is conditional on it.
    pub resource_version: Option<String>,
    /// The new entries (empty: remove the list).
    pub entries: Vec<IngressLoadBalancerIngress>,
    /// Whether the instance owns the Ingress (adding ours) or not (removing ours).
    pub owned: bool,
}

/// Why an Ingress needs no write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Its namespace is not watched by this instance.
    NamespaceNotWatched,
    /// Owned, but the gateway has no addresses yet.
    NoAddresses,
    /// Owned, and its status already lists our addresses (and no stale ones of ours).
    UpToDate,
    /// Not owned, and its status has none of our addresses.
    NotOwned,
}

/// The writes to make and the Ingresses skipped, each with why.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusPlan {
    /// Writes, in Ingress key order.
    pub updates: Vec<StatusUpdate>,
    /// Ingresses left alone.
    pub skipped: Vec<(ObjectKey, Skip)>,
}

/// Plans the status writes for every Ingress in `resources` (see the module documentation).
pub fn plan_status(
    resources: &Resources,
    options: &InstanceOptions,
    addresses: &[IngressLoadBalancerIngress],
    previous: &BTreeSet<AddressKey>,
) -> StatusPlan {
    let current: BTreeSet<AddressKey> = addresses.iter().map(address_key).collect();
    let ours = |key: &AddressKey| current.contains(key) || previous.contains(key);
    let mut plan = StatusPlan::default();
    for (key, ingress) in &resources.ingresses {
        let entries = status_entries(ingress);
        let others: Vec<IngressLoadBalancerIngress> =
            entries.iter().filter(|e| !ours(&address_key(e))).cloned().collect();
        let owned = selects_ingress(ingress, resources, options);
        let wanted = if !options.watches(&key.namespace) {
            Err(Skip::NamespaceNotWatched)
        } else if owned && addresses.is_empty() {
            Err(Skip::NoAddresses)
        } else if owned {
            Ok(sorted(others.into_iter().chain(addresses.iter().cloned()).collect()))
        } else if others.len() == entries.len() {
            Err(Skip::NotOwned)
        } else {
            Ok(others)
        };
        match wanted {
            Ok(wanted) if !same_keys(&wanted, entries) => plan.updates.push(StatusUpdate {
                ingress: key.clone(),
                resource_version: ingress.metadata.resource_version.clone(),
                entries: wanted,
                owned,
            }),
            Ok(_) => plan.skipped.push((key.clone(), Skip::UpToDate)),
            Err(skip) => plan.skipped.push((key.clone(), skip)),
        }
    }
    plan
}

/// `status.loadBalancer.ingress` of `ingress` (empty when absent).
pub fn status_entries(ingress: &Ingress) -> &[IngressLoadBalancerIngress] {
    ingress
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_deref())
        .unwrap_or_default()
}

/// Sorted by `(ip, hostname)`, one entry per key (the first kept).
fn sorted(mut entries: Vec<IngressLoadBalancerIngress>) -> Vec<IngressLoadBalancerIngress> {
    entries.sort_by_key(address_key);
    entries.dedup_by_key(|e| address_key(e));
    entries
}

/// Whether two entry lists name the same addresses, ignoring order and ports.
fn same_keys(a: &[IngressLoadBalancerIngress], b: &[IngressLoadBalancerIngress]) -> bool {
    let keys = |l: &[IngressLoadBalancerIngress]| {
        let mut k: Vec<AddressKey> = l.iter().map(address_key).collect();
        k.sort();
        k
    };
    keys(a) == keys(b)
}

#[cfg(test)]
mod tests;
