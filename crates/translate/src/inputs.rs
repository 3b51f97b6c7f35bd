//! What one Ingress' translation reads besides the Ingress itself: Services, their EndpointSlices and
//! Endpoints, Secrets. [`Inputs`] indexes them once per translation; a [`Reader`] is the only way an
//! Ingress' translation reaches them, and records (by hash) every key it asked for ([`Dep`]), so the memo
//! ([`crate::TranslateMemo`]) knows which cached per-Ingress results a changed object makes stale.

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};
use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;

use oxigress_ir::Endpoint;
use oxigress_objects::k8s_openapi::api::core::v1::{Secret, Service, ServicePort};
use oxigress_objects::k8s_openapi::api::discovery::v1::EndpointSlice;
use oxigress_objects::{ObjectKey, Resources};

use crate::options::InstanceOptions;

/// The label that ties an EndpointSlice to its Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

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

/// The objects of one translation, with the EndpointSlices indexed by Service.
pub(crate) struct Inputs<'a> {
    resources: &'a Resources,
    options: &'a InstanceOptions,
    /// EndpointSlices by namespace and service, in key order (built once more than a few Services were
    /// looked up: an incremental translation plans a few Ingresses and scans instead).
    slices: OnceCell<SliceIndex<'a>>,
    /// Services whose slices were looked up so far.
    lookups: Cell<usize>,
    /// Hashes the reads [`Reader`]s record.
    read_hasher: ReadHasher,
}

type SliceIndex<'a> = BTreeMap<&'a str, BTreeMap<&'a str, Vec<(&'a ObjectKey, &'a EndpointSlice)>>>;

impl<'a> Inputs<'a> {
    /// The inputs of one translation.
    pub fn new(resources: &'a Resources, options: &'a InstanceOptions, read_hasher: ReadHasher) -> Self {
        Self { resources, options, slices: OnceCell::new(), lookups: Cell::new(0), read_hasher }
    }

    /// The Service an EndpointSlice `key` is labelled for now, if it exists.
    pub fn slice_service(&self, key: &ObjectKey) -> Option<ObjectKey> {
        let slice = self.resources.endpoint_slices.get(key)?;
        let service = slice.metadata.labels.as_ref()?.get(SERVICE_NAME_LABEL)?;
        Some(ObjectKey::new(key.namespace.clone(), service.clone()))
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

    fn slices_of(&self, namespace: &str, service: &str) -> Cow<'_, [(&'a ObjectKey, &'a EndpointSlice)]> {
        /// Lookups answered by scanning before the index is built.
        const SCANS: usize = 8;
        self.lookups.set(self.lookups.get() + 1);
        if self.slices.get().is_none() && self.lookups.get() <= SCANS {
            let labelled = |s: &EndpointSlice| s.metadata.labels.as_ref().and_then(|l| l.get(SERVICE_NAME_LABEL)).is_some_and(|v| v == service);
            let found = self.resources.endpoint_slices.iter().filter(|(k, s)| k.namespace == namespace && labelled(s));
            return Cow::Owned(found.collect());
        }
        let index = self.slices.get_or_init(|| {
            let mut slices: SliceIndex<'a> = BTreeMap::new();
            for (key, slice) in &self.resources.endpoint_slices {
                let labels = slice.metadata.labels.as_ref();
                if let Some(service) = labels.and_then(|l| l.get(SERVICE_NAME_LABEL)) {
                    let services = slices.entry(key.namespace.as_str()).or_default();
                    services.entry(service.as_str()).or_default().push((key, slice));
                }
            }
            slices
        });
        Cow::Borrowed(index.get(namespace).and_then(|s| s.get(service)).map(Vec::as_slice).unwrap_or_default())
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
        for (key, slice) in self.inputs.slices_of(namespace, service).iter() {
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
