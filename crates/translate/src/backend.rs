//! Services and their endpoints → [`oxigress_ir::Cluster`]s. EndpointSlices of one Service (label
//! `kubernetes.io/service-name`) are merged, and so are `Endpoints` objects; only ready endpoints count.

use std::collections::{BTreeMap, BTreeSet};

use oxigress_ir::{Cluster, ClusterId, Endpoint, UpstreamPolicy};
use oxigress_objects::k8s_openapi::api::core::v1::{Service, ServicePort};
use oxigress_objects::k8s_openapi::api::networking::v1::ServiceBackendPort;
use oxigress_objects::{Diagnostic, ObjectKey, ObjectRef, Resources};

use crate::options::InstanceOptions;

/// The label that ties an EndpointSlice to its Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Why a backend reference gives no cluster at all (the route is dropped).
#[derive(Debug)]
pub struct Unresolvable(pub Box<Diagnostic>);

/// Resolves Service references to clusters and collects every cluster a snapshot uses.
pub struct Backends<'a> {
    resources: &'a Resources,
    options: &'a InstanceOptions,
    /// EndpointSlices by `(namespace, service)`.
    slices: BTreeMap<(String, String), Vec<&'a oxigress_objects::k8s_openapi::api::discovery::v1::EndpointSlice>>,
    /// Clusters referenced so far.
    pub clusters: BTreeMap<ClusterId, Cluster>,
    /// Which Ingress set each cluster's upstream policy.
    upstream_owners: BTreeMap<ClusterId, ObjectRef>,
}

impl<'a> Backends<'a> {
    /// Indexes the EndpointSlices of `resources`.
    pub fn new(resources: &'a Resources, options: &'a InstanceOptions) -> Self {
        let mut slices: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for (key, slice) in &resources.endpoint_slices {
            let labels = slice.metadata.labels.as_ref();
            if let Some(service) = labels.and_then(|l| l.get(SERVICE_NAME_LABEL)) {
                slices.entry((key.namespace.clone(), service.clone())).or_default().push(slice);
            }
        }
        Self { resources, options, slices, clusters: BTreeMap::new(), upstream_owners: BTreeMap::new() }
    }

    /// The cluster for `namespace/service` at `port` (number or name), registering it.
    ///
    /// A missing Service is a warning and gives an empty cluster (requests get 503, as Envoy's cluster
    /// without endpoints); a named port the Service does not have (or that has no Service to be resolved
    /// in) drops the route (Higress `PortNameResolveError`).
    pub fn resolve(
        &mut self,
        namespace: &str,
        service: &str,
        port: &ServiceBackendPort,
        referrer: &ObjectRef,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Result<ClusterId, Unresolvable> {
        let found = self.service(namespace, service);
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
            diagnostics.push(Diagnostic::warning(
                "ServiceNotFound",
                Some(referrer.clone()),
                format!("Service {namespace}/{service} not found; requests to it get 503"),
            ));
            return Ok(self.register(format!("{namespace}/{service}:{port_label}"), Vec::new()));
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
            diagnostics.push(Diagnostic::warning(
                "ServicePortNotFound",
                Some(referrer.clone()),
                format!("Service {namespace}/{service} has no port {port_label}; requests to it get 503"),
            ));
            return Ok(self.register(format!("{namespace}/{service}:{port_label}"), Vec::new()));
        };
        if svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
            diagnostics.push(Diagnostic::warning(
                "UnsupportedService",
                Some(referrer.clone()),
                format!("Service {namespace}/{service} is of type ExternalName, not supported yet; requests get 503"),
            ));
        }
        let endpoints = self.endpoints(namespace, service, service_port);
        Ok(self.register(format!("{namespace}/{service}:{}", service_port.port), endpoints))
    }

    /// The cluster of the first port of `namespace/service`, which `annotation` names.
    pub fn resolve_first_port(
        &mut self,
        namespace: &str,
        service: &str,
        annotation: &str,
        referrer: &ObjectRef,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<ClusterId> {
        let first = self
            .service(namespace, service)
            .and_then(|s| s.spec.as_ref())
            .and_then(|s| s.ports.as_ref())
            .and_then(|p| p.first())
            .map(|p| p.port);
        let Some(number) = first else {
            diagnostics.push(Diagnostic::warning(
                "ServiceNotFound",
                Some(referrer.clone()),
                format!("{annotation} Service {namespace}/{service} not found (or has no port)"),
            ));
            return None;
        };
        let port = ServiceBackendPort { number: Some(number), name: None };
        self.resolve(namespace, service, &port, referrer, diagnostics).ok()
    }

    /// Sets the upstream policy of `cluster` from `owner`'s annotations.
    ///
    /// why: Higress keeps one traffic policy per Service port, from the first Ingress (creation order)
    /// that sets any upstream annotation for it; a later Ingress asking for another one is reported.
    pub fn set_upstream(&mut self, cluster: &ClusterId, policy: &UpstreamPolicy, owner: &ObjectRef, diagnostics: &mut Vec<Diagnostic>) {
        let Some(target) = self.clusters.get_mut(cluster) else { return };
        match self.upstream_owners.get(cluster) {
            None => {
                target.upstream = policy.clone();
                self.upstream_owners.insert(cluster.clone(), owner.clone());
            }
            Some(first) if first != owner && &target.upstream != policy => diagnostics.push(Diagnostic::warning(
                "UpstreamPolicyConflict",
                Some(owner.clone()),
                format!(
                    "{cluster}: load-balance/backend-protocol/proxy-ssl annotations differ from those of Ingress {}/{}, which was first and wins",
                    first.namespace, first.name
                ),
            )),
            Some(_) => {}
        }
    }

    fn service(&self, namespace: &str, service: &str) -> Option<&'a Service> {
        if !self.options.watches(namespace) {
            return None;
        }
        self.resources.services.get(&ObjectKey::new(namespace, service))
    }

    fn register(&mut self, id: ClusterId, endpoints: Vec<Endpoint>) -> ClusterId {
        self.clusters.entry(id.clone()).or_insert_with(|| Cluster { id: id.clone(), endpoints, upstream: Default::default() });
        id
    }

    fn endpoints(&self, namespace: &str, service: &str, port: &ServicePort) -> Vec<Endpoint> {
        let port_name = port.name.as_deref().unwrap_or("");
        let mut out = BTreeSet::new();
        for slice in self.slices.get(&(namespace.to_string(), service.to_string())).into_iter().flatten() {
            let Some(slice_port) = slice
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref().unwrap_or("") == port_name)
                .and_then(|p| p.port)
            else {
                continue;
            };
            for endpoint in slice.endpoints.iter().flatten() {
                let ready = endpoint.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
                if !ready {
                    continue;
                }
                for address in &endpoint.addresses {
                    out.insert(endpoint_of(address, slice_port));
                }
            }
        }
        if let Some(endpoints) = self.resources.endpoints.get(&ObjectKey::new(namespace, service)) {
            for subset in endpoints.subsets.iter().flatten() {
                let Some(number) =
                    subset.ports.iter().flatten().find(|p| p.name.as_deref().unwrap_or("") == port_name).map(|p| p.port)
                else {
                    continue;
                };
                for address in subset.addresses.iter().flatten() {
                    out.insert(endpoint_of(&address.ip, number));
                }
            }
        }
        out.into_iter().flatten().collect()
    }
}

fn endpoint_of(ip: &str, port: i32) -> Option<Endpoint> {
    let port = u16::try_from(port).ok().filter(|p| *p != 0)?;
    ip.parse::<std::net::IpAddr>().ok()?;
    Some(Endpoint { ip: ip.to_string(), port })
}
