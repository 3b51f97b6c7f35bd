//! Step (4) for one Ingress (networking.k8s.io/v1): rules and `defaultBackend` → routes, `tls` → SNI bindings.
//!
//! why (Higress `ingress_config.go`, `common/tool.go`): empty host → `*`; empty path → `/`;
//! ImplementationSpecific → Prefix; Prefix `/a/` matches `/a` and `/a/…` (segment-aware); the route name is
//! `name` in the instance namespace and `ns/name` elsewhere; `spec.defaultBackend` serves host `*` and every
//! rule host of that Ingress without its own Prefix `/` route.
//!
//! The result is a plan ([`crate::plan`]): what depends on other Ingresses (conflicts, canary merging,
//! first upstream policy and certificate) is decided when the plans are replayed in Ingress order.

use std::collections::BTreeSet;

use oxigress_ir::{
    ErrorFallback, Forward, Mirror, MirrorTarget, PathMatch, Redirect, Route, RouteAction, RoutePolicy, SourceRef,
    UpstreamPolicy, UpstreamTls,
};
use oxigress_objects::k8s_openapi::api::networking::v1::{Ingress, IngressBackend, ServiceBackendPort};
use oxigress_objects::{Diagnostic, ObjectRef};

use crate::annotations::{Annotations, IngressAnnotations, MirrorAnnotations, MirrorDestination, UpstreamAnnotations};
use crate::backend;
use crate::inputs::Inputs;
use crate::plan::{IngressPlan, PlanBuilder, Step};
use crate::routes::{PendingRoute, RouteClass};
use crate::tls;

/// Plans the translation of one selected Ingress.
pub(crate) fn plan_ingress(ingress: &Ingress, inputs: &Inputs<'_>) -> IngressPlan {
    let namespace = ingress.metadata.namespace.as_deref().unwrap_or("");
    let name = ingress.metadata.name.as_deref().unwrap_or("");
    let mut plan = PlanBuilder::new(inputs, ObjectRef::new("Ingress", namespace, name));
    plan_into(ingress, &mut plan);
    plan.finish()
}

fn plan_into(ingress: &Ingress, plan: &mut PlanBuilder<'_, '_>) {
    let namespace = ingress.metadata.namespace.as_deref().unwrap_or("");
    let name = ingress.metadata.name.as_deref().unwrap_or("");
    let owner = plan.owner.clone();
    let source = SourceRef { kind: "Ingress".into(), namespace: namespace.into(), name: name.into() };
    let route_name = if namespace == plan.reader.options().instance_namespace {
        name.to_string()
    } else {
        format!("{namespace}/{name}")
    };
    let mut annotations = IngressAnnotations::parse(
        &Annotations::new(ingress.metadata.annotations.as_ref()),
        namespace,
        &owner,
        &mut plan.diagnostics,
    );
    let fallback_backend = annotations.default_backend.as_ref().and_then(|d| {
        let cluster = backend::resolve_first_port(plan, &d.namespace, &d.service, "default-backend", &owner)?;
        let error_fallback = (!d.error_codes.is_empty()).then(|| ErrorFallback {
            cluster: cluster.clone(),
            statuses: d.error_codes.clone(),
            service: format!("{}/{}", d.namespace, d.service),
        });
        Some((cluster, error_fallback))
    });
    let fallback = Fallback {
        cluster: fallback_backend.as_ref().map(|(c, _)| c.clone()),
        on_error: fallback_backend.and_then(|(_, e)| e),
    };
    annotations.policy.policy.mirror = annotations.mirror.as_ref().and_then(|m| mirror(m, &owner, plan));
    annotations.policy.policy.basic_auth =
        annotations.basic_auth.as_ref().map(|spec| spec.resolve(&mut plan.reader, &owner, &mut plan.diagnostics));
    let extras = &annotations.route_match;
    let Some(spec) = &ingress.spec else { return };
    let mut rule_hosts = BTreeSet::new();
    let mut first_cluster: Option<String> = None;
    // The clusters of the Ingress' own backends (they get its upstream policy).
    let mut used_clusters = BTreeSet::new();

    for (i, rule) in spec.rules.iter().flatten().enumerate() {
        let host = rule.host.as_deref().filter(|h| !h.is_empty()).unwrap_or("*").to_ascii_lowercase();
        let Some(http) = &rule.http else { continue };
        rule_hosts.insert(host.clone());
        for (j, path) in http.paths.iter().enumerate() {
            let written = path.path.as_deref().filter(|p| !p.is_empty()).unwrap_or("/");
            // why: Higress' `OriginPath` (conflict key and sort length) is the Prefix path with its trailing
            // `/` trimmed, so Prefix `/a/` and `/a` are the same route.
            let (origin, kind) = match path.path_type.as_str() {
                "Exact" => (written, "Exact"),
                _ => match written.trim_end_matches('/') {
                    "" => ("/", "Prefix"),
                    trimmed => (trimmed, "Prefix"),
                },
            };
            let (path_match, path_rewrite) = annotations.policy.path(written, origin, kind);
            let kind = match path_match {
                PathMatch::Regex(_) => "Regex",
                _ => kind,
            };
            let Some(cluster) = backend_cluster(&path.backend, namespace, &owner, plan) else {
                continue;
            };
            first_cluster.get_or_insert_with(|| cluster.clone());
            used_clusters.insert(cluster.clone());
            let route = Route {
                id: format!("{namespace}/{name}/rule/{i}/path/{j}"),
                name: route_name.clone(),
                source: source.clone(),
                path: path_match,
                headers: extras.headers.clone(),
                query: extras.query.clone(),
                methods: extras.methods.clone(),
                action: forward(cluster, &fallback),
                plugins: Vec::new(),
                policy: RoutePolicy { path_rewrite, ..annotations.policy.policy.clone() },
            };
            let catch_all = route.path == PathMatch::Prefix("/".into())
                && route.headers.is_empty()
                && route.query.is_empty()
                && route.methods.is_empty();
            let pending = PendingRoute {
                route,
                class: if catch_all { RouteClass::CatchAll } else { RouteClass::Normal },
                origin_path_len: origin.len(),
            };
            let key = format!("{host}-{kind}-{origin}-{}", extras.conflict_key());
            match &annotations.canary {
                None => plan.push(Step::Route { host: host.clone(), key, pending }),
                Some(canary) => plan.push(Step::Canary { host: host.clone(), key, canary: canary.clone(), pending }),
            }
        }
    }

    if let (Some(app_root), Some(cluster)) = (&annotations.policy.app_root, &first_cluster) {
        for host in &rule_hosts {
            let mut policy = annotations.policy.policy.clone();
            policy.redirect = Some(Redirect { code: 302, scheme: None, host: None, path: Some(app_root.clone()), only_plain_http: false });
            let route = Route {
                id: format!("{namespace}/{name}/app-root/{host}"),
                name: format!("{host}-app-root"),
                source: source.clone(),
                path: PathMatch::Exact("/".into()),
                headers: Vec::new(),
                query: Vec::new(),
                methods: Vec::new(),
                action: forward(cluster.clone(), &fallback),
                plugins: Vec::new(),
                policy,
            };
            let pending = PendingRoute { route, class: RouteClass::AppRoot, origin_path_len: 1 };
            plan.push(Step::Route { host: host.clone(), key: format!("{host}-app-root"), pending });
        }
    }

    if let Some(default_backend) = &spec.default_backend {
        if let Some(cluster) = backend_cluster(default_backend, namespace, &owner, plan) {
            used_clusters.insert(cluster.clone());
            let route = Route {
                id: format!("{namespace}/{name}/default"),
                name: format!("{route_name}-default"),
                source: source.clone(),
                path: PathMatch::Prefix("/".into()),
                headers: Vec::new(),
                query: Vec::new(),
                methods: Vec::new(),
                action: forward(cluster, &fallback),
                plugins: Vec::new(),
                policy: annotations.policy.policy.clone(),
            };
            // The rule hosts that have no catch-all of this Ingress when the plan is replayed, and `*`.
            rule_hosts.insert("*".to_string());
            let hosts = rule_hosts.iter().map(|h| (h.clone(), format!("{h}-default"))).collect();
            let pending = PendingRoute { route, class: RouteClass::DefaultBackend, origin_path_len: 1 };
            plan.push(Step::DefaultBackend { hosts, pending });
        }
    }

    if annotations.upstream.is_set() && !used_clusters.is_empty() {
        let policy = upstream_policy(&annotations.upstream, plan, &owner);
        plan.push(Step::Upstream { clusters: used_clusters, policy });
    }
    tls::add_ingress(plan, ingress, &rule_hosts, &annotations.downstream_tls);
}

/// The upstream policy of an Ingress' annotations, with its `proxy-ssl-secret` read.
fn upstream_policy(annotations: &UpstreamAnnotations, plan: &mut PlanBuilder<'_, '_>, owner: &ObjectRef) -> UpstreamPolicy {
    let upstream_tls = annotations.tls.as_ref().map(|request| {
        let (client_certificate, ca_pem) = match &request.secret {
            Some((ns, name)) => tls::upstream_secret(plan, ns, name, owner),
            None => (None, None),
        };
        UpstreamTls { sni: request.sni.clone(), ca_pem: ca_pem.filter(|_| !request.verify_off), client_certificate }
    });
    UpstreamPolicy {
        load_balance: annotations.load_balance.clone().unwrap_or_default(),
        protocol: annotations.protocol,
        tls: upstream_tls,
    }
}

/// The mirror of an Ingress, with its Service resolved (none when the Service is missing).
fn mirror(annotations: &MirrorAnnotations, owner: &ObjectRef, plan: &mut PlanBuilder<'_, '_>) -> Option<Mirror> {
    let target = match &annotations.destination {
        MirrorDestination::Target(target) => target.clone(),
        MirrorDestination::Service { namespace, service, port: Some(number) } => {
            let port = ServiceBackendPort { number: Some(*number), name: None };
            MirrorTarget::Cluster(backend::resolve(plan, namespace, service, &port, owner).ok()?)
        }
        MirrorDestination::Service { namespace, service, port: None } => {
            MirrorTarget::Cluster(backend::resolve_first_port(plan, namespace, service, "mirror-target-service", owner)?)
        }
    };
    Some(Mirror { target, percent: annotations.percent })
}

/// The `default-backend` of an Ingress: for routes whose Service has no endpoints, and (with
/// `custom-http-errors`) for answers with those statuses.
#[derive(Default)]
pub(crate) struct Fallback {
    cluster: Option<String>,
    on_error: Option<ErrorFallback>,
}

/// A forward action; the fallback stays in the IR even while the primary cluster has endpoints, so the
/// proxy can switch the moment they disappear.
pub(crate) fn forward(cluster: String, fallback: &Fallback) -> RouteAction {
    let error_fallback = fallback.on_error.clone();
    let fallback = fallback.cluster.clone().filter(|f| f != &cluster);
    RouteAction::Forward(Forward { cluster, fallback, canary: None, error_fallback })
}

fn backend_cluster(
    backend: &IngressBackend,
    namespace: &str,
    owner: &ObjectRef,
    plan: &mut PlanBuilder<'_, '_>,
) -> Option<String> {
    let Some(service) = &backend.service else {
        plan.diagnostics.push(Diagnostic::warning(
            "UnsupportedBackend",
            Some(owner.clone()),
            "resource backends are not supported; path skipped",
        ));
        return None;
    };
    let port = service.port.clone().unwrap_or_default();
    match backend::resolve(plan, namespace, &service.name, &port, owner) {
        Ok(cluster) => Some(cluster),
        Err(unresolvable) => {
            plan.diagnostics.push(*unresolvable.0);
            None
        }
    }
}
