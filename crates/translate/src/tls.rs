//! Downstream TLS: Ingress `spec.tls` Secrets → certificates, bound to SNI hosts (first Ingress wins).
//!
//! why: Higress attaches a TLS entry to a host only when the entry's host string equals one of the
//! Ingress' rule hosts (no wildcard expansion); an entry without hosts stands for `*`.
//!
//! Reading Secrets is part of an Ingress' plan ([`add_ingress`], [`upstream_secret`]); a
//! [`CertificateSlot`] replays the plans registering one certificate, a [`TlsHostSlot`] the plans
//! binding one SNI host. Which certificates the snapshot holds (those some bound host or upstream uses)
//! is decided by the memo from the finished slots.

use std::collections::BTreeSet;

use oxigress_ir::{Certificate, CertificateId, TlsHost};
use oxigress_objects::k8s_openapi::api::core::v1::Secret;
use oxigress_objects::k8s_openapi::api::networking::v1::Ingress;
use oxigress_objects::{Diagnostic, ObjectRef};

use crate::annotations::DownstreamTls;
use crate::plan::{PlanBuilder, Step};

/// Plans the SNI bindings of the TLS entries of `ingress` whose hosts are among `rule_hosts`.
pub(crate) fn add_ingress(
    plan: &mut PlanBuilder<'_, '_>,
    ingress: &Ingress,
    rule_hosts: &BTreeSet<String>,
    policy: &DownstreamTls,
) {
    let owner = plan.owner.clone();
    let entries = ingress.spec.as_ref().and_then(|s| s.tls.as_deref()).unwrap_or_default();
    if entries.is_empty() {
        return;
    }
    let client_ca_pem = policy.client_ca_secret.as_ref().and_then(|(ns, name)| {
        let ca = plan.reader.secret(ns, name).and_then(|s| secret_value(s, "ca.crt"));
        if ca.is_none() {
            plan.diagnostics.push(Diagnostic::warning(
                "InvalidClientCaSecret",
                Some(owner.clone()),
                format!("auth-tls-secret {ns}/{name} not found or has no ca.crt; client certificates not required"),
            ));
        }
        ca
    });
    for entry in entries {
        let hosts: Vec<String> = match entry.hosts.as_deref() {
            Some(hosts) if !hosts.is_empty() => hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
            _ => vec!["*".to_string()],
        };
        let hosts: Vec<String> = hosts.into_iter().filter(|h| rule_hosts.contains(h)).collect();
        if hosts.is_empty() {
            continue;
        }
        let Some(secret_name) = entry.secret_name.as_deref().filter(|n| !n.is_empty()) else {
            plan.diagnostics.push(Diagnostic::warning(
                "TlsSecretMissing",
                Some(owner.clone()),
                format!("TLS entry for {} has no secretName; those hosts get no certificate", hosts.join(",")),
            ));
            continue;
        };
        let Some(certificate) = self::certificate(plan, &owner.namespace, secret_name, &owner) else {
            continue;
        };
        for host in hosts {
            plan.push(Step::Bind(TlsHost {
                host,
                certificate: certificate.clone(),
                client_ca_pem: client_ca_pem.clone(),
                cipher_suites: policy.cipher_suites.clone(),
                min_version: policy.min_version.clone(),
                max_version: policy.max_version.clone(),
            }));
        }
    }
}

/// The certificate of Secret `namespace/name` (`tls.crt`/`tls.key`), planned for registration; a missing
/// or invalid Secret is a warning.
fn certificate(plan: &mut PlanBuilder<'_, '_>, namespace: &str, name: &str, owner: &ObjectRef) -> Option<CertificateId> {
    let id = format!("{namespace}/{name}");
    let Some(found) = plan.reader.secret(namespace, name) else {
        plan.diagnostics.push(Diagnostic::warning(
            "SecretNotFound",
            Some(owner.clone()),
            format!("TLS Secret {id} not found; its hosts get no certificate"),
        ));
        return None;
    };
    let chain = secret_value(found, "tls.crt").filter(|v| v.contains("-----BEGIN"));
    let key = secret_value(found, "tls.key").filter(|v| v.contains("-----BEGIN"));
    let (Some(chain_pem), Some(key_pem)) = (chain, key) else {
        plan.diagnostics.push(Diagnostic::warning(
            "InvalidSecret",
            Some(owner.clone()),
            format!("Secret {id} has no PEM tls.crt and tls.key; its hosts get no certificate"),
        ));
        return None;
    };
    plan.push(Step::Certificate(Certificate { id: id.clone(), chain_pem, key_pem }));
    Some(id)
}

/// The client certificate (`tls.crt`/`tls.key`, registered as a certificate `ns/name`) and CA bundle
/// (`ca.crt`) of an upstream TLS Secret (`proxy-ssl-secret`); a missing Secret or a Secret without
/// a certificate is a warning.
pub(crate) fn upstream_secret(
    plan: &mut PlanBuilder<'_, '_>,
    namespace: &str,
    name: &str,
    owner: &ObjectRef,
) -> (Option<CertificateId>, Option<String>) {
    let Some(found) = plan.reader.secret(namespace, name) else {
        plan.diagnostics.push(Diagnostic::warning(
            "SecretNotFound",
            Some(owner.clone()),
            format!("proxy-ssl-secret {namespace}/{name} not found; no client certificate, upstream not verified"),
        ));
        return (None, None);
    };
    let ca = secret_value(found, "ca.crt").filter(|v| v.contains("-----BEGIN"));
    let has_pair = ["tls.crt", "tls.key"].iter().all(|k| secret_value(found, k).is_some_and(|v| v.contains("-----BEGIN")));
    let id = if has_pair { certificate(plan, namespace, name, owner) } else { None };
    if let Some(id) = &id {
        plan.push(Step::UpstreamCertificate(id.clone()));
    }
    if id.is_none() && ca.is_none() {
        plan.diagnostics.push(Diagnostic::warning(
            "InvalidSecret",
            Some(owner.clone()),
            format!("proxy-ssl-secret {namespace}/{name} has neither tls.crt/tls.key nor ca.crt"),
        ));
    }
    (id, ca)
}

/// One certificate as the plans registering it leave it: the first registration, and whether some plan
/// presents it to upstreams (`proxy-ssl-secret`).
#[derive(Default)]
pub struct CertificateSlot<'p> {
    certificate: Option<&'p Certificate>,
    upstream: bool,
}

impl<'p> CertificateSlot<'p> {
    /// Takes `certificate` unless one was registered already (the same Secret always gives the same
    /// certificate: the first is kept).
    pub fn register(&mut self, certificate: &'p Certificate) {
        self.certificate.get_or_insert(certificate);
    }

    /// Marks the certificate as presented to upstreams.
    pub fn add_upstream(&mut self) {
        self.upstream = true;
    }

    /// The certificate, if some plan registered it, and whether it is presented to upstreams (kept even
    /// without an SNI host then).
    pub fn finish(self) -> Option<(Certificate, bool)> {
        self.certificate.map(|c| (c.clone(), self.upstream))
    }
}

/// One SNI host's binding as the plans binding it leave it: the first Ingress' binding wins.
#[derive(Default)]
pub struct TlsHostSlot<'p> {
    bound: Option<(&'p TlsHost, &'p ObjectRef)>,
}

impl<'p> TlsHostSlot<'p> {
    /// Binds `tls_host` unless an earlier Ingress bound its host (`DuplicatedTls` when the certificate differs).
    pub fn bind(&mut self, tls_host: &'p TlsHost, owner: &'p ObjectRef, diagnostics: &mut Vec<Diagnostic>) {
        let Some((existing, first)) = self.bound else {
            self.bound = Some((tls_host, owner));
            return;
        };
        let certificate = &tls_host.certificate;
        if &existing.certificate != certificate {
            diagnostics.push(Diagnostic::warning(
                "DuplicatedTls",
                Some(owner.clone()),
                format!(
                    "host {} already has certificate {} from {first}; {certificate} ignored",
                    tls_host.host, existing.certificate
                ),
            ));
        }
    }

    /// The binding, if some plan bound the host.
    pub fn finish(self) -> Option<TlsHost> {
        self.bound.map(|(h, _)| h.clone())
    }
}

/// A Secret value from `data` (already base64-decoded) or `stringData`, as UTF-8 text.
pub(crate) fn secret_value(secret: &Secret, key: &str) -> Option<String> {
    if let Some(bytes) = secret.data.as_ref().and_then(|d| d.get(key)) {
        return String::from_utf8(bytes.0.clone()).ok();
    }
    secret.string_data.as_ref().and_then(|d| d.get(key)).cloned()
}
