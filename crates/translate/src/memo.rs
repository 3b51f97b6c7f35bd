//! [`TranslateMemo`]: incremental translation for a caller that translates snapshot after snapshot and
//! knows which objects changed in between (the manifest source records them: `SourceSnapshot::changes`).
//!
//! A translation has three layers, each kept by the memo and redone only where its inputs changed:
//!
//! 1. **plans** ([`crate::plan`]): one per selected Ingress — annotations parsed, Services resolved to
//!    clusters with their endpoints, routes built. A plan is a function of the Ingress, the instance
//!    options and the objects its reader read ([`Dep`]); the memo knows, per object read, which plans read
//!    it, so only the plans of changed Ingresses and of Ingresses reading a changed object are made again.
//! 2. **slots** ([`Slot`]): one host's routes, one cluster, the TLS table. A slot depends only on the
//!    plans that write it, in translation order; only the slots written by a plan made again (its old or
//!    its new version) are replayed. Finished hosts and clusters are kept as `Arc`s and shared with the
//!    previous snapshot, so the proxy can tell unchanged ones by pointer.
//! 3. **global steps**: plugins and gateway settings (cheap, redone every time; when the plugins change,
//!    every host is replayed to attach them), diagnostics merged in translation order.
//!
//! Without a list of changed objects (or with other options) the memo starts over; a full translation is
//! the same code with every slot dirty, so both give exactly [`crate::translate_after`]'s result whenever
//! the list is complete.
//!
//! No global state: each memo belongs to its caller (one per controller).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use smallvec::SmallVec;

use oxigress_ir::{Certificate, CertificateId, Cluster, ClusterId, PluginInstance, Route, Snapshot, TlsHost, VirtualHost};
use oxigress_objects::k8s_openapi::api::networking::v1::Ingress;
use oxigress_objects::{ObjectKey, ObjectRef, Resources};

use crate::backend::ClusterSlot;
use crate::inputs::{Dep, Inputs};
use crate::plan::{self, Emitted, IngressPlan, Slot};
use crate::routes::HostRoutes;
use crate::tls::TlsTable;
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

/// A selected Ingress' plan and its place in translation order.
struct Planned {
    plan: IngressPlan,
    order: OrderKey,
}

/// What one translation leaves for the next; start with `TranslateMemo::default()`.
#[derive(Default)]
pub struct TranslateMemo {
    /// The options the plans were made for.
    options: Option<InstanceOptions>,
    /// The plan of every selected Ingress.
    plans: FastMap<ObjectKey, Planned>,
    /// The selected Ingresses in translation order.
    order: BTreeSet<OrderKey>,
    /// For every object some plan read, the Ingresses whose plans read it (usually one).
    readers: FastMap<Dep, Vec<ObjectKey>>,
    /// For every slot, the Ingresses whose plans write it (usually one).
    writers: FastMap<Slot, Vec<ObjectKey>>,
    /// What replaying each plan's steps emitted.
    emitted: FastMap<ObjectKey, Emitted>,
    /// The finished virtual hosts, plugins attached.
    hosts: BTreeMap<String, Arc<VirtualHost>>,
    /// Every cluster some plan registered, with its upstream policy.
    registered: FastMap<ClusterId, Arc<Cluster>>,
    /// How many route references (forward, canary, fallbacks, mirror) each cluster has in `hosts`.
    cluster_users: FastMap<ClusterId, usize>,
    /// The registered clusters some route uses (what the snapshot holds).
    clusters: BTreeMap<ClusterId, Arc<Cluster>>,
    /// The finished TLS table.
    certificates: BTreeMap<CertificateId, Certificate>,
    tls_hosts: Vec<TlsHost>,
    /// The plugins `hosts` were attached with.
    plugins: Option<Vec<PluginInstance>>,
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

    /// Forgets the plan of `key`; the slots it wrote become dirty.
    fn remove(&mut self, key: &ObjectKey, dirty: &mut FastSet<Slot>) {
        let Some(planned) = self.plans.remove(key) else { return };
        self.order.remove(&planned.order);
        for dep in &planned.plan.reads {
            unlist(&mut self.readers, dep, key);
        }
        for slot in &planned.plan.slots {
            unlist(&mut self.writers, slot, key);
            dirty.insert(slot.clone());
        }
        self.emitted.remove(key);
    }

    /// Keeps `plan` for `key`; the slots it writes become dirty.
    fn insert(&mut self, key: &ObjectKey, ingress: &Ingress, plan: IngressPlan, dirty: &mut FastSet<Slot>) {
        self.remove(key, dirty);
        for dep in &plan.reads {
            self.readers.entry(dep.clone()).or_default().push(key.clone());
        }
        for slot in &plan.slots {
            self.writers.entry(slot.clone()).or_default().push(key.clone());
            dirty.insert(slot.clone());
        }
        let order = OrderKey::of(key, ingress);
        self.order.insert(order.clone());
        self.plans.insert(key.clone(), Planned { plan, order });
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

    /// The plans writing `slot`, in translation order.
    fn writers_in_order(&self, slot: &Slot) -> SmallVec<[(&ObjectKey, &IngressPlan); 1]> {
        let keys = self.writers.get(slot).map_or(&[][..], Vec::as_slice);
        let mut writers: SmallVec<[(&ObjectKey, &Planned); 1]> =
            keys.iter().filter_map(|key| self.plans.get_key_value(key)).collect();
        if writers.len() > 1 {
            writers.sort_unstable_by(|a, b| a.1.order.cmp(&b.1.order));
        }
        writers.into_iter().map(|(key, planned)| (key, &planned.plan)).collect()
    }

    /// Replays every dirty slot from the plans writing it.
    fn replay(&mut self, dirty: &FastSet<Slot>, plugins: &[PluginInstance], instance_namespace: &str) {
        let mut emitted = std::mem::take(&mut self.emitted);
        let mut used_changed: BTreeSet<ClusterId> = BTreeSet::new();
        let mut tls_dirty = false;
        for slot in dirty {
            match slot {
                Slot::Host(host) => {
                    let mut routes = HostRoutes::default();
                    for (key, plan) in self.writers_in_order(slot) {
                        with_emitted(&mut emitted, key, |e| plan::replay_host(plan, host, &mut routes, e));
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
                        if let Some(users) = self.cluster_users.get_mut(cluster) {
                            *users -= 1;
                            if *users == 0 {
                                self.cluster_users.remove(cluster);
                            }
                        }
                        used_changed.insert(cluster.clone());
                    }
                    for cluster in finished.iter().flat_map(used_clusters) {
                        *self.cluster_users.entry(cluster.clone()).or_default() += 1;
                        used_changed.insert(cluster.clone());
                    }
                    match finished {
                        Some(vhost) => self.hosts.insert(host.clone(), Arc::new(vhost)),
                        None => self.hosts.remove(host),
                    };
                }
                Slot::Cluster(id) => {
                    let mut cluster = ClusterSlot::default();
                    for (key, plan) in self.writers_in_order(slot) {
                        with_emitted(&mut emitted, key, |e| plan::replay_cluster(plan, id, &mut cluster, e));
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
                    used_changed.insert(id.clone());
                }
                Slot::Tls => tls_dirty = true,
            }
        }
        if tls_dirty {
            let mut tls = TlsTable::default();
            for (key, plan) in self.writers_in_order(&Slot::Tls) {
                with_emitted(&mut emitted, key, |e| plan::replay_tls(plan, &mut tls, e));
            }
            (self.certificates, self.tls_hosts) = tls.finish();
        }
        self.emitted = emitted;
        // why: a route dropped after its backend was resolved (a duplicate) leaves its cluster unused.
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

/// Runs `replay` on what `key`'s plan emitted so far, keeping an entry only while it holds something
/// (most plans never emit anything).
fn with_emitted(emitted: &mut FastMap<ObjectKey, Emitted>, key: &ObjectKey, replay: impl FnOnce(&mut Emitted)) {
    match emitted.get_mut(key) {
        Some(entry) => {
            replay(entry);
            if entry.is_empty() {
                emitted.remove(key);
            }
        }
        None => {
            let mut entry = Emitted::new();
            replay(&mut entry);
            if !entry.is_empty() {
                emitted.insert(key.clone(), entry);
            }
        }
    }
}

/// Removes `key` from the list of `item` (and the list when it is empty).
fn unlist<K: std::hash::Hash + Eq>(lists: &mut FastMap<K, Vec<ObjectKey>>, item: &K, key: &ObjectKey) {
    if let Some(list) = lists.get_mut(item) {
        list.retain(|k| k != key);
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
    let inputs = Inputs::new(resources, options);
    let known = changed.filter(|_| memo.options.as_ref() == Some(options));
    let (stale, reselect) = match known {
        Some(changed) => memo.stale(changed, &inputs),
        None => {
            *memo = TranslateMemo { options: Some(options.clone()), ..TranslateMemo::default() };
            (FastSet::default(), true)
        }
    };
    let mut dirty = FastSet::default();
    for key in &stale {
        memo.remove(key, &mut dirty);
    }
    let to_plan: Vec<(&ObjectKey, &Ingress)> = if reselect {
        // Selection may have changed for any Ingress: keep the plans of those still selected.
        let now: Vec<(&ObjectKey, &Ingress)> =
            resources.ingresses.iter().filter(|(_, i)| select::selects_ingress(i, resources, options)).collect();
        let keep: FastSet<&ObjectKey> = now.iter().map(|(k, _)| *k).collect();
        let gone: Vec<ObjectKey> = memo.plans.keys().filter(|k| !keep.contains(k)).cloned().collect();
        for key in &gone {
            memo.remove(key, &mut dirty);
        }
        now.into_iter().filter(|(k, _)| !memo.plans.contains_key(*k)).collect()
    } else {
        let selected = |(_, ingress): &(&ObjectKey, &Ingress)| select::selects_ingress(ingress, resources, options);
        stale.iter().filter_map(|key| resources.ingresses.get_key_value(key)).filter(selected).collect()
    };
    for (key, ingress) in to_plan {
        let plan = ingress::plan_ingress(ingress, &inputs);
        memo.insert(key, ingress, plan, &mut dirty);
    }
    let mut global_diagnostics = Vec::new();
    let plugins = wasm_plugin::plugins(resources, options, previous, &mut global_diagnostics);
    let settings = gateway_config::settings(resources, options, previous, &mut global_diagnostics);
    if memo.plugins.as_ref() != Some(&plugins) {
        // Plugins are attached to every route: every host again.
        dirty.extend(memo.writers.keys().filter(|s| matches!(s, Slot::Host(_))).cloned());
        memo.plugins = Some(plugins.clone());
    }
    memo.replay(&dirty, &plugins, &options.instance_namespace);
    let mut diagnostics = Vec::new();
    for order in &memo.order {
        let Some(planned) = memo.plans.get(&order.key) else { continue };
        let emitted = memo.emitted.get(&order.key);
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
        tls_hosts: memo.tls_hosts.clone(),
        plugins,
        settings,
    };
    Translation { snapshot, diagnostics }
}
