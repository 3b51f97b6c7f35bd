//! Downstream TLS on BoringSSL: certificates by SNI (exact, then one-label wildcard, then the `*`
//! certificate, then the first one), per-host client-certificate verification and cipher lists, chosen in
//! the handshake's certificate callback from the live runtime, so certificate changes need no restart.
//! A host's TLS version range (`tls-min/max-protocol-version`) refuses handshakes outside it.

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::Arc;

use async_trait::async_trait;
use oxigress_ir::Snapshot;
use pingora::listeners::TlsAccept;
use pingora::protocols::tls::TlsRef;
use pingora::tls::ext;
use pingora::tls::pkey::{PKey, Private};
use pingora::tls::ssl::{NameType, SslRef, SslVerifyMode, SslVersion};
use pingora::tls::x509::store::X509StoreBuilder;
use pingora::tls::x509::X509;

use crate::state::ProxyState;

/// Envoy's default server cipher list (TLS ≤ 1.2), which Higress serves unless `ssl-cipher` says otherwise;
/// unlike Mozilla's intermediate profile it keeps the legacy CBC suites.
pub const DEFAULT_CIPHERS: &str = "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]:\
[ECDHE-RSA-AES128-GCM-SHA256|ECDHE-RSA-CHACHA20-POLY1305]:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:\
AES128-GCM-SHA256:AES128-SHA:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:\
ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:AES256-GCM-SHA384:AES256-SHA";

/// What one SNI host gets in the handshake.
pub struct TlsEntry {
    leaf: X509,
    chain: Vec<X509>,
    key: PKey<Private>,
    client_cas: Vec<X509>,
    ciphers: Option<CString>,
    /// Accepted TLS versions (`tls-min/max-protocol-version`) as ranks 0 (TLS 1.0) … 3 (TLS 1.3).
    versions: (u8, u8),
}

/// Certificates by SNI host.
#[derive(Default)]
pub struct TlsRuntime {
    exact: HashMap<String, Arc<TlsEntry>>,
    wildcard: HashMap<String, Arc<TlsEntry>>,
    fallback: Option<Arc<TlsEntry>>,
}

impl TlsRuntime {
    /// Parses the certificates of `snapshot`; unreadable ones are left out and reported in `problems`.
    pub fn compile(snapshot: &Snapshot, problems: &mut Vec<String>) -> Self {
        let mut out = Self::default();
        let mut catch_all = None;
        for host in &snapshot.tls_hosts {
            let Some(certificate) = snapshot.certificates.get(&host.certificate) else { continue };
            let entry = match parse_entry(&certificate.chain_pem, &certificate.key_pem, host) {
                Ok(entry) => Arc::new(entry),
                Err(e) => {
                    problems.push(format!("TLS host {} certificate {}: {e}", host.host, host.certificate));
                    continue;
                }
            };
            if out.fallback.is_none() {
                out.fallback = Some(entry.clone());
            }
            if host.host == "*" {
                catch_all = Some(entry);
            } else if let Some(suffix) = host.host.strip_prefix("*.") {
                out.wildcard.insert(suffix.to_string(), entry);
            } else {
                out.exact.insert(host.host.clone(), entry);
            }
        }
        if catch_all.is_some() {
            out.fallback = catch_all;
        }
        out
    }

    /// The entry for `sni` (or for clients without SNI).
    pub fn find(&self, sni: Option<&str>) -> Option<&Arc<TlsEntry>> {
        let Some(sni) = sni else { return self.fallback.as_ref() };
        let sni = sni.to_ascii_lowercase();
        self.exact
            .get(&sni)
            .or_else(|| sni.split_once('.').and_then(|(_, suffix)| self.wildcard.get(suffix)))
            .or(self.fallback.as_ref())
    }
}

fn parse_entry(chain_pem: &str, key_pem: &str, host: &oxigress_ir::TlsHost) -> Result<TlsEntry, String> {
    let mut chain = X509::stack_from_pem(chain_pem.as_bytes()).map_err(|e| format!("tls.crt: {e}"))?;
    if chain.is_empty() {
        return Err("tls.crt holds no certificate".into());
    }
    let leaf = chain.remove(0);
    let key = PKey::private_key_from_pem(key_pem.as_bytes()).map_err(|e| format!("tls.key: {e}"))?;
    let client_cas = match &host.client_ca_pem {
        Some(pem) => X509::stack_from_pem(pem.as_bytes()).map_err(|e| format!("ca.crt: {e}"))?,
        None => Vec::new(),
    };
    let ciphers = if host.cipher_suites.is_empty() {
        None
    } else {
        Some(CString::new(host.cipher_suites.join(":")).map_err(|e| format!("ssl-cipher: {e}"))?)
    };
    let rank = |version: &Option<String>, default: u8| match version.as_deref() {
        None => Ok(default),
        Some("TLSv1.0") => Ok(0),
        Some("TLSv1.1") => Ok(1),
        Some("TLSv1.2") => Ok(2),
        Some("TLSv1.3") => Ok(3),
        Some(other) => Err(format!("unknown TLS version {other:?}")),
    };
    let versions = (rank(&host.min_version, 0)?, rank(&host.max_version, 3)?);
    Ok(TlsEntry { leaf, chain, key, client_cas, ciphers, versions })
}

/// The handshake callback of the HTTPS listener.
pub struct CertificateSelector {
    state: Arc<ProxyState>,
}

impl CertificateSelector {
    /// A selector reading the live runtime of `state`.
    pub fn new(state: Arc<ProxyState>) -> Self {
        Self { state }
    }
}

#[async_trait]
impl TlsAccept for CertificateSelector {
    async fn certificate_callback(&self, ssl: &mut TlsRef) {
        let runtime = self.state.runtime();
        let sni = ssl.servername(NameType::HOST_NAME).map(str::to_string);
        let Some(entry) = runtime.tls.find(sni.as_deref()) else {
            tracing::debug!(instance = %self.state.instance, sni = ?sni, "no certificate for TLS handshake");
            return;
        };
        if let Err(e) = install(ssl, entry) {
            tracing::warn!(instance = %self.state.instance, sni = ?sni, "cannot set up TLS: {e}");
        }
    }
}

fn install(ssl: &mut SslRef, entry: &TlsEntry) -> Result<(), String> {
    // why: the version is negotiated before this callback runs, so a host's version range is enforced
    // by refusing the handshake (no certificate) when the negotiated version is outside it.
    if entry.versions != (0, 3) {
        let negotiated = match ssl.version2() {
            Some(v) if v == SslVersion::TLS1 => 0,
            Some(v) if v == SslVersion::TLS1_1 => 1,
            Some(v) if v == SslVersion::TLS1_2 => 2,
            Some(v) if v == SslVersion::TLS1_3 => 3,
            _ => u8::MAX,
        };
        if negotiated < entry.versions.0 || negotiated > entry.versions.1 {
            return Err(format!("TLS version {:?} is outside the host's allowed range", ssl.version_str()));
        }
    }
    ext::ssl_use_certificate(ssl, &entry.leaf).map_err(|e| e.to_string())?;
    ext::ssl_use_private_key(ssl, &entry.key).map_err(|e| e.to_string())?;
    for cert in &entry.chain {
        ext::ssl_add_chain_cert(ssl, cert).map_err(|e| e.to_string())?;
    }
    if !entry.client_cas.is_empty() {
        let mut store = X509StoreBuilder::new().map_err(|e| e.to_string())?;
        for ca in &entry.client_cas {
            store.add_cert(ca.clone()).map_err(|e| e.to_string())?;
        }
        ssl.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
        ssl.set_verify_cert_store(store.build()).map_err(|e| e.to_string())?;
    }
    if let Some(ciphers) = &entry.ciphers {
        set_strict_cipher_list(ssl, ciphers)?;
    }
    Ok(())
}

/// Restricts this connection's TLS ≤ 1.2 cipher suites (BoringSSL picks the cipher after this callback).
#[allow(unsafe_code)]
fn set_strict_cipher_list(ssl: &mut SslRef, ciphers: &CString) -> Result<(), String> {
    use foreign_types::ForeignTypeRef;
    // SAFETY: `ssl` is a live SSL* borrowed mutably for the duration of the call, `ciphers` a valid
    // NUL-terminated string; BoringSSL copies what it needs and keeps no pointer to it.
    let ok = unsafe { pingora::tls::ssl_sys::SSL_set_strict_cipher_list(ssl.as_ptr(), ciphers.as_ptr()) };
    if ok == 1 {
        Ok(())
    } else {
        Err(format!("invalid cipher list {ciphers:?}"))
    }
}
