//! [`Builder`]: the reflector caches → one [`SourceSnapshot`]. Objects pass the same apiserver-like
//! checks as manifest files (`oxigress_objects::validate`); an invalid object becomes a diagnostic and
//! its last good version (if this controller saw one) stays in use, as in standalone mode.

use std::collections::{BTreeMap, BTreeSet};

use kube::api::DynamicObject;
use oxigress_objects::{validate::validate, Diagnostic, KubeObject, ObjectKey, ObjectRef, Resources, WasmPlugin};
use oxigress_sources::SourceSnapshot;

use crate::source::Caches;

/// Builds snapshots, remembering the last good version of every object.
#[derive(Default)]
pub(crate) struct Builder {
    last_good: BTreeMap<(&'static str, ObjectKey), KubeObject>,
    revision: u64,
}

impl Builder {
    /// A snapshot of everything the caches hold now.
    pub(crate) fn build(&mut self, caches: &Caches) -> SourceSnapshot {
        let mut objects = Vec::new();
        let mut diagnostics = Vec::new();
        collect(&caches.ingresses, KubeObject::Ingress, &mut objects);
        collect(&caches.ingress_classes, KubeObject::IngressClass, &mut objects);
        collect(&caches.services, KubeObject::Service, &mut objects);
        collect(&caches.endpoint_slices, KubeObject::EndpointSlice, &mut objects);
        collect(&caches.secrets, KubeObject::Secret, &mut objects);
        collect(&caches.config_maps, KubeObject::ConfigMap, &mut objects);
        for store in &caches.wasm_plugins {
            for dynamic in store.state() {
                match wasm_plugin(&dynamic) {
                    Ok(plugin) => objects.push(KubeObject::WasmPlugin(plugin)),
                    Err((object, message)) => {
                        diagnostics.push(Diagnostic::error("InvalidObject", Some(object), message))
                    }
                }
            }
        }
        let mut resources = Resources::default();
        let mut seen = BTreeSet::new();
        for mut object in objects {
            object.normalize_namespace();
            let reference = object.object_ref();
            let key = (object.kind(), reference.key());
            let problems = validate(&object);
            let accepted = if problems.is_empty() {
                self.last_good.insert(key.clone(), object.clone());
                Some(object)
            } else {
                let kept = self.last_good.get(&key).cloned();
                let suffix = if kept.is_some() { "; keeping its last good version" } else { "" };
                let message = format!("{}{suffix}", problems.join("; "));
                diagnostics.push(Diagnostic::error("InvalidObject", Some(reference), message));
                kept
            };
            if let Some(object) = accepted {
                seen.insert(key);
                resources.insert(object);
            }
        }
        // Forget deleted objects, so a re-created invalid one is not replaced by an old version.
        self.last_good.retain(|key, _| seen.contains(key));
        self.revision += 1;
        SourceSnapshot { resources, diagnostics, revision: self.revision, changes: Default::default() }
    }
}

fn collect<K>(
    stores: &[kube::runtime::reflector::Store<K>],
    wrap: fn(K) -> KubeObject,
    out: &mut Vec<KubeObject>,
) where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    for store in stores {
        out.extend(store.state().into_iter().map(|object| wrap((*object).clone())));
    }
}

/// A dynamic WasmPlugin as the typed object the translator reads.
fn wasm_plugin(dynamic: &DynamicObject) -> Result<WasmPlugin, (ObjectRef, String)> {
    let reference = ObjectRef::new(
        "WasmPlugin",
        dynamic.metadata.namespace.as_deref().unwrap_or(""),
        dynamic.metadata.name.as_deref().unwrap_or(""),
    );
    let mut value = serde_json::to_value(dynamic).map_err(|e| (reference.clone(), e.to_string()))?;
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".into(), oxigress_objects::wasm_plugin::API_VERSION.into());
        map.insert("kind".into(), "WasmPlugin".into());
    }
    serde_json::from_value(value).map_err(|e| (reference, format!("cannot decode: {e}")))
}
