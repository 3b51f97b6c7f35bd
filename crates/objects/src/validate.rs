//! Apiserver-like validation: the checks the Kubernetes API server would make before accepting an object.
//!
//! In Kubernetes mode the API server already rejected such objects; in standalone mode a manifest file is
//! the "API", so the loader rejects the same objects here and the last good version keeps serving.

use k8s_openapi::api::networking::v1::{Ingress, IngressBackend};

use crate::object::KubeObject;

/// The problems that make `object` unacceptable; empty when it is valid.
pub fn validate(object: &KubeObject) -> Vec<String> {
    let mut problems = Vec::new();
    if object.meta().name.as_deref().unwrap_or("").is_empty() {
        problems.push("metadata.name is required".to_string());
    }
    match object {
        KubeObject::Ingress(ingress) => validate_ingress(ingress, &mut problems),
        KubeObject::Secret(secret) if secret.type_.as_deref() == Some("kubernetes.io/tls") => {
            for key in ["tls.crt", "tls.key"] {
                let in_data = secret.data.as_ref().is_some_and(|d| d.contains_key(key));
                let in_string_data = secret.string_data.as_ref().is_some_and(|d| d.contains_key(key));
                if !in_data && !in_string_data {
                    problems.push(format!("a kubernetes.io/tls Secret needs data[{key}]"));
                }
            }
        }
        _ => {}
    }
    problems
}

fn validate_ingress(ingress: &Ingress, problems: &mut Vec<String>) {
    let Some(spec) = &ingress.spec else {
        problems.push("spec is required".to_string());
        return;
    };
    let rules = spec.rules.as_deref().unwrap_or_default();
    if rules.is_empty() && spec.default_backend.is_none() {
        problems.push("either spec.rules or spec.defaultBackend must be specified".to_string());
    }
    if let Some(backend) = &spec.default_backend {
        validate_backend(backend, "spec.defaultBackend", problems);
    }
    for (i, rule) in rules.iter().enumerate() {
        if let Some(host) = &rule.host {
            if let Err(why) = check_host(host) {
                problems.push(format!("spec.rules[{i}].host {host:?}: {why}"));
            }
        }
        let Some(http) = &rule.http else { continue };
        for (j, path) in http.paths.iter().enumerate() {
            let at = format!("spec.rules[{i}].http.paths[{j}]");
            match path.path_type.as_str() {
                "Exact" | "Prefix" | "ImplementationSpecific" => {}
                other => problems.push(format!("{at}.pathType {other:?}: must be Exact, Prefix or ImplementationSpecific")),
            }
            let value = path.path.as_deref().unwrap_or("");
            let needs_absolute = path.path_type != "ImplementationSpecific" || !value.is_empty();
            if needs_absolute && !value.starts_with('/') {
                problems.push(format!("{at}.path {value:?}: must be an absolute path"));
            }
            validate_backend(&path.backend, &format!("{at}.backend"), problems);
        }
    }
    for (i, tls) in spec.tls.as_deref().unwrap_or_default().iter().enumerate() {
        for host in tls.hosts.as_deref().unwrap_or_default() {
            if let Err(why) = check_host(host) {
                problems.push(format!("spec.tls[{i}].hosts {host:?}: {why}"));
            }
        }
    }
}

fn validate_backend(backend: &IngressBackend, at: &str, problems: &mut Vec<String>) {
    match (&backend.service, &backend.resource) {
        (Some(service), None) => {
            let port = service.port.as_ref();
            let number = port.and_then(|p| p.number);
            let name = port.and_then(|p| p.name.as_deref()).filter(|n| !n.is_empty());
            match (number, name) {
                (Some(n), None) if (1..=65535).contains(&n) => {}
                (Some(n), None) => problems.push(format!("{at}.service.port.number {n}: must be 1-65535")),
                (None, Some(_)) => {}
                _ => problems.push(format!("{at}.service.port: exactly one of number or name is required")),
            }
            if service.name.is_empty() {
                problems.push(format!("{at}.service.name is required"));
            }
        }
        (None, Some(_)) => {}
        _ => problems.push(format!("{at}: exactly one of service or resource is required")),
    }
}

/// A DNS name, optionally with a leading `*.` wildcard label; no IP addresses, no ports.
fn check_host(host: &str) -> Result<(), &'static str> {
    let bare = host.strip_prefix("*.").unwrap_or(host);
    if bare.is_empty() || bare.len() > 253 {
        return Err("must be a DNS name");
    }
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Err("must be a DNS name, not an IP address");
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if bare.split('.').all(label_ok) {
        Ok(())
    } else {
        Err("must be a lower-case DNS name (a leading \"*.\" is the only wildcard)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert!(check_host("foo.bar.com").is_ok());
        assert!(check_host("*.foo.com").is_ok());
        assert!(check_host("foo.*.com").is_err());
        assert!(check_host("1.2.3.4").is_err());
        assert!(check_host("Foo.com").is_err());
    }
}
