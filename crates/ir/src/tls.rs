//! Downstream TLS: certificates and which SNI host uses which, with per-host policy.

use serde::{Deserialize, Serialize};

/// `ns/secret-name`.
pub type CertificateId = String;

/// A server certificate from a `kubernetes.io/tls` Secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// `ns/name` of the Secret.
    pub id: CertificateId,
    /// PEM certificate chain (`tls.crt`).
    pub chain_pem: String,
    /// PEM private key (`tls.key`); never serialized, so dumps and goldens carry no key material.
    #[serde(skip_serializing, default)]
    pub key_pem: String,
}

/// The certificate and policy for one SNI host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsHost {
    /// `foo.com`, `*.foo.com` or `*` (the certificate for clients without a matching SNI).
    pub host: String,
    /// Certificate served.
    pub certificate: CertificateId,
    /// PEM CA bundle: when set, clients must present a certificate it signed (`auth-tls-secret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca_pem: Option<String>,
    /// OpenSSL cipher names for TLS ≤ 1.2 (`ssl-cipher`); empty = the default list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cipher_suites: Vec<String>,
    /// Lowest TLS version accepted (`tls-min-protocol-version`: `TLSv1.0` … `TLSv1.3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    /// Highest TLS version accepted (`tls-max-protocol-version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<String>,
}
