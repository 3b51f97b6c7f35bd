//! [`TranslateMemo`]: incremental translation for a caller that translates snapshot after snapshot and
//! knows which objects changed in between (the manifest source records them: `SourceSnapshot::changes`).
//!
//! A translation has three layers, each kept by the memo and redone only where its inputs changed:
//!
//! 1. **plans** ([`crate::plan`]): one per selected Ingress — annotations parsed, Services resolved to
//!    clusters with their endpoints, routes built. A plan is a function of the Ingress, the instance
//!    options and the objects its reader read ([`Dep`]); the memo knows, per object read, which plans read
//!    it, so only the plans of changed Ingresses and of Ingresses reading a changed object are made again.
//! 2. **slots** ([`Slot`]): one host's routes, one cluster, one certificate, one SNI host's binding. A
//!    slot depends only on the plans that write it, in translation order; only the slots written by a
//!    plan made again (its old or its new version) are replayed. Finished hosts and clusters are kept as
//!    `Arc`s and shared with the previous snapshot, so the proxy can tell unchanged ones by pointer.
//! 3. **global steps**: plugins and gateway settings (cheap, redone every time; when the plugins change,
//!    every host is replayed to attach them), diagnostics merged in translation order.
//!
//! Without a list of changed objects (or with other options) the memo starts over; a full translation is
//! the same code with every slot dirty, so both give exactly [`crate::translate_after`]'s result whenever
//! the list is complete.
//!
//! The bookkeeping is kept cheap per Ingress, since a full translation does it for every one (10,000
//! Ingresses: `examples/full_translate.rs`): plans live in a slab and the per-object and per-slot lists
//! hold their ids, objects read are keyed by hash, the translation order is a sorted list of ids, and a
//! translation from scratch lists no dirty slot (all are).
//!
//! No global state: each memo belongs to its caller (one per controller).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use smallvec::SmallVec;

use oxigress_ir::{Certificate, CertificateId, Cluster, ClusterId, PluginInstance, Route, Snapshot, TlsHost, VirtualHost};
use oxigress_objects::k8s_openapi::api::networking::v1::Ingress;
use oxigress_objects::{ObjectKey, ObjectRef, Resources};

use crate::backend::ClusterSlot;
use crate::inputs::{Dep, Inputs, ReadHasher};
use crate::plan::{self, Emitted, IngressPlan, Slot};
use crate::routes::HostRoutes;
use crate::tls::{CertificateSlot, TlsHostSlot};
use crate::{annotations, gateway_config, ingress, select, wasm_plugin, FastMap, FastSet, InstanceOptions, Translation};

/// Where an Ingress goes in translation order: bases before canaries (canaries merge into the routes of
/// their base Ingress, so every base route must exist first), then Higress `SortIngressByCreationTime`:
/// creation time (none counts as oldest), ties broken by the text `name.namespace`, then by key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct OrderKey {
    canary: bool,
    created: Option<i64>,
    tie: String,
    key: ObjectKey,
}

impl OrderKey {
    fn of(key: &ObjectKey, ingress: &Ingress) -> Self {
        let name = ingress.metadata.name.as_deref().unwrap_or("");
        let namespace = ingress.metadata.namespace.as_deref().unwrap_or("");
        Self {
            canary: annotations::is_canary(ingress),
            created: ingress.metadata.creation_timestamp.as_ref().map(|t| t.0.as_second()),
            tie: format!("{name}.{namespace}"),
            key: key.clone(),
        }
    }
}

/// Where a plan is kept in [`TranslateMemo::plans`]; the per-object and per-slot lists hold these rather
/// than Ingress keys.
type PlanId = usize;

/// A selected Ingress' plan, its place in translation order and what it read.
struct Planned {
    plan: IngressPlan,
    /// Its place in translation order (with the Ingress' key).
    order: OrderKey,
    /// The hashes of the objects the plan read ([`TranslateMemo::readers`]).
    reads: Vec<u64>,
}

/// The slots one translation replays.
#[derive(Default)]
struct Dirty {
    /// Every slot some plan writes (a translation from scratch): then no slot is recorded.
    all: bool,
    /// The slots to replay, unless `all`.
    slots: FastSet<Slot>,
}

impl Dirty {
    /// Lists `slot` (copied only when it is not listed yet, and not at all when every slot is dirty).
    fn mark(&mut self, slot: &Slot) {
        if !self.all && !self.slots.contains(slot) {
            self.slots.insert(slot.clone());
        }
    }
}

/// What one translation leaves for the next; start with `TranslateMemo::default()`.
#[derive(Default)]
pub struct TranslateMemo {
    /// The options the plans were made for.
    options: Option<InstanceOptions>,
    /// Where the plan of every selected Ingress is.
    ids: FastMap<ObjectKey, PlanId>,
    /// The plans; a removed plan leaves a hole (`None`, listed in `free` once out of `order`).
    plans: Vec<Option<Planned>>,
    /// Holes in `plans` to reuse.
    free: Vec<PlanId>,
    /// The plans in translation order.
    order: Vec<PlanId>,
    /// Plans removed from `plans` but still in `order` (taken out once per translation).
    unordered: Vec<PlanId>,
    /// Plans added to `plans` but not yet to `order`.
    to_order: Vec<PlanId>,
    /// Hashes the objects plans read ([`Dep::hash`]); kept when the memo starts over.
    read_hasher: ReadHasher,
    /// For the hash of every object some plan read ([`Dep::hash`]), the plans that read it (usually one).
    readers: FastMap<u64, SmallVec<[PlanId; 1]>>,
    /// For every slot, the plans that write it (usually one).
    writers: FastMap<Slot, SmallVec<[PlanId; 1]>>,
    /// What replaying each plan's steps emitted, for plans that emitted something.
    emitted: FastMap<PlanId, Emitted>,
    /// The finished virtual hosts, plugins attached.
    hosts: BTreeMap<String, Arc<VirtualHost>>,
    /// Every cluster some plan registered, with its upstream policy.
    registered: FastMap<ClusterId, Arc<Cluster>>,
    /// How many route references (forward, canary, fallbacks, mirror) each cluster has in `hosts`.
    cluster_users: FastMap<ClusterId, usize>,
    /// The registered clusters some route uses (what the snapshot holds).
    clusters: BTreeMap<ClusterId, Arc<Cluster>>,
    /// Every certificate some plan registered, and whether some plan presents it to upstreams.
    registered_certificates: FastMap<CertificateId, (Certificate, bool)>,
    /// The finished SNI bindings.
    tls_hosts: BTreeMap<String, TlsHost>,
    /// How many SNI bindings in `tls_hosts` use each certificate.
    certificate_users: FastMap<CertificateId, usize>,
    /// The registered certificates some binding or upstream uses (what the snapshot holds).
    certificates: BTreeMap<CertificateId, Certificate>,
    /// The plugins `hosts` were attached with.
    plugins: Option<Vec<PluginInstance>>,
}

impl TranslateMemo {
    /// How many Ingress plans the memo holds.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the memo holds no plan.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The plan kept at `id`.
    fn planned(&self, id: PlanId) -> Option<&Planned> {
        self.plans.get(id).and_then(Option::as_ref)
    }

    /// Forgets the plan of `key`; the slots it wrote become dirty.
    fn remove(&mut self, key: &ObjectKey, dirty: &mut Dirty) {
        let Some(id) = self.ids.remove(key) else { return };
        let Some(planned) = self.plans.get_mut(id).and_then(Option::take) else { return };
        self.unordered.push(id);
        for read in &planned.reads {
            unlist(&mut self.readers, read, id);
        }
        for slot in &planned.plan.slots {
            unlist(&mut self.writers, slot, id);
            dirty.mark(slot);
        }
        self.emitted.remove(&id);
    }

    /// Keeps `plan` for `key`; the slots it writes become dirty.
    fn insert(&mut self, key: &ObjectKey, ingress: &Ingress, mut plan: IngressPlan, dirty: &mut Dirty) {
        self.remove(key, dirty);
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.plans.push(None);
                self.plans.len() - 1
            }
        };
        let reads = std::mem::take(&mut plan.reads);
        for read in &reads {
            self.readers.entry(*read).or_default().push(id);
        }
        for slot in &plan.slots {
            match self.writers.get_mut(slot) {
                Some(writers) => writers.push(id),
                None => {
                    self.writers.insert(slot.clone(), smallvec::smallvec![id]);
                }
            }
            dirty.mark(slot);
        }
        self.ids.insert(key.clone(), id);
        self.plans[id] = Some(Planned { plan, order: OrderKey::of(key, ingress), reads });
        self.to_order.push(id);
    }

    /// Brings `order` up to date with the plans removed and added since the last call.
    fn reorder(&mut self) {
        /// Up to this many added plans are inserted one by one; more, and the order is sorted again.
        const INSERTS: usize = 64;
        if !self.unordered.is_empty() {
            let gone: FastSet<PlanId> = self.unordered.iter().copied().collect();
            self.order.retain(|id| !gone.contains(id));
            self.free.append(&mut self.unordered);
        }
        let plans = &self.plans;
        let order_of = |id: &PlanId| plans.get(*id).and_then(Option::as_ref).map(|p| &p.order);
        if self.to_order.len() > INSERTS {
            self.order.append(&mut self.to_order);
            self.order.sort_unstable_by(|a, b| order_of(a).cmp(&order_of(b)));
        } else {
            for id in self.to_order.drain(..) {
                let at = self.order.partition_point(|other| order_of(other) < order_of(&id));
                self.order.insert(at, id);
            }
        }
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
                "Service" => deps.push((Dep::Service, key)),
                "Endpoints" => deps.push((Dep::Endpoints, key)),
                "Secret" => deps.push((Dep::Secret, key)),
                "EndpointSlice" => {
                    // Its Service group now, and (through the slice itself) the group it was read in.
                    if let Some(service) = inputs.slice_service(&key) {
                        deps.push((Dep::Slices, service));
                    }
                    deps.push((Dep::Slice, key));
                }
                // Plugins and the gateway ConfigMap are global steps, done every time.
                _ => {}
            }
        }
        for (dep, key) in &deps {
            let read = dep.hash(&self.read_hasher, &key.namespace, &key.name);
            let readers = self.readers.get(&read).into_iter().flatten();
            stale.extend(readers.filter_map(|id| self.planned(*id)).map(|p| p.order.key.clone()));
        }
        (stale, classes_changed)
    }

    /// Replays every dirty slot from the plans writing it.
    fn replay(&mut self, dirty: Dirty, plugins: &[PluginInstance], instance_namespace: &str) {
        let mut emitted = std::mem::take(&mut self.emitted);
        // The clusters whose registration or use changed (not listed when every slot is dirty).
        let mut used_changed: Vec<ClusterId> = Vec::new();
        let all = dirty.all;
        let mut certificates_changed: Vec<CertificateId> = Vec::new();
        // Sorted, so that `hosts` and `clusters` are updated in key order.
        let mut slots: Vec<&Slot> = if dirty.all { self.writers.keys().collect() } else { dirty.slots.iter().collect() };
        slots.sort_unstable();
        for slot in slots {
            match slot {
                Slot::Host(host) => {
                    let mut routes = HostRoutes::default();
                    for (id, plan) in writers_in_order(&self.writers, &self.plans, slot) {
                        with_emitted(&mut emitted, id, |e| plan::replay_host(plan, host, &mut routes, e));
                    }
                    let finished = routes.finish(host).map(|mut vhost| {
                        wasm_plugin::attach(plugins, std::slice::from_mut(&mut vhost), instance_namespace);
                        vhost
                    });
                    let old = self.hosts.get(host);
                    if old.map(|o| &**o) == finished.as_ref() {
                        continue;
                    }
                    for cluster in old.iter().flat_map(|o| used_clusters(o)) {
                        count_down(&mut self.cluster_users, cluster);
                        if !all {
                            used_changed.push(cluster.clone());
                        }
                    }
                    for cluster in finished.iter().flat_map(used_clusters) {
                        count_up(&mut self.cluster_users, cluster);
                        if !all {
                            used_changed.push(cluster.clone());
                        }
                    }
                    match finished {
                        Some(vhost) => self.hosts.insert(host.clone(), Arc::new(vhost)),
                        None => self.hosts.remove(host),
                    };
                }
                Slot::Cluster(id) => {
                    let mut cluster = ClusterSlot::default();
                    for (plan_id, plan) in writers_in_order(&self.writers, &self.plans, slot) {
                        with_emitted(&mut emitted, plan_id, |e| plan::replay_cluster(plan, id, &mut cluster, e));
                    }
                    match cluster.finish() {
                        Some(c) if self.registered.get(id).is_some_and(|old| **old == c) => {}
                        Some(c) => {
                            self.registered.insert(id.clone(), Arc::new(c));
                        }
                        None => {
                            self.registered.remove(id);
                        }
                    }
                    if !all {
                        used_changed.push(id.clone());
                    }
                }
                Slot::Certificate(id) => {
                    let mut certificate = CertificateSlot::default();
                    for (_, plan) in writers_in_order(&self.writers, &self.plans, slot) {
                        plan::replay_certificate(plan, id, &mut certificate);
                    }
                    match certificate.finish() {
                        Some(c) => self.registered_certificates.insert(id.clone(), c),
                        None => self.registered_certificates.remove(id),
                    };
                    certificates_changed.push(id.clone());
                }
                Slot::TlsHost(host) => {
                    let mut binding = TlsHostSlot::default();
                    for (id, plan) in writers_in_order(&self.writers, &self.plans, slot) {
                        with_emitted(&mut emitted, id, |e| plan::replay_tls_host(plan, host, &mut binding, e));
                    }
                    let finished = binding.finish();
                    let old = self.tls_hosts.get(host);
                    if old == finished.as_ref() {
                        continue;
                    }
                    if let Some(old) = old {
                        count_down(&mut self.certificate_users, &old.certificate);
                        certificates_changed.push(old.certificate.clone());
                    }
                    match finished {
                        Some(tls_host) => {
                            count_up(&mut self.certificate_users, &tls_host.certificate);
                            certificates_changed.push(tls_host.certificate.clone());
                            self.tls_hosts.insert(host.clone(), tls_host);
                        }
                        None => {
                            self.tls_hosts.remove(host);
                        }
                    }
                }
            }
        }
        self.emitted = emitted;
        certificates_changed.sort_unstable();
        certificates_changed.dedup();
        // why: a certificate whose every host went to an older Ingress (DuplicatedTls) serves nothing.
        for id in certificates_changed {
            let used = |upstream: &bool| *upstream || self.certificate_users.contains_key(&id);
            match self.registered_certificates.get(&id).filter(|(_, upstream)| used(upstream)) {
                Some((certificate, _)) if self.certificates.get(&id) == Some(certificate) => {}
                Some((certificate, _)) => {
                    self.certificates.insert(id, certificate.clone());
                }
                None => {
                    self.certificates.remove(&id);
                }
            }
        }
        // why: a route dropped after its backend was resolved (a duplicate) leaves its cluster unused.
        if all {
            let used = self.registered.iter().filter(|(id, _)| self.cluster_users.contains_key(*id));
            self.clusters = used.map(|(id, cluster)| (id.clone(), cluster.clone())).collect();
        } else {
            used_changed.sort_unstable();
            used_changed.dedup();
            for id in used_changed {
                match self.registered.get(&id).filter(|_| self.cluster_users.contains_key(&id)) {
                    Some(cluster) if self.clusters.get(&id).is_some_and(|c| Arc::ptr_eq(c, cluster)) => {}
                    Some(cluster) => {
                        self.clusters.insert(id, cluster.clone());
                    }
                    None => {
                        self.clusters.remove(&id);
                    }
                }
            }
        }
    }
}

/// The plans writing `slot`, in translation order.
fn writers_in_order<'m>(
    writers: &'m FastMap<Slot, SmallVec<[PlanId; 1]>>,
    plans: &'m [Option<Planned>],
    slot: &Slot,
) -> SmallVec<[(PlanId, &'m IngressPlan); 1]> {
    let ids = writers.get(slot).map_or(&[][..], SmallVec::as_slice);
    let mut found: SmallVec<[(PlanId, &Planned); 1]> =
        ids.iter().filter_map(|id| plans.get(*id).and_then(Option::as_ref).map(|p| (*id, p))).collect();
    if found.len() > 1 {
        found.sort_unstable_by(|a, b| a.1.order.cmp(&b.1.order));
    }
    found.into_iter().map(|(id, planned)| (id, &planned.plan)).collect()
}

/// Runs `replay` on what `key`'s plan emitted so far, keeping an entry only while it holds something
/// (most plans never emit anything).
fn with_emitted(emitted: &mut FastMap<PlanId, Emitted>, id: PlanId, replay: impl FnOnce(&mut Emitted)) {
    match emitted.get_mut(&id) {
        Some(entry) => {
            replay(entry);
            if entry.is_empty() {
                emitted.remove(&id);
            }
        }
        None => {
            let mut entry = Emitted::new();
            replay(&mut entry);
            if !entry.is_empty() {
                emitted.insert(id, entry);
            }
        }
    }
}

/// Counts one more user of `id` (the id copied only for its first user).
fn count_up(users: &mut FastMap<String, usize>, id: &str) {
    match users.get_mut(id) {
        Some(count) => *count += 1,
        None => {
            users.insert(id.to_string(), 1);
        }
    }
}

/// Counts one user of `id` fewer, forgetting `id` at none.
fn count_down(users: &mut FastMap<String, usize>, id: &str) {
    if let Some(count) = users.get_mut(id) {
        *count -= 1;
        if *count == 0 {
            users.remove(id);
        }
    }
}

/// Removes plan `id` from the list of `item` (and the list when it is empty).
fn unlist<K: std::hash::Hash + Eq>(lists: &mut FastMap<K, SmallVec<[PlanId; 1]>>, item: &K, id: PlanId) {
    if let Some(list) = lists.get_mut(item) {
        list.retain(|other| *other != id);
        if list.is_empty() {
            lists.remove(item);
        }
    }
}

/// Every cluster reference of a host's routes (one per use).
fn used_clusters(vhost: &VirtualHost) -> impl Iterator<Item = &ClusterId> {
    vhost.routes.iter().flat_map(Route::clusters)
}

/// [`crate::translate_after`], reusing from `memo` the plan of every Ingress whose inputs did not change
/// since the memo's last translation and every host and cluster no changed plan writes, and updating
/// `memo` for the next one.
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
    let inputs = Inputs::new(resources, options, memo.read_hasher.clone());
    let known = changed.filter(|_| memo.options.as_ref() == Some(options));
    let mut dirty = Dirty::default();
    let (stale, reselect) = match known {
        Some(changed) => memo.stale(changed, &inputs),
        None => {
            let read_hasher = std::mem::take(&mut memo.read_hasher);
            *memo = TranslateMemo { options: Some(options.clone()), read_hasher, ..TranslateMemo::default() };
            // From scratch: every slot is replayed, none needs to be listed.
            dirty.all = true;
            (FastSet::default(), true)
        }
    };
    for key in &stale {
        memo.remove(key, &mut dirty);
    }
    let to_plan: Vec<(&ObjectKey, &Ingress)> = if reselect {
        // Selection may have changed for any Ingress: keep the plans of those still selected.
        let now: Vec<(&ObjectKey, &Ingress)> =
            resources.ingresses.iter().filter(|(_, i)| select::selects_ingress(i, resources, options)).collect();
        let keep: FastSet<&ObjectKey> = now.iter().map(|(k, _)| *k).collect();
        let gone: Vec<ObjectKey> = memo.ids.keys().filter(|k| !keep.contains(k)).cloned().collect();
        for key in &gone {
            memo.remove(key, &mut dirty);
        }
        now.into_iter().filter(|(k, _)| !memo.ids.contains_key(*k)).collect()
    } else {
        let selected = |(_, ingress): &(&ObjectKey, &Ingress)| select::selects_ingress(ingress, resources, options);
        stale.iter().filter_map(|key| resources.ingresses.get_key_value(key)).filter(selected).collect()
    };
    memo.ids.reserve(to_plan.len());
    memo.plans.reserve(to_plan.len().saturating_sub(memo.free.len()));
    for (key, ingress) in to_plan {
        let plan = ingress::plan_ingress(ingress, &inputs);
        memo.insert(key, ingress, plan, &mut dirty);
    }
    memo.reorder();
    let mut global_diagnostics = Vec::new();
    let plugins = wasm_plugin::plugins(resources, options, previous, &mut global_diagnostics);
    let settings = gateway_config::settings(resources, options, previous, &mut global_diagnostics);
    if memo.plugins.as_ref() != Some(&plugins) {
        // Plugins are attached to every route: every host again.
        if !dirty.all {
            dirty.slots.extend(memo.writers.keys().filter(|s| matches!(s, Slot::Host(_))).cloned());
        }
        memo.plugins = Some(plugins.clone());
    }
    memo.replay(dirty, &plugins, &options.instance_namespace);
    let mut diagnostics = Vec::new();
    for id in &memo.order {
        let Some(planned) = memo.planned(*id) else { continue };
        let emitted = memo.emitted.get(id);
        if planned.plan.has_diagnostics() || emitted.is_some() {
            plan::diagnostics_of(&planned.plan, emitted, &mut diagnostics);
        }
    }
    diagnostics.extend(global_diagnostics);
    let snapshot = Snapshot {
        instance: options.instance_name.clone(),
        virtual_hosts: memo.hosts.values().cloned().collect(),
        clusters: memo.clusters.clone(),
        certificates: memo.certificates.clone(),
        tls_hosts: memo.tls_hosts.values().cloned().collect(),
        plugins,
        settings,
    };
    Translation { snapshot, diagnostics }
}
