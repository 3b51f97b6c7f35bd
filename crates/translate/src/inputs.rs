//! What one Ingress' translation reads besides the Ingress itself: Services, their EndpointSlices and
//! Endpoints, Secrets (a Service's EndpointSlices from the bundle's index). A [`Reader`] is the only way an
//! Ingress' translation reaches them, and records (by hash) every key it asked for ([`Dep`]), so the memo
//! ([`crate::TranslateMemo`]) knows which cached per-Ingress results a changed object makes stale.

use std::collections::BTreeSet;
use std::hash::BuildHasher;

use oxigress_ir::Endpoint;
use oxigress_objects::k8s_openapi::api::core::v1::{Secret, Service, ServicePort};
use oxigress_objects::k8s_openapi::api::discovery::v1::EndpointSlice;
use oxigress_objects::{ObjectKey, Resources};

use crate::options::InstanceOptions;

/// What kind of object (or group of objects) `namespace/name` an Ingress' translation read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Dep {
    /// The Service `namespace/name` (absent counts too).
    Service,
    /// The `Endpoints` object `namespace/name`.
    Endpoints,
    /// Which EndpointSlices are labelled for Service `namespace/name`.
    Slices,
    /// The EndpointSlice `namespace/name` (read as one of its Service's).
    Slice,
    /// The Secret `namespace/name`.
    Secret,
}

/// Hashes what was read ([`Dep::hash`]); one per memo, so that its hashes stay comparable.
pub(crate) type ReadHasher = foldhash::fast::RandomState;

impl Dep {
    /// The hash a read of `namespace/name` of this kind is recorded (and looked up) under: reads are
    /// recorded by hash, without copying keys; two objects with one hash only make the memo plan an
    /// Ingress again that did not need it, which is harmless.
    pub fn hash(self, hasher: &ReadHasher, namespace: &str, name: &str) -> u64 {
        hasher.hash_one((self, namespace, name))
    }
}

/// The objects of one translation.
pub(crate) struct Inputs<'a> {
    resources: &'a Resources,
    options: &'a InstanceOptions,
    /// Hashes the reads [`Reader`]s record.
    read_hasher: ReadHasher,
}

impl<'a> Inputs<'a> {
    /// The inputs of one translation.
    pub fn new(resources: &'a Resources, options: &'a InstanceOptions, read_hasher: ReadHasher) -> Self {
        Self { resources, options, read_hasher }
    }

    /// The Service an EndpointSlice `key` is labelled for now, if it exists.
    pub fn slice_service(&self, key: &ObjectKey) -> Option<ObjectKey> {
        self.resources.slice_service(key)
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

    /// The EndpointSlices labelled for Service `namespace/service` (the bundle keeps them indexed).
    fn slices_of(&self, namespace: &str, service: &str) -> impl Iterator<Item = (&'a ObjectKey, &'a EndpointSlice)> + 'a {
        self.resources.slices_of(namespace, service)
    }

}

/// Looks objects up for one Ingress' translation and records what it read.
pub(crate) struct Reader<'i, 'a> {
    inputs: &'i Inputs<'a>,
    /// Everything read so far, by hash ([`Dep::hash`]; repeats included).
    pub reads: Vec<u64>,
}

impl<'i, 'a> Reader<'i, 'a> {
    /// A reader that has read nothing yet.
    pub fn new(inputs: &'i Inputs<'a>) -> Self {
        Self { inputs, reads: Vec::new() }
    }

    fn read(&mut self, dep: Dep, namespace: &str, name: &str) {
        self.reads.push(dep.hash(&self.inputs.read_hasher, namespace, name));
    }

    /// This instance.
    pub fn options(&self) -> &'a InstanceOptions {
        self.inputs.options
    }

    /// The Service `namespace/name`, if it exists in a watched namespace.
    pub fn service(&mut self, namespace: &str, name: &str) -> Option<&'a Service> {
        self.read(Dep::Service, namespace, name);
        self.inputs.service(namespace, name)
    }

    /// The Secret `namespace/name`, if it exists in a watched namespace.
    pub fn secret(&mut self, namespace: &str, name: &str) -> Option<&'a Secret> {
        self.read(Dep::Secret, namespace, name);
        self.inputs.secret(namespace, name)
    }

    /// The ready endpoints of `namespace/service` at `port`, from its EndpointSlices and `Endpoints`,
    /// sorted and deduplicated.
    pub fn endpoints(&mut self, namespace: &str, service: &str, port: &ServicePort) -> Vec<Endpoint> {
        self.read(Dep::Slices, namespace, service);
        self.read(Dep::Endpoints, namespace, service);
        let port_name = port.name.as_deref().unwrap_or("");
        let mut out = BTreeSet::new();
        for (key, slice) in self.inputs.slices_of(namespace, service) {
            self.read(Dep::Slice, &key.namespace, &key.name);
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
