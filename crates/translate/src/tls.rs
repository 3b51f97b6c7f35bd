//! Downstream TLS: Ingress `spec.tls` Secrets → certificates, bound to SNI hosts (first Ingress wins).
//!
//! why: Higress attaches a TLS entry to a host only when the entry's host string equals one of the
//! Ingress' rule hosts (no wildcard expansion); an entry without hosts stands for `*`.

use std::collections::{BTreeMap, BTreeSet};

use oxigress_ir::{Certificate, CertificateId, TlsHost};
use oxigress_objects::k8s_openapi::api::core::v1::Secret;
use oxigress_objects::k8s_openapi::api::networking::v1::Ingress;
use oxigress_objects::{Diagnostic, ObjectKey, ObjectRef, Resources};

use crate::annotations::DownstreamTls;
use crate::options::InstanceOptions;

/// Certificates and SNI bindings collected from all selected Ingresses.
#[derive(Default)]
pub struct TlsTable {
    /// Certificates by `ns/name`.
    pub certificates: BTreeMap<CertificateId, Certificate>,
    hosts: BTreeMap<String, (TlsHost, ObjectRef)>,
    /// Client certificates presented to upstreams (`proxy-ssl-secret`), kept even without a host.
    upstream: BTreeSet<CertificateId>,
}

impl TlsTable {
    /// Binds the TLS entries of `ingress` whose hosts are among `rule_hosts`.
    pub fn add_ingress(
        &mut self,
        ingress: &Ingress,
        rule_hosts: &BTreeSet<String>,
        policy: &DownstreamTls,
        resources: &Resources,
        options: &InstanceOptions,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        let owner = ObjectRef::new(
            "Ingress",
            ingress.metadata.namespace.as_deref().unwrap_or(""),
            ingress.metadata.name.as_deref().unwrap_or(""),
        );
        let entries = ingress.spec.as_ref().and_then(|s| s.tls.as_deref()).unwrap_or_default();
        if entries.is_empty() {
            return;
        }
        let client_ca_pem = policy.client_ca_secret.as_ref().and_then(|(ns, name)| {
            let ca = secret(resources, options, ns, name).and_then(|s| secret_value(s, "ca.crt"));
            if ca.is_none() {
                diagnostics.push(Diagnostic::warning(
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
                diagnostics.push(Diagnostic::warning(
                    "TlsSecretMissing",
                    Some(owner.clone()),
                    format!("TLS entry for {} has no secretName; those hosts get no certificate", hosts.join(",")),
                ));
                continue;
            };
            let Some(certificate) = self.certificate(&owner.namespace, secret_name, resources, options, &owner, diagnostics)
            else {
                continue;
            };
            for host in hosts {
                self.bind(host, &certificate, &client_ca_pem, policy, &owner, diagnostics);
            }
        }
    }

    fn bind(
        &mut self,
        host: String,
        certificate: &CertificateId,
        client_ca_pem: &Option<String>,
        policy: &DownstreamTls,
        owner: &ObjectRef,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        if let Some((existing, first)) = self.hosts.get(&host) {
            if &existing.certificate != certificate {
                diagnostics.push(Diagnostic::warning(
                    "DuplicatedTls",
                    Some(owner.clone()),
                    format!("host {host} already has certificate {} from {first}; {certificate} ignored", existing.certificate),
                ));
            }
            return;
        }
        let tls_host = TlsHost {
            host: host.clone(),
            certificate: certificate.clone(),
            client_ca_pem: client_ca_pem.clone(),
            cipher_suites: policy.cipher_suites.clone(),
            min_version: policy.min_version.clone(),
            max_version: policy.max_version.clone(),
        };
        self.hosts.insert(host, (tls_host, owner.clone()));
    }

    fn certificate(
        &mut self,
        namespace: &str,
        name: &str,
        resources: &Resources,
        options: &InstanceOptions,
        owner: &ObjectRef,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<CertificateId> {
        let id = format!("{namespace}/{name}");
        if self.certificates.contains_key(&id) {
            return Some(id);
        }
        let Some(found) = secret(resources, options, namespace, name) else {
            diagnostics.push(Diagnostic::warning(
                "SecretNotFound",
                Some(owner.clone()),
                format!("TLS Secret {id} not found; its hosts get no certificate"),
            ));
            return None;
        };
        let chain = secret_value(found, "tls.crt").filter(|v| v.contains("-----BEGIN"));
        let key = secret_value(found, "tls.key").filter(|v| v.contains("-----BEGIN"));
        let (Some(chain_pem), Some(key_pem)) = (chain, key) else {
            diagnostics.push(Diagnostic::warning(
                "InvalidSecret",
                Some(owner.clone()),
                format!("Secret {id} has no PEM tls.crt and tls.key; its hosts get no certificate"),
            ));
            return None;
        };
        self.certificates.insert(id.clone(), Certificate { id: id.clone(), chain_pem, key_pem });
        Some(id)
    }

    /// The client certificate (`tls.crt`/`tls.key`, registered as a certificate `ns/name`) and CA bundle
    /// (`ca.crt`) of an upstream TLS Secret (`proxy-ssl-secret`); a missing Secret or a Secret without
    /// a certificate is a warning.
    pub fn upstream_secret(
        &mut self,
        namespace: &str,
        name: &str,
        resources: &Resources,
        options: &InstanceOptions,
        owner: &ObjectRef,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> (Option<CertificateId>, Option<String>) {
        let Some(found) = secret(resources, options, namespace, name) else {
            diagnostics.push(Diagnostic::warning(
                "SecretNotFound",
                Some(owner.clone()),
                format!("proxy-ssl-secret {namespace}/{name} not found; no client certificate, upstream not verified"),
            ));
            return (None, None);
        };
        let ca = secret_value(found, "ca.crt").filter(|v| v.contains("-----BEGIN"));
        let has_pair = ["tls.crt", "tls.key"].iter().all(|k| secret_value(found, k).is_some_and(|v| v.contains("-----BEGIN")));
        let id = if has_pair { self.certificate(namespace, name, resources, options, owner, diagnostics) } else { None };
        if let Some(id) = &id {
            self.upstream.insert(id.clone());
        }
        if id.is_none() && ca.is_none() {
            diagnostics.push(Diagnostic::warning(
                "InvalidSecret",
                Some(owner.clone()),
                format!("proxy-ssl-secret {namespace}/{name} has neither tls.crt/tls.key nor ca.crt"),
            ));
        }
        (id, ca)
    }

    /// The certificates some host uses, and the SNI bindings, sorted by host.
    pub fn finish(self) -> (BTreeMap<CertificateId, Certificate>, Vec<TlsHost>) {
        let hosts: Vec<TlsHost> = self.hosts.into_values().map(|(h, _)| h).collect();
        let mut certificates = self.certificates;
        // why: a certificate whose every host went to an older Ingress (DuplicatedTls) serves nothing.
        let upstream = self.upstream;
        certificates.retain(|id, _| upstream.contains(id) || hosts.iter().any(|h| &h.certificate == id));
        (certificates, hosts)
    }
}

pub(crate) fn secret<'r>(resources: &'r Resources, options: &InstanceOptions, namespace: &str, name: &str) -> Option<&'r Secret> {
    if !options.watches(namespace) {
        return None;
    }
    resources.secrets.get(&ObjectKey::new(namespace, name))
}

/// A Secret value from `data` (already base64-decoded) or `stringData`, as UTF-8 text.
pub(crate) fn secret_value(secret: &Secret, key: &str) -> Option<String> {
    if let Some(bytes) = secret.data.as_ref().and_then(|d| d.get(key)) {
        return String::from_utf8(bytes.0.clone()).ok();
    }
    secret.string_data.as_ref().and_then(|d| d.get(key)).cloned()
}
