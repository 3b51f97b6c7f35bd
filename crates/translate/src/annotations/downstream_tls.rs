//! Downstream TLS (ASAP): `auth-tls-secret` (`[ns/]name`, a Secret with `ca.crt`: clients must present a
//! certificate it signed), `ssl-cipher` (an OpenSSL cipher list separated by `:`) and
//! `tls-min-protocol-version` / `tls-max-protocol-version` (`TLSv1.0` … `TLSv1.3`, exactly as Higress's
//! `convertTLSVersion` spells them; anything else is an invalid value).

use oxigress_objects::{Diagnostic, ObjectRef};

use super::Annotations;

/// Cipher names BoringSSL (Envoy's TLS library) accepts for TLS 1.0–1.2.
///
/// why: entries outside this list are dropped, and a list left empty means the default list, so a value
/// that is not a valid `:`-separated list (e.g. one separated by commas) leaves the defaults in place.
const KNOWN_CIPHERS: &[&str] = &[
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE-PSK-CHACHA20-POLY1305",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-PSK-AES128-CBC-SHA",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA",
    "ECDHE-PSK-AES256-CBC-SHA",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES128-SHA",
    "PSK-AES128-CBC-SHA",
    "AES256-SHA",
    "PSK-AES256-CBC-SHA",
    "DES-CBC3-SHA",
];

/// Downstream TLS policy of one Ingress' TLS hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownstreamTls {
    /// `(namespace, name)` of the Secret holding `ca.crt`.
    pub client_ca_secret: Option<(String, String)>,
    /// Cipher names; empty = defaults.
    pub cipher_suites: Vec<String>,
    /// `tls-min-protocol-version`.
    pub min_version: Option<String>,
    /// `tls-max-protocol-version`.
    pub max_version: Option<String>,
}

impl DownstreamTls {
    /// Reads `auth-tls-secret` and `ssl-cipher`.
    pub fn parse(
        annotations: &Annotations<'_>,
        namespace: &str,
        object: &ObjectRef,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Self {
        let client_ca_secret = annotations.asap("auth-tls-secret").map(str::trim).filter(|v| !v.is_empty()).map(|v| {
            let (ns, name) = v.split_once('/').unwrap_or((namespace, v));
            (ns.to_string(), name.to_string())
        });
        let mut cipher_suites = Vec::new();
        if let Some(value) = annotations.asap("ssl-cipher") {
            for entry in value.split(':').map(str::trim).filter(|e| !e.is_empty()) {
                if KNOWN_CIPHERS.contains(&entry) {
                    cipher_suites.push(entry.to_string());
                } else {
                    diagnostics.push(super::invalid_annotation(object, format!("ssl-cipher: unknown cipher {entry:?} ignored")));
                }
            }
        }
        let mut version = |key: &str| {
            let value = annotations.asap(key)?.trim();
            if ["TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"].contains(&value) {
                return Some(value.to_string());
            }
            diagnostics.push(super::invalid_annotation(
                object,
                format!("{key}: {value:?} is not TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3"),
            ));
            None
        };
        let min_version = version("tls-min-protocol-version");
        let max_version = version("tls-max-protocol-version");
        Self { client_ca_secret, cipher_suites, min_version, max_version }
    }
}
