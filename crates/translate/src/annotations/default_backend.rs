//! `default-backend` (ASAP): `[ns/]service` whose first port serves a route whose own Service has no
//! endpoints (Higress `default_backend.go`: fallback cluster). With `custom-http-errors` (ASAP, comma list
//! of statuses) it also takes the requests whose upstream answered one of those statuses (Higress's
//! internal active redirect to the `<route>-fallback` route); without `default-backend` the codes do nothing,
//! as in Higress.
//!
//! why (Higress `default_backend.go`, istio-fork `validRedirectResponseCodes`, envoy-fork
//! `active_redirect_policy_impl.cc`): a code that is not a number is skipped (error log); 200, 301, 302,
//! 303, 304, 307 and 308 never trigger the redirect and are dropped; when numbers were given but none is
//! left, 503 is used. We report each skipped code as an invalid value.

use oxigress_objects::{Diagnostic, ObjectRef};

use super::{invalid_annotation, Annotations};

/// Statuses Higress's data plane refuses as internal-redirect triggers.
const NEVER_REDIRECTED: &[u16] = &[200, 301, 302, 303, 304, 307, 308];

/// A fallback Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultBackend {
    /// Namespace (the Ingress' when the annotation has none).
    pub namespace: String,
    /// Service name.
    pub service: String,
    /// `custom-http-errors`: upstream statuses that send the request to this Service (sorted, unique);
    /// empty = only used when the route's Service has no endpoints.
    pub error_codes: Vec<u16>,
}

impl DefaultBackend {
    /// Reads `default-backend` and `custom-http-errors`; invalid codes become diagnostics on `object`.
    pub fn parse(
        annotations: &Annotations<'_>,
        namespace: &str,
        object: &ObjectRef,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<Self> {
        let value = annotations.asap("default-backend").map(str::trim).unwrap_or("");
        if value.is_empty() {
            if annotations.asap("custom-http-errors").is_some() {
                diagnostics.push(Diagnostic::warning(
                    "IneffectiveAnnotation",
                    Some(object.clone()),
                    "custom-http-errors has no effect without default-backend (as in Higress)",
                ));
            }
            return None;
        }
        let (namespace, service) = value.split_once('/').unwrap_or((namespace, value));
        let error_codes = annotations
            .asap("custom-http-errors")
            .map(|codes| parse_codes(codes, object, diagnostics))
            .unwrap_or_default();
        Some(Self { namespace: namespace.to_string(), service: service.to_string(), error_codes })
    }
}

/// `404,503` → `[404, 503]`; reports what it drops.
fn parse_codes(value: &str, object: &ObjectRef, diagnostics: &mut Vec<Diagnostic>) -> Vec<u16> {
    let mut invalid = |message: String| {
        diagnostics.push(invalid_annotation(object, format!("custom-http-errors: {message}")))
    };
    let mut numbers = 0;
    let mut codes = Vec::new();
    for raw in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        match raw.parse::<u16>() {
            Ok(code) if (100..=599).contains(&code) => {
                numbers += 1;
                if NEVER_REDIRECTED.contains(&code) {
                    invalid(format!("{code} never triggers the fallback (as in Higress); ignored"));
                } else {
                    codes.push(code);
                }
            }
            _ => invalid(format!("{raw:?} is not an HTTP status (100-599); ignored")),
        }
    }
    if codes.is_empty() && numbers > 0 {
        // why: Higress's pilot replaces an empty list of valid codes with 503.
        codes.push(503);
    }
    codes.sort_unstable();
    codes.dedup();
    codes
}
