//! [`Resources`]: the bundle of typed objects one source currently holds, keyed by `namespace/name`.
//! The input of selection and translation; sources rebuild it, translation only reads it.

use std::collections::BTreeMap;

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
}

impl Resources {
    /// Adds (or replaces) an object; returns the previous object with the same kind and key.
    pub fn insert(&mut self, object: KubeObject) -> Option<KubeObject> {
        let key = object.object_ref().key();
        match object {
            KubeObject::Ingress(o) => self.ingresses.insert(key, o).map(KubeObject::Ingress),
            KubeObject::IngressClass(o) => self.ingress_classes.insert(key, o).map(KubeObject::IngressClass),
            KubeObject::Service(o) => self.services.insert(key, o).map(KubeObject::Service),
            KubeObject::EndpointSlice(o) => self.endpoint_slices.insert(key, o).map(KubeObject::EndpointSlice),
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
            "EndpointSlice" => self.endpoint_slices.remove(&key).is_some(),
            "Endpoints" => self.endpoints.remove(&key).is_some(),
            "Secret" => self.secrets.remove(&key).is_some(),
            "ConfigMap" => self.config_maps.remove(&key).is_some(),
            "WasmPlugin" => self.wasm_plugins.remove(&key).is_some(),
            _ => false,
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
