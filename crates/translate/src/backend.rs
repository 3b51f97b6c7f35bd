//! Services and their endpoints → [`oxigress_ir::Cluster`]s. EndpointSlices of one Service (label
//! `kubernetes.io/service-name`) are merged, and so are `Endpoints` objects; only ready endpoints count.
//! Resolving a backend is part of an Ingress' plan; a [`ClusterSlot`] replays the plans registering one cluster.

use std::borrow::Cow;

use oxigress_ir::{Cluster, ClusterId, UpstreamPolicy};
use oxigress_objects::k8s_openapi::api::networking::v1::ServiceBackendPort;
use oxigress_objects::{Diagnostic, ObjectRef};

use crate::plan::{PlanBuilder, Step};

/// Why a backend reference gives no cluster at all (the route is dropped).
#[derive(Debug)]
pub struct Unresolvable(pub Box<Diagnostic>);

/// The cluster for `namespace/service` at `port` (number or name), registered in `plan`.
///
/// A missing Service is a warning and gives an empty cluster (requests get 503, as Envoy's cluster
/// without endpoints); a named port the Service does not have (or that has no Service to be resolved
/// in) drops the route (Higress `PortNameResolveError`).
pub(crate) fn resolve(
    plan: &mut PlanBuilder<'_, '_>,
    namespace: &str,
    service: &str,
    port: &ServiceBackendPort,
    referrer: &ObjectRef,
) -> Result<ClusterId, Unresolvable> {
    let found = plan.reader.service(namespace, service);
    let port_label = match (port.number, port.name.as_deref()) {
        (Some(number), _) => number.to_string(),
        (None, Some(name)) => name.to_string(),
        (None, None) => String::new(),
    };
    let Some(svc) = found else {
        if let (None, Some(name)) = (port.number, port.name.as_deref()) {
            // why: Higress resolves a port name through the Service lister; no Service, no port.
            return Err(Unresolvable(Box::new(Diagnostic::warning(
                "PortNameResolveError",
                Some(referrer.clone()),
                format!("Service {namespace}/{service} not found, port name {name:?} unresolved; route dropped"),
            ))));
        }
        plan.diagnostics.push(Diagnostic::warning(
            "ServiceNotFound",
            Some(referrer.clone()),
            format!("Service {namespace}/{service} not found; requests to it get 503"),
        ));
        return Ok(register(plan, format!("{namespace}/{service}:{port_label}"), Vec::new()));
    };
    let ports = svc.spec.as_ref().and_then(|s| s.ports.as_deref()).unwrap_or_default();
    let service_port = match (port.number, port.name.as_deref()) {
        (Some(number), _) => ports.iter().find(|p| p.port == number),
        (None, Some(name)) => match ports.iter().find(|p| p.name.as_deref() == Some(name)) {
            Some(p) => Some(p),
            None => {
                return Err(Unresolvable(Box::new(Diagnostic::warning(
                    "PortNameResolveError",
                    Some(referrer.clone()),
                    format!("Service {namespace}/{service} has no port named {name:?}; route dropped"),
                ))))
            }
        },
        (None, None) => None,
    };
    let Some(service_port) = service_port else {
        plan.diagnostics.push(Diagnostic::warning(
            "ServicePortNotFound",
            Some(referrer.clone()),
            format!("Service {namespace}/{service} has no port {port_label}; requests to it get 503"),
        ));
        return Ok(register(plan, format!("{namespace}/{service}:{port_label}"), Vec::new()));
    };
    if svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
        plan.diagnostics.push(Diagnostic::warning(
            "UnsupportedService",
            Some(referrer.clone()),
            format!("Service {namespace}/{service} is of type ExternalName, not supported yet; requests get 503"),
        ));
    }
    let endpoints = plan.reader.endpoints(namespace, service, service_port);
    Ok(register(plan, format!("{namespace}/{service}:{}", service_port.port), endpoints))
}

/// The cluster of the first port of `namespace/service`, which `annotation` names.
pub(crate) fn resolve_first_port(
    plan: &mut PlanBuilder<'_, '_>,
    namespace: &str,
    service: &str,
    annotation: &str,
    referrer: &ObjectRef,
) -> Option<ClusterId> {
    let first = plan
        .reader
        .service(namespace, service)
        .and_then(|s| s.spec.as_ref())
        .and_then(|s| s.ports.as_ref())
        .and_then(|p| p.first())
        .map(|p| p.port);
    let Some(number) = first else {
        plan.diagnostics.push(Diagnostic::warning(
            "ServiceNotFound",
            Some(referrer.clone()),
            format!("{annotation} Service {namespace}/{service} not found (or has no port)"),
        ));
        return None;
    };
    let port = ServiceBackendPort { number: Some(number), name: None };
    resolve(plan, namespace, service, &port, referrer).ok()
}

fn register(plan: &mut PlanBuilder<'_, '_>, id: ClusterId, endpoints: Vec<oxigress_ir::Endpoint>) -> ClusterId {
    plan.push(Step::Cluster(Cluster { id: id.clone(), endpoints, upstream: Default::default() }));
    id
}

/// One cluster as the plans registering it leave it: the first registration, with the upstream policy
/// of the first Ingress that set one.
#[derive(Default)]
pub struct ClusterSlot<'p> {
    cluster: Option<Cow<'p, Cluster>>,
    /// Which Ingress set the upstream policy.
    upstream_owner: Option<&'p ObjectRef>,
}

impl<'p> ClusterSlot<'p> {
    /// Takes `cluster` unless one was registered already (the first registration wins).
    pub fn register(&mut self, cluster: &'p Cluster) {
        if self.cluster.is_none() {
            self.cluster = Some(Cow::Borrowed(cluster));
        }
    }

    /// Sets the upstream policy from `owner`'s annotations.
    ///
    /// why: Higress keeps one traffic policy per Service port, from the first Ingress (creation order)
    /// that sets any upstream annotation for it; a later Ingress asking for another one is reported.
    pub fn set_upstream(&mut self, policy: &UpstreamPolicy, owner: &'p ObjectRef, diagnostics: &mut Vec<Diagnostic>) {
        let Some(target) = &mut self.cluster else { return };
        match self.upstream_owner {
            None => {
                target.to_mut().upstream = policy.clone();
                self.upstream_owner = Some(owner);
            }
            Some(first) if first != owner && &target.upstream != policy => diagnostics.push(Diagnostic::warning(
                "UpstreamPolicyConflict",
                Some(owner.clone()),
                format!(
                    "{}: load-balance/backend-protocol/proxy-ssl annotations differ from those of Ingress {}/{}, which was first and wins",
                    target.id, first.namespace, first.name
                ),
            )),
            Some(_) => {}
        }
    }

    /// The cluster, if some plan registered it.
    pub fn finish(self) -> Option<Cluster> {
        self.cluster.map(Cow::into_owned)
    }
}
