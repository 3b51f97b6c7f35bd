//! [`Resources`]: the bundle of typed objects one source currently holds, keyed by `namespace/name`.
//! The input of selection and translation; sources rebuild it, translation only reads it.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

use crate::object::{KubeObject, ObjectKey, ObjectRef};
use crate::wasm_plugin::WasmPlugin;

/// Every object a source holds, by kind, each kind keyed by `namespace/name` (deterministic order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources {
    /// Ingresses.
    pub ingresses: BTreeMap<ObjectKey, Ingress>,
    /// IngressClasses (cluster-scoped: empty namespace).
    pub ingress_classes: BTreeMap<ObjectKey, IngressClass>,
    /// Services.
    pub services: BTreeMap<ObjectKey, Service>,
    /// EndpointSlices.
    pub endpoint_slices: BTreeMap<ObjectKey, EndpointSlice>,
    /// Endpoints.
    pub endpoints: BTreeMap<ObjectKey, Endpoints>,
    /// Secrets.
    pub secrets: BTreeMap<ObjectKey, Secret>,
    /// ConfigMaps.
    pub config_maps: BTreeMap<ObjectKey, ConfigMap>,
    /// WasmPlugins.
    pub wasm_plugins: BTreeMap<ObjectKey, WasmPlugin>,
    /// The names of the EndpointSlices labelled for each Service (`namespace/service`), kept in step with
    /// `endpoint_slices` by [`Resources::insert`] and [`Resources::remove`] (add and remove objects only
    /// through them), so a Service's slices are found without scanning every slice.
    slices_by_service: BTreeMap<ObjectKey, BTreeSet<String>>,
}

/// The label that ties an EndpointSlice to its Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// The Service `slice` (in namespace `namespace`) is labelled for.
fn labelled_service(namespace: &str, slice: &EndpointSlice) -> Option<ObjectKey> {
    let service = slice.metadata.labels.as_ref()?.get(SERVICE_NAME_LABEL)?;
    Some(ObjectKey::new(namespace, service.as_str()))
}

impl Resources {
    /// Adds (or replaces) an object; returns the previous object with the same kind and key.
    pub fn insert(&mut self, object: KubeObject) -> Option<KubeObject> {
        let key = object.object_ref().key();
        match object {
            KubeObject::Ingress(o) => self.ingresses.insert(key, o).map(KubeObject::Ingress),
            KubeObject::IngressClass(o) => self.ingress_classes.insert(key, o).map(KubeObject::IngressClass),
            KubeObject::Service(o) => self.services.insert(key, o).map(KubeObject::Service),
            KubeObject::EndpointSlice(o) => {
                if let Some(service) = labelled_service(&key.namespace, &o) {
                    self.slices_by_service.entry(service).or_default().insert(key.name.clone());
                }
                let previous = self.endpoint_slices.insert(key.clone(), o);
                if let Some(old) = &previous {
                    self.unindex_slice(&key, old);
                }
                previous.map(KubeObject::EndpointSlice)
            }
            KubeObject::Endpoints(o) => self.endpoints.insert(key, o).map(KubeObject::Endpoints),
            KubeObject::Secret(o) => self.secrets.insert(key, o).map(KubeObject::Secret),
            KubeObject::ConfigMap(o) => self.config_maps.insert(key, o).map(KubeObject::ConfigMap),
            KubeObject::WasmPlugin(o) => self.wasm_plugins.insert(key, o).map(KubeObject::WasmPlugin),
        }
    }

    /// Removes the object `reference` points at; returns whether there was one.
    pub fn remove(&mut self, reference: &ObjectRef) -> bool {
        let key = reference.key();
        match reference.kind.as_str() {
            "Ingress" => self.ingresses.remove(&key).is_some(),
            "IngressClass" => self.ingress_classes.remove(&key).is_some(),
            "Service" => self.services.remove(&key).is_some(),
            "EndpointSlice" => match self.endpoint_slices.remove(&key) {
                Some(old) => {
                    self.unindex_slice(&key, &old);
                    true
                }
                None => false,
            },
            "Endpoints" => self.endpoints.remove(&key).is_some(),
            "Secret" => self.secrets.remove(&key).is_some(),
            "ConfigMap" => self.config_maps.remove(&key).is_some(),
            "WasmPlugin" => self.wasm_plugins.remove(&key).is_some(),
            _ => false,
        }
    }

    /// The Service the EndpointSlice `key` is labelled for now, if the slice exists and has the label.
    pub fn slice_service(&self, key: &ObjectKey) -> Option<ObjectKey> {
        labelled_service(&key.namespace, self.endpoint_slices.get(key)?)
    }

    /// The EndpointSlices labelled for Service `namespace/service`, by name.
    pub fn slices_of<'a>(
        &'a self,
        namespace: &str,
        service: &str,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a EndpointSlice)> + 'a {
        let names = self.slices_by_service.get(&ObjectKey::new(namespace, service));
        let namespace = namespace.to_string();
        names
            .into_iter()
            .flatten()
            .filter_map(move |name| self.endpoint_slices.get_key_value(&ObjectKey::new(namespace.as_str(), name.as_str())))
    }

    /// Takes the EndpointSlice `key` (whose object was `old`) out of its Service's list, unless the
    /// slice now there is labelled for the same Service.
    fn unindex_slice(&mut self, key: &ObjectKey, old: &EndpointSlice) {
        let Some(service) = labelled_service(&key.namespace, old) else { return };
        let current = self.endpoint_slices.get(key).and_then(|now| labelled_service(&key.namespace, now));
        if current.as_ref() == Some(&service) {
            return;
        }
        if let Some(names) = self.slices_by_service.get_mut(&service) {
            names.remove(&key.name);
            if names.is_empty() {
                self.slices_by_service.remove(&service);
            }
        }
    }

    /// Builds a bundle from objects; a later object replaces an earlier one with the same kind and key.
    pub fn from_objects(objects: impl IntoIterator<Item = KubeObject>) -> Self {
        let mut resources = Self::default();
        for object in objects {
            resources.insert(object);
        }
        resources
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{load_documents, LoadedDocument};

    fn slice(name: &str, service: Option<&str>) -> KubeObject {
        let labels = service.map_or(String::new(), |s| format!(", labels: {{kubernetes.io/service-name: {s}}}"));
        let text = format!(
            "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: {name}, namespace: ns{labels}}}\naddressType: IPv4\nendpoints: []\n"
        );
        match load_documents(&text).unwrap().pop().unwrap() {
            LoadedDocument::Object(object) => object,
            other => panic!("{other:?}"),
        }
    }

    fn names(resources: &Resources, service: &str) -> Vec<String> {
        resources.slices_of("ns", service).map(|(key, _)| key.name.clone()).collect()
    }

    #[test]
    fn slices_are_found_by_their_service_label_through_every_change() {
        let mut resources = Resources::default();
        resources.insert(slice("b-1", Some("b")));
        resources.insert(slice("a-2", Some("a")));
        resources.insert(slice("a-1", Some("a")));
        resources.insert(slice("free", None));
        assert_eq!(names(&resources, "a"), ["a-1", "a-2"]);
        assert_eq!(names(&resources, "b"), ["b-1"]);

        // Relabelled: it moves to the other Service; the same label again changes nothing.
        resources.insert(slice("a-2", Some("b")));
        resources.insert(slice("b-1", Some("b")));
        assert_eq!(names(&resources, "a"), ["a-1"]);
        assert_eq!(names(&resources, "b"), ["a-2", "b-1"]);

        // Label dropped, then removed.
        resources.insert(slice("a-1", None));
        assert!(names(&resources, "a").is_empty());
        assert!(resources.remove(&ObjectRef::new("EndpointSlice", "ns", "b-1")));
        assert_eq!(names(&resources, "b"), ["a-2"]);
        assert!(resources.remove(&ObjectRef::new("EndpointSlice", "ns", "a-2")));
        assert!(names(&resources, "b").is_empty());
        assert_eq!(resources, Resources::from_objects([slice("a-1", None), slice("free", None)]));
    }
}
