//! `default-backend` (ASAP): `[ns/]service` whose first port serves a route whose own Service has no
//! endpoints (Higress: fallback cluster). `custom-http-errors` is not handled yet.

use super::Annotations;

/// A fallback Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultBackend {
    /// Namespace (the Ingress' when the annotation has none).
    pub namespace: String,
    /// Service name.
    pub service: String,
}

impl DefaultBackend {
    /// Reads `default-backend`.
    pub fn parse(annotations: &Annotations<'_>, namespace: &str) -> Option<Self> {
        let value = annotations.asap("default-backend")?.trim();
        if value.is_empty() {
            return None;
        }
        let (namespace, service) = value.split_once('/').unwrap_or((namespace, value));
        Some(Self { namespace: namespace.to_string(), service: service.to_string() })
    }
}
