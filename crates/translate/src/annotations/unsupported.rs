//! Annotations oxigress does not implement yet are reported, never silently ignored: one warning
//! (`UnsupportedAnnotation`) per annotation and Ingress, listed by `/debug/diagnostics` and logged once by
//! the controller. See `docs/annotations.md` for the table.

use oxigress_objects::{Diagnostic, ObjectRef};

use super::{Annotations, HIGRESS_PREFIX, NGINX_PREFIX};

/// Keys (without prefix) that some family of this module reads (besides the `higress.io/*-match-*` family).
pub const SUPPORTED: &[&str] = &[
    "affinity",
    "app-root",
    "auth-realm",
    "auth-secret",
    "auth-secret-type",
    "auth-tls-secret",
    "auth-type",
    "backend-protocol",
    "canary",
    "canary-by-cookie",
    "canary-by-header",
    "canary-by-header-pattern",
    "canary-by-header-value",
    "canary-weight",
    "canary-weight-total",
    "cors-allow-credentials",
    "cors-allow-headers",
    "cors-allow-methods",
    "cors-allow-origin",
    "cors-expose-headers",
    "cors-max-age",
    "custom-http-errors",
    "default-backend",
    "denylist-source-range",
    "enable-cors",
    "force-ssl-redirect",
    "full-path-regex",
    "ignore-path-case",
    "load-balance",
    "match-method",
    "mirror-percentage",
    "mirror-target-fqdn",
    "mirror-target-fqdn-port",
    "mirror-target-service",
    "permanent-redirect",
    "permanent-redirect-code",
    "proxy-next-upstream",
    "proxy-next-upstream-timeout",
    "proxy-next-upstream-tries",
    "proxy-ssl-name",
    "proxy-ssl-secret",
    "proxy-ssl-server-name",
    "proxy-ssl-verify",
    "request-header-control-add",
    "request-header-control-remove",
    "request-header-control-update",
    "response-header-control-add",
    "response-header-control-remove",
    "response-header-control-update",
    "rewrite-path",
    "rewrite-target",
    "route-limit-burst-multiplier",
    "route-limit-rpm",
    "route-limit-rps",
    "session-cookie-expires",
    "session-cookie-max-age",
    "session-cookie-name",
    "session-cookie-path",
    "ssl-cipher",
    "ssl-redirect",
    "temporal-redirect",
    "timeout",
    "tls-max-protocol-version",
    "tls-min-protocol-version",
    "upstream-hash-by",
    "upstream-vhost",
    "use-regex",
    "whitelist-source-range",
];

/// Reports every `nginx.ingress.kubernetes.io/` or `higress.io/` annotation no family reads.
pub fn report(annotations: &Annotations<'_>, object: &ObjectRef, diagnostics: &mut Vec<Diagnostic>) {
    for (key, _) in annotations.all() {
        let Some(suffix) = key.strip_prefix(NGINX_PREFIX).or_else(|| key.strip_prefix(HIGRESS_PREFIX)) else {
            continue;
        };
        let is_match = ["exact-", "prefix-", "regex-"].iter().any(|kind| {
            key.starts_with(HIGRESS_PREFIX)
                && suffix.strip_prefix(kind).is_some_and(|rest| {
                    ["match-header-", "match-pseudo-header-", "match-query-"].iter().any(|m| rest.starts_with(m))
                })
        });
        if is_match || SUPPORTED.contains(&suffix) {
            continue;
        }
        diagnostics.push(Diagnostic::warning(
            "UnsupportedAnnotation",
            Some(object.clone()),
            format!("{key} is not supported by oxigress yet and has no effect (docs/annotations.md)"),
        ));
    }
}
