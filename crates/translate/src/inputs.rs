//! What one Ingress' translation reads besides the Ingress itself: Services, their EndpointSlices and
//! Endpoints, Secrets. [`Inputs`] indexes them once per translation; a [`Reader`] is the only way an
//! Ingress' translation reaches them, and records every key it asked for ([`Dep`]), so the memo
//! ([`crate::TranslateMemo`]) knows which cached per-Ingress results a changed object makes stale.

use std::collections::{BTreeMap, BTreeSet};

use oxigress_ir::Endpoint;
use oxigress_objects::k8s_openapi::api::core::v1::{Endpoints, Secret, Service, ServicePort};
use oxigress_objects::k8s_openapi::api::discovery::v1::EndpointSlice;
use oxigress_objects::{ObjectKey, Resources};

use crate::options::InstanceOptions;

/// The label that ties an EndpointSlice to its Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// One object (or group of objects) an Ingress' translation read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Dep {
    /// The Service `namespace/name` (absent counts too).
    Service(ObjectKey),
    /// The `Endpoints` object `namespace/name`.
    Endpoints(ObjectKey),
    /// The EndpointSlices labelled for Service `namespace/name`, in key order.
    Slices(ObjectKey),
    /// The Secret `namespace/name`.
    Secret(ObjectKey),
}

/// The value a [`Dep`] had when it was read (what the memo compares against the next input).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DepValue {
    /// A Service, or none.
    Service(Option<Box<Service>>),
    /// An `Endpoints` object, or none.
    Endpoints(Option<Box<Endpoints>>),
    /// The EndpointSlices of a Service.
    Slices(Vec<EndpointSlice>),
    /// A Secret, or none.
    Secret(Option<Box<Secret>>),
}

/// The objects of one translation, with the EndpointSlices indexed by Service.
pub(crate) struct Inputs<'a> {
    resources: &'a Resources,
    options: &'a InstanceOptions,
    /// EndpointSlices by namespace and service, in key order.
    slices: BTreeMap<&'a str, BTreeMap<&'a str, Vec<&'a EndpointSlice>>>,
}

impl<'a> Inputs<'a> {
    /// Indexes the EndpointSlices of `resources`.
    pub fn new(resources: &'a Resources, options: &'a InstanceOptions) -> Self {
        let mut slices: BTreeMap<&str, BTreeMap<&str, Vec<_>>> = BTreeMap::new();
        for (key, slice) in &resources.endpoint_slices {
            let labels = slice.metadata.labels.as_ref();
            if let Some(service) = labels.and_then(|l| l.get(SERVICE_NAME_LABEL)) {
                slices.entry(key.namespace.as_str()).or_default().entry(service.as_str()).or_default().push(slice);
            }
        }
        Self { resources, options, slices }
    }

    fn service(&self, namespace: &str, name: &str) -> Option<&'a Service> {
        if !self.options.watches(namespace) {
            return None;
        }
        self.resources.services.get(&ObjectKey::new(namespace, name))
    }

    fn secret(&self, namespace: &str, name: &str) -> Option<&'a Secret> {
        if !self.options.watches(namespace) {
            return None;
        }
        self.resources.secrets.get(&ObjectKey::new(namespace, name))
    }

    fn slices_of(&self, namespace: &str, service: &str) -> &[&'a EndpointSlice] {
        self.slices.get(namespace).and_then(|s| s.get(service)).map(Vec::as_slice).unwrap_or_default()
    }

    /// The current value of `dep`.
    pub fn value(&self, dep: &Dep) -> DepValue {
        match dep {
            Dep::Service(k) => DepValue::Service(self.service(&k.namespace, &k.name).cloned().map(Box::new)),
            Dep::Endpoints(k) => DepValue::Endpoints(self.resources.endpoints.get(k).cloned().map(Box::new)),
            Dep::Slices(k) => DepValue::Slices(self.slices_of(&k.namespace, &k.name).iter().map(|s| (*s).clone()).collect()),
            Dep::Secret(k) => DepValue::Secret(self.secret(&k.namespace, &k.name).cloned().map(Box::new)),
        }
    }

    /// Whether `dep` still has the value `old` (compared in place, nothing cloned).
    pub fn unchanged(&self, dep: &Dep, old: &DepValue) -> bool {
        match (dep, old) {
            (Dep::Service(k), DepValue::Service(old)) => self.service(&k.namespace, &k.name) == old.as_deref(),
            (Dep::Endpoints(k), DepValue::Endpoints(old)) => self.resources.endpoints.get(k) == old.as_deref(),
            (Dep::Slices(k), DepValue::Slices(old)) => {
                let now = self.slices_of(&k.namespace, &k.name);
                now.len() == old.len() && now.iter().zip(old).all(|(a, b)| *a == b)
            }
            (Dep::Secret(k), DepValue::Secret(old)) => self.secret(&k.namespace, &k.name) == old.as_deref(),
            _ => false,
        }
    }
}

/// Looks objects up for one Ingress' translation and records what it read.
pub(crate) struct Reader<'i, 'a> {
    inputs: &'i Inputs<'a>,
    /// Everything read so far.
    pub reads: BTreeSet<Dep>,
}

impl<'i, 'a> Reader<'i, 'a> {
    /// A reader that has read nothing yet.
    pub fn new(inputs: &'i Inputs<'a>) -> Self {
        Self { inputs, reads: BTreeSet::new() }
    }

    /// This instance.
    pub fn options(&self) -> &'a InstanceOptions {
        self.inputs.options
    }

    /// The Service `namespace/name`, if it exists in a watched namespace.
    pub fn service(&mut self, namespace: &str, name: &str) -> Option<&'a Service> {
        self.reads.insert(Dep::Service(ObjectKey::new(namespace, name)));
        self.inputs.service(namespace, name)
    }

    /// The Secret `namespace/name`, if it exists in a watched namespace.
    pub fn secret(&mut self, namespace: &str, name: &str) -> Option<&'a Secret> {
        self.reads.insert(Dep::Secret(ObjectKey::new(namespace, name)));
        self.inputs.secret(namespace, name)
    }

    /// The ready endpoints of `namespace/service` at `port`, from its EndpointSlices and `Endpoints`,
    /// sorted and deduplicated.
    pub fn endpoints(&mut self, namespace: &str, service: &str, port: &ServicePort) -> Vec<Endpoint> {
        self.reads.insert(Dep::Slices(ObjectKey::new(namespace, service)));
        self.reads.insert(Dep::Endpoints(ObjectKey::new(namespace, service)));
        let port_name = port.name.as_deref().unwrap_or("");
        let mut out = BTreeSet::new();
        for slice in self.inputs.slices_of(namespace, service) {
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
        if let Some(endpoints) = self.inputs.resources.endpoints.get(&ObjectKey::new(namespace, service)) {
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
