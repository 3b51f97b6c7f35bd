//! Upstream annotations (ASAP), Higress `loadbalance.go` and `upstreamtls.go`: what becomes the
//! DestinationRule of each Service port the Ingress uses (here: [`UpstreamPolicy`] on the cluster).
//!
//! - `affinity` / `session-cookie-name` / `session-cookie-path` (any of them) → cookie affinity with
//!   `session-cookie-max-age` (else `session-cookie-expires`) seconds; wins over the two below.
//! - `upstream-hash-by` → consistent hash of `$request_uri`, `$host`, `$remote_addr`, `$http_<name>` or
//!   `$arg_<name>`; wins over `load-balance`.
//! - `load-balance` → `round_robin`, `least_conn` (`least_request`, nginx `ewma`), `random`.
//! - `backend-protocol` HTTP (default), HTTP2, HTTPS, GRPC, GRPCS; `proxy-ssl-secret` (`[ns/]name`, with
//!   `tls.crt`/`tls.key`, optional `ca.crt`), `proxy-ssl-verify`, `proxy-ssl-name`, `proxy-ssl-server-name`.
//!
//! An invalid value is a diagnostic and the default is kept, as Higress ignores it.

use oxigress_ir::{CookieAffinity, HashKey, LoadBalance, UpstreamProtocol};
use oxigress_objects::{Diagnostic, ObjectRef};

use super::Annotations;

/// The upstream annotations of one Ingress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamAnnotations {
    /// Set when any load-balancing annotation is present (Higress then writes a load balancer).
    pub load_balance: Option<LoadBalance>,
    /// The HTTP version upstream.
    pub protocol: UpstreamProtocol,
    /// Upstream TLS, before its Secret is read.
    pub tls: Option<UpstreamTlsRequest>,
}

/// Upstream TLS as the annotations ask for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamTlsRequest {
    /// `(namespace, name)` of `proxy-ssl-secret`.
    pub secret: Option<(String, String)>,
    /// `proxy-ssl-verify: off` (verification needs a `ca.crt` in the Secret anyway).
    pub verify_off: bool,
    /// SNI to send.
    pub sni: Option<String>,
}

impl UpstreamAnnotations {
    /// Whether the Ingress sets anything for its Services (Higress `NeedTrafficPolicy`).
    pub fn is_set(&self) -> bool {
        self != &Self::default()
    }

    /// Reads the load-balancing and upstream TLS annotations; problems become diagnostics on `object`.
    pub fn parse(annotations: &Annotations<'_>, namespace: &str, object: &ObjectRef, diagnostics: &mut Vec<Diagnostic>) -> Self {
        let mut invalid = |key: &str, message: String| {
            diagnostics.push(Diagnostic::warning("InvalidAnnotation", Some(object.clone()), format!("{key}: {message}")))
        };
        let load_balance = load_balance(annotations, &mut invalid);
        let (protocol, tls) = upstream_tls(annotations, namespace, &mut invalid);
        Self { load_balance, protocol, tls }
    }
}

fn load_balance(annotations: &Annotations<'_>, invalid: &mut impl FnMut(&str, String)) -> Option<LoadBalance> {
    let value = |key: &str| annotations.asap(key).map(str::trim);
    if value("affinity").is_some() || value("session-cookie-name").is_some() || value("session-cookie-path").is_some() {
        if let Some(mode) = value("affinity").filter(|m| *m != "cookie") {
            invalid("affinity", format!("{mode:?} is not \"cookie\"; cookie affinity is used (as Higress)"));
        }
        let seconds = |key: &str, invalid: &mut dyn FnMut(&str, String)| {
            let raw = value(key)?;
            match raw.parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    invalid(key, format!("{raw:?} is not a number of seconds"));
                    None
                }
            }
        };
        let max_age = seconds("session-cookie-max-age", invalid).or_else(|| seconds("session-cookie-expires", invalid));
        return Some(LoadBalance::Cookie(CookieAffinity {
            name: value("session-cookie-name").filter(|n| !n.is_empty()).unwrap_or("INGRESSCOOKIE").to_string(),
            path: value("session-cookie-path").filter(|p| !p.is_empty()).unwrap_or("/").to_string(),
            max_age: max_age.unwrap_or(0),
        }));
    }
    if let Some(by) = value("upstream-hash-by") {
        let key = match by {
            "$request_uri" => Some(HashKey::Header(":path".into())),
            "$host" => Some(HashKey::Header(":authority".into())),
            "$remote_addr" => Some(HashKey::SourceIp),
            _ => match (by.strip_prefix("$http_"), by.strip_prefix("$arg_")) {
                // why: nginx's `$http_x_user` is the header `X-User` (Higress passes `x_user` through).
                (Some(header), _) if is_name(header) => Some(HashKey::Header(header.to_ascii_lowercase().replace('_', "-"))),
                (_, Some(arg)) if is_name(arg) => Some(HashKey::Query(arg.to_string())),
                _ => None,
            },
        };
        return match key {
            Some(key) => Some(LoadBalance::Hash { key }),
            None => {
                invalid(
                    "upstream-hash-by",
                    format!("{by:?} is not one of $request_uri, $host, $remote_addr, $http_<name>, $arg_<name>; round robin is used"),
                );
                Some(LoadBalance::RoundRobin)
            }
        };
    }
    let lb = value("load-balance")?;
    Some(match lb.to_ascii_lowercase().as_str() {
        "round_robin" => LoadBalance::RoundRobin,
        "least_conn" | "least_request" | "ewma" => LoadBalance::LeastConn,
        "random" => LoadBalance::Random,
        _ => {
            invalid("load-balance", format!("{lb:?} is not round_robin, least_conn or random; round robin is used"));
            LoadBalance::RoundRobin
        }
    })
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn upstream_tls(
    annotations: &Annotations<'_>,
    namespace: &str,
    invalid: &mut impl FnMut(&str, String),
) -> (UpstreamProtocol, Option<UpstreamTlsRequest>) {
    let value = |key: &str| annotations.asap(key).map(str::trim);
    let secret = value("proxy-ssl-secret").filter(|v| !v.is_empty()).map(|v| {
        let (ns, name) = v.split_once('/').unwrap_or((namespace, v));
        (ns.to_string(), name.to_string())
    });
    let protocol = match value("backend-protocol") {
        None => "HTTP".to_string(),
        Some(p) => {
            let upper = p.to_ascii_uppercase();
            if ["HTTP", "HTTP2", "HTTPS", "GRPC", "GRPCS"].contains(&upper.as_str()) {
                upper
            } else {
                invalid("backend-protocol", format!("{p:?} is not HTTP, HTTP2, HTTPS, GRPC or GRPCS; HTTP is used"));
                "HTTP".to_string()
            }
        }
    };
    let on_off = |key: &str, invalid: &mut dyn FnMut(&str, String)| match value(key) {
        Some("on") => Some(true),
        Some("off") => Some(false),
        Some(other) => {
            invalid(key, format!("{other:?} is not on or off"));
            None
        }
        None => None,
    };
    let verify_off = on_off("proxy-ssl-verify", invalid) == Some(false);
    let server_name = on_off("proxy-ssl-server-name", invalid) == Some(true);
    if protocol == "HTTP" {
        // why: Higress writes no DestinationRule TLS for HTTP backends, even with `proxy-ssl-secret`.
        if secret.is_some() {
            invalid("proxy-ssl-secret", "has no effect with backend-protocol HTTP (as Higress)".to_string());
        }
        return (UpstreamProtocol::Http1, None);
    }
    let http2 = matches!(protocol.as_str(), "HTTP2" | "GRPC" | "GRPCS");
    let tls = matches!(protocol.as_str(), "HTTPS" | "GRPCS") || secret.is_some();
    let sni = value("proxy-ssl-name").filter(|n| server_name && !n.is_empty()).map(String::from);
    let protocol = if http2 { UpstreamProtocol::Http2 } else { UpstreamProtocol::Http1 };
    (protocol, tls.then_some(UpstreamTlsRequest { secret, verify_off, sni }))
}
