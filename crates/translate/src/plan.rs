//! One Ingress' translation in two halves, so it can be cached ([`crate::TranslateMemo`]):
//!
//! - the **plan** ([`IngressPlan`], built by `ingress::plan_ingress`) is everything that depends only on
//!   the Ingress, the instance options and the objects its [`Reader`] read: annotations parsed, backends
//!   resolved to clusters, routes built with their conflict keys, certificates read — as a list of
//!   [`Step`]s, each marked with how many of the plan's own diagnostics came before it;
//! - the **replay** ([`Tables::replay`]) applies those steps, in Ingress order, to the tables every Ingress
//!   shares (first route per conflict key, canary merging, first upstream policy per cluster, first
//!   certificate per SNI host), emitting the diagnostics that depend on other Ingresses at the same place
//!   a single pass would. Replaying fresh or cached plans gives the same translation.

use std::collections::BTreeSet;

use oxigress_ir::{Certificate, CertificateId, Cluster, ClusterId, RouteAction, TlsHost, UpstreamPolicy, WeightedCanary};
use oxigress_objects::{Diagnostic, ObjectRef};

use crate::annotations::Canary;
use crate::backend::ClusterTable;
use crate::inputs::{Dep, Inputs, Reader};
use crate::routes::{PendingRoute, RouteClass, RouteTable};
use crate::tls::TlsTable;

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
    /// The objects read while planning, each once.
    pub reads: Vec<Dep>,
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
        IngressPlan { owner: self.owner, diagnostics: self.diagnostics, steps: self.steps, reads: self.reader.reads.into_iter().collect() }
    }
}

/// The tables every Ingress' plan is replayed into, and the diagnostics in order.
#[derive(Default)]
pub(crate) struct Tables<'p> {
    /// Routes by host.
    pub routes: RouteTable<'p>,
    /// Clusters.
    pub clusters: ClusterTable,
    /// Certificates and SNI bindings.
    pub tls: TlsTable,
    /// Every diagnostic, in the order a single pass emits them.
    pub diagnostics: Vec<Diagnostic>,
}

impl<'p> Tables<'p> {
    /// Applies `plan` (Ingresses in translation order: bases by creation time, then canaries).
    pub fn replay(&mut self, plan: &'p IngressPlan) {
        let owner = &plan.owner;
        let mut emitted = 0;
        for (mark, step) in &plan.steps {
            self.diagnostics.extend_from_slice(&plan.diagnostics[emitted..*mark]);
            emitted = *mark;
            match step {
                Step::Cluster(cluster) => self.clusters.register(cluster),
                Step::Route { host, key, pending } => {
                    self.routes.add(host, key, pending, owner, &mut self.diagnostics);
                }
                Step::Canary { host, key, canary, pending } => merge_canary(&mut self.routes, host, key, canary, pending),
                Step::DefaultBackend { hosts, pending } => {
                    let hosts: Vec<&(String, String)> =
                        hosts.iter().filter(|(h, _)| h == "*" || !self.routes.has_catch_all_of(h, owner)).collect();
                    for (host, key) in hosts {
                        self.routes.add(host, key, pending, owner, &mut self.diagnostics);
                    }
                }
                Step::Upstream { clusters, policy } => {
                    for cluster in clusters {
                        self.clusters.set_upstream(cluster, policy, owner, &mut self.diagnostics);
                    }
                }
                Step::Certificate(certificate) => self.tls.insert_certificate(certificate),
                Step::UpstreamCertificate(id) => self.tls.add_upstream(id),
                Step::Bind(tls_host) => self.tls.bind(tls_host, owner, &mut self.diagnostics),
            }
        }
        self.diagnostics.extend_from_slice(&plan.diagnostics[emitted..]);
    }
}

/// Merges a canary Ingress' route into the base route with the same conflict key (ignored without one).
fn merge_canary<'p>(routes: &mut RouteTable<'p>, host: &'p str, key: &str, canary: &Canary, pending: &PendingRoute) {
    // A canary without a base route is dropped, as Higress (no diagnostic: it is a valid configuration
    // waiting for its base Ingress).
    let Some(base) = routes.base_mut(host, key) else { return };
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
        routes.add_unkeyed(host, PendingRoute { route, class, origin_path_len });
    }
}
