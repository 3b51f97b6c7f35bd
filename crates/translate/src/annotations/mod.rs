//! Ingress annotations, one family per file, as Higress (`pkg/ingress/kube/annotations/*.go`).
//!
//! Lookup precedence: "ASAP" keys read `nginx.ingress.kubernetes.io/<key>` first, then `higress.io/<key>`;
//! "H" keys exist only under `higress.io/`. Each family parses into plain data; `ingress.rs` applies it.

mod auth;
mod canary;
mod default_backend;
mod downstream_tls;
mod mirror;
mod policy;
mod retry;
mod route_match;
mod unsupported;
mod upstream;

pub use auth::BasicAuthSpec;
pub use canary::{is_canary, Canary};
pub use default_backend::DefaultBackend;
pub use downstream_tls::DownstreamTls;
pub use mirror::{MirrorAnnotations, MirrorDestination};
pub use policy::PolicyAnnotations;
pub use route_match::RouteMatchExtras;
pub use upstream::{UpstreamAnnotations, UpstreamTlsRequest};
pub use unsupported::SUPPORTED;

use std::collections::BTreeMap;

use oxigress_objects::{Diagnostic, ObjectRef};

/// The diagnostic code of an annotation whose value is invalid; it marks the Ingress (its `object`) as
/// not translated cleanly, so the controller can keep that Ingress' last good version.
pub const INVALID_ANNOTATION: &str = "InvalidAnnotation";

/// The [`INVALID_ANNOTATION`] warning about `object`, saying `message` (which names the annotation).
fn invalid_annotation(object: &ObjectRef, message: String) -> Diagnostic {
    Diagnostic::warning(INVALID_ANNOTATION, Some(object.clone()), message)
}

/// `nginx.ingress.kubernetes.io/`.
pub const NGINX_PREFIX: &str = "nginx.ingress.kubernetes.io/";
/// `higress.io/`.
pub const HIGRESS_PREFIX: &str = "higress.io/";

/// The annotations of one Ingress, with lookup helpers.
pub struct Annotations<'a> {
    map: Option<&'a BTreeMap<String, String>>,
}

impl<'a> Annotations<'a> {
    /// Wraps an Ingress' `metadata.annotations`.
    pub fn new(map: Option<&'a BTreeMap<String, String>>) -> Self {
        Self { map }
    }

    /// An "ASAP" key: the nginx spelling first, then the higress one.
    pub fn asap(&self, key: &str) -> Option<&'a str> {
        let map = self.map?;
        map.get(&format!("{NGINX_PREFIX}{key}")).or_else(|| map.get(&format!("{HIGRESS_PREFIX}{key}"))).map(String::as_str)
    }

    /// An "H" key: only `higress.io/<key>`.
    pub fn higress(&self, key: &str) -> Option<&'a str> {
        self.map?.get(&format!("{HIGRESS_PREFIX}{key}")).map(String::as_str)
    }

    /// Every annotation: (key, value).
    pub fn all(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.map.into_iter().flatten().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Every `higress.io/` annotation: (key without prefix, value).
    pub fn higress_only(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.map
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| k.strip_prefix(HIGRESS_PREFIX).map(|k| (k, v.as_str())))
    }
}

/// Everything the annotation families of one Ingress say.
pub struct IngressAnnotations {
    /// Extra header / query / method matches on every route.
    pub route_match: RouteMatchExtras,
    /// Fallback Service when a route's Service has no endpoints.
    pub default_backend: Option<DefaultBackend>,
    /// Downstream TLS policy for the Ingress' TLS hosts.
    pub downstream_tls: DownstreamTls,
    /// Redirects, header edits, host rewrite, allow-list, timeout, app-root.
    pub policy: PolicyAnnotations,
    /// Set when the Ingress is a canary.
    pub canary: Option<Canary>,
    /// `auth-type: basic` with its Secret (read when the Ingress is translated).
    pub basic_auth: Option<BasicAuthSpec>,
    /// Load balancing, protocol and TLS for the Services the Ingress uses.
    pub upstream: UpstreamAnnotations,
    /// Where copies of the requests go.
    pub mirror: Option<MirrorAnnotations>,
}

impl IngressAnnotations {
    /// Parses every family; problems become diagnostics about `object`.
    pub fn parse(
        annotations: &Annotations<'_>,
        namespace: &str,
        object: &ObjectRef,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Self {
        unsupported::report(annotations, object, diagnostics);
        Self {
            route_match: RouteMatchExtras::parse(annotations, object, diagnostics),
            default_backend: DefaultBackend::parse(annotations, namespace, object, diagnostics),
            downstream_tls: DownstreamTls::parse(annotations, namespace, object, diagnostics),
            policy: {
                let mut policy = PolicyAnnotations::parse(annotations, object, diagnostics);
                policy.policy.retry = retry::parse(annotations, object, diagnostics);
                policy
            },
            upstream: UpstreamAnnotations::parse(annotations, namespace, object, diagnostics),
            canary: (annotations.asap("canary").is_some_and(|v| v.trim() == "true"))
                .then(|| Canary::parse(annotations, object, diagnostics)),
            basic_auth: BasicAuthSpec::parse(annotations, namespace, object, diagnostics),
            mirror: MirrorAnnotations::parse(annotations, namespace, object, diagnostics),
        }
    }
}

/// Escapes RE2/Rust-regex metacharacters so `text` matches literally (paths, header values, origins).
fn regex_escape(text: &str) -> String {
    text.chars().fold(String::new(), |mut out, c| {
        if "^$.*+?()[]{}|\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}
