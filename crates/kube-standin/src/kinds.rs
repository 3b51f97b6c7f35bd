//! Which resource a request is about: group/version/plural, and the kind ↔ plural mapping for the
//! kinds oxigress uses (anything else falls back to a naive rule).

/// Plural → kind for the known resources.
const KINDS: &[(&str, &str)] = &[
    ("configmaps", "ConfigMap"),
    ("endpoints", "Endpoints"),
    ("endpointslices", "EndpointSlice"),
    ("events", "Event"),
    ("ingressclasses", "IngressClass"),
    ("ingresses", "Ingress"),
    ("leases", "Lease"),
    ("namespaces", "Namespace"),
    ("nodes", "Node"),
    ("pods", "Pod"),
    ("secrets", "Secret"),
    ("services", "Service"),
    ("wasmplugins", "WasmPlugin"),
];

/// Cluster-scoped plurals; everything else is namespaced.
const CLUSTER_SCOPED: &[&str] = &["ingressclasses", "namespaces", "nodes"];

/// Plurals with a `/status` subresource: writes to the main resource keep the stored `.status`.
const WITH_STATUS: &[&str] = &["ingresses", "services", "wasmplugins", "pods", "nodes", "namespaces"];

/// A resource type: API group (empty for core), version and plural name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Resource {
    /// API group, `""` for the core group.
    pub group: String,
    /// API version (`v1`, `v1alpha1`).
    pub version: String,
    /// Lower-case plural (`ingresses`).
    pub plural: String,
}

impl Resource {
    /// From an `apiVersion` (`v1`, `networking.k8s.io/v1`) and a kind (`Ingress`) or plural (`ingresses`).
    pub fn new(api_version: &str, kind_or_plural: &str) -> Self {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let plural = if kind_or_plural.starts_with(|c: char| c.is_ascii_uppercase()) {
            plural_of(kind_or_plural)
        } else {
            kind_or_plural.to_string()
        };
        Self { group: group.to_string(), version: version.to_string(), plural }
    }

    /// `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The kind (`Ingress`).
    pub fn kind(&self) -> String {
        match KINDS.iter().find(|(p, _)| *p == self.plural) {
            Some((_, kind)) => (*kind).to_string(),
            None => {
                let singular = self.plural.strip_suffix('s').unwrap_or(&self.plural);
                let mut chars = singular.chars();
                chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
            }
        }
    }

    /// Whether objects of this resource live outside namespaces.
    pub fn cluster_scoped(&self) -> bool {
        CLUSTER_SCOPED.contains(&self.plural.as_str())
    }

    /// Whether this resource has a `/status` subresource.
    pub fn has_status(&self) -> bool {
        WITH_STATUS.contains(&self.plural.as_str())
    }
}

/// Kind → plural (`Ingress` → `ingresses`).
pub fn plural_of(kind: &str) -> String {
    match KINDS.iter().find(|(_, k)| *k == kind) {
        Some((plural, _)) => (*plural).to_string(),
        None => format!("{}s", kind.to_ascii_lowercase()),
    }
}
