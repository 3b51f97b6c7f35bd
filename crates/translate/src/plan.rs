//! One Ingress' translation in two halves, so it can be cached ([`crate::TranslateMemo`]):
//!
//! - the **plan** ([`IngressPlan`], built by `ingress::plan_ingress`) is everything that depends only on
//!   the Ingress, the instance options and the objects its [`Reader`] read: annotations parsed, backends
//!   resolved to clusters, routes built with their conflict keys, certificates read — as a list of
//!   [`Step`]s, each marked with how many of the plan's own diagnostics came before it;
//! - the **replay** applies those steps, in Ingress order, to the tables Ingresses share. Every table is
//!   split into [`Slot`]s that steps write independently — one host's routes (first route per conflict
//!   key, canary merging, default backends), one cluster (first registration, first upstream policy), one
//!   certificate (first registration, whether upstreams use it), one SNI host (first binding) — so a slot
//!   is replayed on its own from the plans that write it ([`replay_host`], [`replay_cluster`],
//!   [`replay_certificate`], [`replay_tls_host`]), and a slot no changed plan writes is not replayed at
//!   all. The diagnostics a replay emits are kept per plan, step and part ([`Emitted`]) and merged with
//!   the plan's own ones in the order a single pass emits them ([`diagnostics_of`]).

use std::collections::{BTreeMap, BTreeSet};

use oxigress_ir::{Certificate, CertificateId, Cluster, ClusterId, RouteAction, TlsHost, UpstreamPolicy, WeightedCanary};
use oxigress_objects::{Diagnostic, ObjectRef};

use crate::annotations::Canary;
use crate::backend::ClusterSlot;
use crate::inputs::{Inputs, Reader};
use crate::routes::{HostRoutes, PendingRoute, RouteClass};
use crate::tls::{CertificateSlot, TlsHostSlot};

/// A part of the shared tables that steps write independently of every other part.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Slot {
    /// One virtual host's routes.
    Host(String),
    /// One cluster.
    Cluster(ClusterId),
    /// One certificate (by id), registered from a Secret.
    Certificate(CertificateId),
    /// One SNI host's binding.
    TlsHost(String),
}

/// The diagnostics a plan's steps emitted when replayed, by (step index, part of the step): a default
/// backend writes one part per host, an upstream policy one per cluster, other steps one.
pub(crate) type Emitted = BTreeMap<(usize, usize), Vec<Diagnostic>>;

/// One effect of an Ingress on the shared tables.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// A cluster the Ingress uses (the first registration of an id wins).
    Cluster(Cluster),
    /// A route under a conflict key (the first Ingress to take a key wins).
    Route {
        /// Virtual host.
        host: String,
        /// Conflict key.
        key: String,
        /// The route.
        pending: PendingRoute,
    },
    /// A canary route, merged into the base route with the same conflict key (dropped without one).
    Canary {
        /// Virtual host.
        host: String,
        /// Conflict key of the base route.
        key: String,
        /// Canary conditions.
        canary: Canary,
        /// The canary's own route (its cluster, id, name and policy are used).
        pending: PendingRoute,
    },
    /// `spec.defaultBackend`: one route on `*` and on every rule host without the Ingress' own catch-all.
    DefaultBackend {
        /// `(host, conflict key)` of every candidate host, sorted by host (`*` included).
        hosts: Vec<(String, String)>,
        /// The route (the same on every host).
        pending: PendingRoute,
    },
    /// The Ingress' upstream policy for the clusters of its own backends.
    Upstream {
        /// The clusters.
        clusters: BTreeSet<ClusterId>,
        /// The policy.
        policy: UpstreamPolicy,
    },
    /// A certificate read from a Secret.
    Certificate(Certificate),
    /// A certificate presented to upstreams (kept even without an SNI host).
    UpstreamCertificate(CertificateId),
    /// An SNI binding (the first Ingress to bind a host wins).
    Bind(TlsHost),
}

/// The cacheable half of one Ingress' translation.
#[derive(Debug, Clone)]
pub(crate) struct IngressPlan {
    /// The Ingress.
    pub owner: ObjectRef,
    /// Diagnostics that depend on nothing but the plan's inputs.
    diagnostics: Vec<Diagnostic>,
    /// Effects, each with the number of `diagnostics` emitted before it.
    steps: Vec<(usize, Step)>,
    /// The objects read while planning, by hash ([`crate::inputs::Dep::hash`]), each once.
    pub reads: Vec<u64>,
    /// The slots the steps write, each once.
    pub slots: Vec<Slot>,
}

impl IngressPlan {
    /// Whether planning reported anything.
    pub fn has_diagnostics(&self) -> bool {
        !self.diagnostics.is_empty()
    }
}

impl Step {
    /// The slots this step writes, one per part, in part order.
    fn slots(&self) -> Vec<Slot> {
        match self {
            Step::Cluster(cluster) => vec![Slot::Cluster(cluster.id.clone())],
            Step::Route { host, .. } | Step::Canary { host, .. } => vec![Slot::Host(host.clone())],
            Step::DefaultBackend { hosts, .. } => hosts.iter().map(|(host, _)| Slot::Host(host.clone())).collect(),
            Step::Upstream { clusters, .. } => clusters.iter().map(|id| Slot::Cluster(id.clone())).collect(),
            Step::Certificate(certificate) => vec![Slot::Certificate(certificate.id.clone())],
            Step::UpstreamCertificate(id) => vec![Slot::Certificate(id.clone())],
            Step::Bind(tls_host) => vec![Slot::TlsHost(tls_host.host.clone())],
        }
    }
}

/// Builds an [`IngressPlan`].
pub(crate) struct PlanBuilder<'i, 'a> {
    /// Object lookups (recorded).
    pub reader: Reader<'i, 'a>,
    /// Diagnostics so far.
    pub diagnostics: Vec<Diagnostic>,
    /// The Ingress.
    pub owner: ObjectRef,
    steps: Vec<(usize, Step)>,
}

impl<'i, 'a> PlanBuilder<'i, 'a> {
    /// An empty plan for `owner`.
    pub fn new(inputs: &'i Inputs<'a>, owner: ObjectRef) -> Self {
        Self { reader: Reader::new(inputs), diagnostics: Vec::new(), owner, steps: Vec::new() }
    }

    /// Records `step` after the diagnostics emitted so far.
    pub fn push(&mut self, step: Step) {
        self.steps.push((self.diagnostics.len(), step));
    }

    /// The finished plan.
    pub fn finish(self) -> IngressPlan {
        let slots: BTreeSet<Slot> = self.steps.iter().flat_map(|(_, step)| step.slots()).collect();
        IngressPlan {
            owner: self.owner,
            diagnostics: self.diagnostics,
            steps: self.steps,
            reads: {
                let mut reads = self.reader.reads;
                reads.sort_unstable();
                reads.dedup();
                reads
            },
            slots: slots.into_iter().collect(),
        }
    }
}

/// Runs `write` for a part of `plan`'s step `index`, keeping what it reports in `emitted` (replacing
/// what an earlier replay reported there).
fn emit(emitted: &mut Emitted, at: (usize, usize), write: impl FnOnce(&mut Vec<Diagnostic>)) {
    let mut diagnostics = Vec::new();
    write(&mut diagnostics);
    if diagnostics.is_empty() {
        emitted.remove(&at);
    } else {
        emitted.insert(at, diagnostics);
    }
}

/// Applies the steps of `plan` that write host `host` to its routes (plans in translation order: bases
/// by creation time, then canaries).
pub(crate) fn replay_host<'p>(plan: &'p IngressPlan, host: &str, routes: &mut HostRoutes<'p>, emitted: &mut Emitted) {
    let owner = &plan.owner;
    for (index, (_, step)) in plan.steps.iter().enumerate() {
        match step {
            Step::Route { host: h, key, pending } if h == host => {
                emit(emitted, (index, 0), |d| {
                    routes.add(host, key, pending, owner, d);
                });
            }
            Step::Canary { host: h, key, canary, pending } if h == host => merge_canary(routes, key, canary, pending),
            Step::DefaultBackend { hosts, pending } => {
                for (part, (h, key)) in hosts.iter().enumerate().filter(|(_, (h, _))| h == host) {
                    // why: a rule host where the Ingress has its own catch-all keeps it.
                    let wanted = h == "*" || !routes.has_catch_all_of(owner);
                    emit(emitted, (index, part), |d| {
                        if wanted {
                            routes.add(host, key, pending, owner, d);
                        }
                    });
                }
            }
            _ => {}
        }
    }
}

/// Applies the steps of `plan` that write cluster `id` (plans in translation order).
pub(crate) fn replay_cluster<'p>(plan: &'p IngressPlan, id: &str, cluster: &mut ClusterSlot<'p>, emitted: &mut Emitted) {
    for (index, (_, step)) in plan.steps.iter().enumerate() {
        match step {
            Step::Cluster(c) if c.id == id => cluster.register(c),
            Step::Upstream { clusters, policy } => {
                if let Some(part) = clusters.iter().position(|c| c == id) {
                    emit(emitted, (index, part), |d| cluster.set_upstream(policy, &plan.owner, d));
                }
            }
            _ => {}
        }
    }
}

/// Applies the steps of `plan` that register or use certificate `id` (plans in translation order).
pub(crate) fn replay_certificate<'p>(plan: &'p IngressPlan, id: &str, slot: &mut CertificateSlot<'p>) {
    for (_, step) in &plan.steps {
        match step {
            Step::Certificate(certificate) if certificate.id == id => slot.register(certificate),
            Step::UpstreamCertificate(upstream) if upstream == id => slot.add_upstream(),
            _ => {}
        }
    }
}

/// Applies the steps of `plan` that bind SNI host `host` (plans in translation order).
pub(crate) fn replay_tls_host<'p>(plan: &'p IngressPlan, host: &str, slot: &mut TlsHostSlot<'p>, emitted: &mut Emitted) {
    for (index, (_, step)) in plan.steps.iter().enumerate() {
        if let Step::Bind(tls_host) = step {
            if tls_host.host == host {
                emit(emitted, (index, 0), |d| slot.bind(tls_host, &plan.owner, d));
            }
        }
    }
}

/// Appends `plan`'s diagnostics, its own and those its replays emitted, in the order a single pass over
/// its steps emits them.
pub(crate) fn diagnostics_of(plan: &IngressPlan, emitted: Option<&Emitted>, out: &mut Vec<Diagnostic>) {
    let mut replayed = emitted.into_iter().flatten().peekable();
    let mut done = 0;
    for (index, (mark, _)) in plan.steps.iter().enumerate() {
        out.extend_from_slice(&plan.diagnostics[done..*mark]);
        done = *mark;
        while let Some((_, diagnostics)) = replayed.next_if(|((step, _), _)| *step == index) {
            out.extend_from_slice(diagnostics);
        }
    }
    out.extend_from_slice(&plan.diagnostics[done..]);
}

/// Merges a canary Ingress' route into the base route with the same conflict key (ignored without one).
fn merge_canary(routes: &mut HostRoutes<'_>, key: &str, canary: &Canary, pending: &PendingRoute) {
    // A canary without a base route is dropped, as Higress (no diagnostic: it is a valid configuration
    // waiting for its base Ingress).
    let Some(base) = routes.base_mut(key) else { return };
    let RouteAction::Forward(canary_forward) = &pending.route.action;
    let canary_cluster = canary_forward.cluster.clone();
    if let Some((weight, total)) = canary.weight {
        let RouteAction::Forward(forward) = &mut base.route.action;
        forward.canary = Some(WeightedCanary { cluster: canary_cluster.clone(), weight, total });
    }
    if let Some(condition) = &canary.condition {
        let mut route = base.route.clone();
        route.headers.push(condition.clone());
        route.id.clone_from(&pending.route.id);
        route.name.clone_from(&pending.route.name);
        route.source = pending.route.source.clone();
        route.policy = pending.route.policy.clone();
        route.action = crate::ingress::forward(canary_cluster, &crate::ingress::Fallback::default());
        // With its extra condition the canary route is never a catch-all.
        let class = if base.class == RouteClass::CatchAll { RouteClass::Normal } else { base.class };
        let origin_path_len = base.origin_path_len;
        routes.add_unkeyed(PendingRoute { route, class, origin_path_len });
    }
}
