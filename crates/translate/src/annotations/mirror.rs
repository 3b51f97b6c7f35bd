//! Mirror annotations (ASAP, Higress `mirror.go`): `mirror-target-service` (`[ns/]name[:port]`, default the
//! Service's first port) or `mirror-target-fqdn` (a DNS name; wins when both are set) with
//! `mirror-target-fqdn-port` (default 80), and `mirror-percentage`.
//!
//! why (Higress `parsePercentage`): an integer below 100 is the share of requests mirrored; 100 and above,
//! or anything that is not an integer, mirror every request (Istio's default). We report the values that
//! are not integers (and negative ones) as invalid; an invalid port is reported and 80 is used, as Higress.

use oxigress_ir::MirrorTarget;
use oxigress_objects::{Diagnostic, ObjectRef};

use super::{invalid_annotation, Annotations};

/// Where an Ingress' mirrored requests go, before its Service is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorDestination {
    /// `mirror-target-service`.
    Service {
        /// Namespace (the Ingress' when the annotation has none).
        namespace: String,
        /// Service name.
        service: String,
        /// Service port; `None` = its first port.
        port: Option<i32>,
    },
    /// `mirror-target-fqdn`, resolved by DNS by the proxy.
    Target(MirrorTarget),
}

/// The mirror annotations of one Ingress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorAnnotations {
    /// Where the copies go.
    pub destination: MirrorDestination,
    /// `mirror-percentage` below 100; `None` = every request.
    pub percent: Option<u8>,
}

impl MirrorAnnotations {
    /// Reads the mirror annotations; `None` without a target. Problems become diagnostics on `object`.
    pub fn parse(
        annotations: &Annotations<'_>,
        namespace: &str,
        object: &ObjectRef,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<Self> {
        let mut invalid = |key: &str, message: String| {
            diagnostics.push(invalid_annotation(object, format!("{key}: {message}")))
        };
        let fqdn = annotations.asap("mirror-target-fqdn").map(str::trim).filter(|v| !v.is_empty());
        let service = annotations.asap("mirror-target-service").map(str::trim).filter(|v| !v.is_empty());
        if fqdn.is_none() && service.is_none() {
            return None;
        }
        let percent = annotations.asap("mirror-percentage").map(str::trim).and_then(|value| match value.parse::<i64>() {
            Ok(p) if (0..100).contains(&p) => u8::try_from(p).ok(),
            Ok(p) if p >= 100 => None,
            _ => {
                invalid("mirror-percentage", format!("{value:?} is not an integer from 0 to 100; every request is mirrored"));
                None
            }
        });
        let destination = if let Some(host) = fqdn {
            let port = match annotations.asap("mirror-target-fqdn-port").map(str::trim) {
                None => 80,
                Some(value) => match value.parse::<u16>() {
                    Ok(port) if port > 0 => port,
                    _ => {
                        invalid("mirror-target-fqdn-port", format!("{value:?} is not a port; 80 is used"));
                        80
                    }
                },
            };
            if !valid_host(host) {
                invalid("mirror-target-fqdn", format!("{host:?} is not a host name; no mirroring"));
                return None;
            }
            MirrorDestination::Target(MirrorTarget::Fqdn { host: host.to_ascii_lowercase(), port })
        } else {
            let value = service.unwrap_or_default();
            let (target, port) = match value.rsplit_once(':') {
                Some((target, port)) => (target, port.parse::<i32>().ok()),
                None => (value, None),
            };
            let (ns, service) = target.split_once('/').unwrap_or((namespace, target));
            MirrorDestination::Service { namespace: ns.to_string(), service: service.to_string(), port }
        };
        Some(Self { destination, percent })
    }
}

/// A DNS name (letters, digits, `-`, `_`; one trailing `.` allowed) or an IP address.
fn valid_host(host: &str) -> bool {
    let name = host.strip_suffix('.').unwrap_or(host);
    host.parse::<std::net::IpAddr>().is_ok()
        || (name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }))
}
