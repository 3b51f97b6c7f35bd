//! [`InstanceOptions`]: who this gateway instance is and what it owns (the controller flags of Higress).

use serde::{Deserialize, Serialize};

/// The settings that decide what one instance selects and how it names routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InstanceOptions {
    /// Instance name (`--instance-name`; metrics label, `oxigress.io/instance` label value).
    pub instance_name: String,
    /// The instance's own namespace (`--instance-namespace`, Higress `POD_NAMESPACE`): route names of
    /// Ingresses in it are bare `name`, others `ns/name`.
    pub instance_namespace: String,
    /// IngressClass this instance serves (`--ingress-class`): `nginx` also takes class-less Ingresses,
    /// `""` takes all.
    pub ingress_class: String,
    /// Namespaces whose Ingresses, Services, endpoints and Secrets this instance sees; empty = all.
    pub watch_namespaces: Vec<String>,
}

impl Default for InstanceOptions {
    fn default() -> Self {
        Self {
            instance_name: "higress-gateway".to_string(),
            instance_namespace: "higress-system".to_string(),
            ingress_class: "higress".to_string(),
            watch_namespaces: Vec::new(),
        }
    }
}

impl InstanceOptions {
    /// Whether objects of `namespace` are visible to this instance.
    pub fn watches(&self, namespace: &str) -> bool {
        self.watch_namespaces.is_empty() || self.watch_namespaces.iter().any(|n| n == namespace)
    }
}
