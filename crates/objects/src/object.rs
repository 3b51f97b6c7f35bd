//! The object kinds oxigress understands, and how objects are named (`Kind ns/name`).

use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::wasm_plugin::WasmPlugin;

/// The namespace an object without `metadata.namespace` lands in, as `kubectl apply` does.
pub const DEFAULT_NAMESPACE: &str = "default";

/// `namespace/name` of an object of a known kind; cluster-scoped objects have an empty namespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    /// Namespace, empty for cluster-scoped kinds.
    pub namespace: String,
    /// Object name.
    pub name: String,
}

impl ObjectKey {
    /// Builds a key.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self { namespace: namespace.into(), name: name.into() }
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

/// A reference to one object of any kind: what diagnostics, routes and metrics point at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    /// Kind, e.g. `Ingress`.
    pub kind: String,
    /// Namespace, empty for cluster-scoped kinds.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Object name.
    pub name: String,
}

impl ObjectRef {
    /// Builds a reference.
    pub fn new(kind: &str, namespace: &str, name: &str) -> Self {
        Self { kind: kind.to_string(), namespace: namespace.to_string(), name: name.to_string() }
    }

    /// The `namespace/name` part.
    pub fn key(&self) -> ObjectKey {
        ObjectKey::new(self.namespace.clone(), self.name.clone())
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.key())
    }
}

/// One typed object of a kind oxigress reads.
// why: boxing the variants would change every constructor and match in the sources; the size is fine.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum KubeObject {
    /// `networking.k8s.io/v1` Ingress.
    Ingress(Ingress),
    /// `networking.k8s.io/v1` IngressClass (cluster-scoped).
    IngressClass(IngressClass),
    /// `v1` Service.
    Service(Service),
    /// `discovery.k8s.io/v1` EndpointSlice.
    EndpointSlice(EndpointSlice),
    /// `v1` Endpoints.
    Endpoints(Endpoints),
    /// `v1` Secret.
    Secret(Secret),
    /// `v1` ConfigMap.
    ConfigMap(ConfigMap),
    /// `extensions.higress.io/v1alpha1` WasmPlugin.
    WasmPlugin(WasmPlugin),
}

impl KubeObject {
    /// The kind name, as in `kind:`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ingress(_) => "Ingress",
            Self::IngressClass(_) => "IngressClass",
            Self::Service(_) => "Service",
            Self::EndpointSlice(_) => "EndpointSlice",
            Self::Endpoints(_) => "Endpoints",
            Self::Secret(_) => "Secret",
            Self::ConfigMap(_) => "ConfigMap",
            Self::WasmPlugin(_) => "WasmPlugin",
        }
    }

    /// Whether the kind is cluster-scoped (no namespace).
    pub fn cluster_scoped(&self) -> bool {
        matches!(self, Self::IngressClass(_))
    }

    /// The object's metadata.
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Self::Ingress(o) => &o.metadata,
            Self::IngressClass(o) => &o.metadata,
            Self::Service(o) => &o.metadata,
            Self::EndpointSlice(o) => &o.metadata,
            Self::Endpoints(o) => &o.metadata,
            Self::Secret(o) => &o.metadata,
            Self::ConfigMap(o) => &o.metadata,
            Self::WasmPlugin(o) => &o.metadata,
        }
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Self::Ingress(o) => &mut o.metadata,
            Self::IngressClass(o) => &mut o.metadata,
            Self::Service(o) => &mut o.metadata,
            Self::EndpointSlice(o) => &mut o.metadata,
            Self::Endpoints(o) => &mut o.metadata,
            Self::Secret(o) => &mut o.metadata,
            Self::ConfigMap(o) => &mut o.metadata,
            Self::WasmPlugin(o) => &mut o.metadata,
        }
    }

    /// Fills `metadata.namespace` with `default` for namespaced kinds that lack one (as `kubectl apply`),
    /// and clears it for cluster-scoped kinds.
    pub fn normalize_namespace(&mut self) {
        let cluster_scoped = self.cluster_scoped();
        let meta = self.meta_mut();
        if cluster_scoped {
            meta.namespace = None;
        } else if meta.namespace.as_deref().unwrap_or("").is_empty() {
            meta.namespace = Some(DEFAULT_NAMESPACE.to_string());
        }
    }

    /// `Kind ns/name` of this object.
    pub fn object_ref(&self) -> ObjectRef {
        let meta = self.meta();
        ObjectRef::new(
            self.kind(),
            meta.namespace.as_deref().unwrap_or(""),
            meta.name.as_deref().unwrap_or(""),
        )
    }
}
