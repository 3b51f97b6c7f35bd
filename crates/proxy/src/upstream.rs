//! How the gateway connects to a cluster's endpoints: HTTP/1.1 or HTTP/2 (h2c, or ALPN `h2` over TLS),
//! plain or TLS with optional SNI, CA verification and client certificate. The CA and the client
//! certificate are parsed once per snapshot here; each request only clones `Arc`s into its `HttpPeer`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use oxigress_ir::{Certificate, CertificateId, UpstreamPolicy, UpstreamProtocol};
use pingora::protocols::ALPN;
use pingora::tls::pkey::PKey;
use pingora::tls::x509::X509;
use pingora::upstreams::peer::HttpPeer;
use pingora::utils::tls::CertKey;

/// Longest time to establish a connection (TCP and TLS) to an endpoint (Istio's default `connectTimeout`).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A cluster's compiled connection settings.
#[derive(Clone, Default)]
pub struct UpstreamConnect {
    http2: bool,
    tls: Option<TlsConnect>,
}

#[derive(Clone)]
struct TlsConnect {
    sni: String,
    ca: Option<Arc<Box<[X509]>>>,
    client: Option<Arc<CertKey>>,
}

impl UpstreamConnect {
    /// Compiles a cluster's upstream policy; a CA or client certificate that does not parse is reported
    /// and left out (the endpoint is then not verified / no certificate is presented).
    pub fn compile(
        policy: &UpstreamPolicy,
        certificates: &std::collections::BTreeMap<CertificateId, Certificate>,
        problems: &mut Vec<String>,
        cluster: &str,
    ) -> Self {
        let http2 = policy.protocol == UpstreamProtocol::Http2;
        let tls = policy.tls.as_ref().map(|tls| {
            let ca = tls.ca_pem.as_deref().and_then(|pem| match X509::stack_from_pem(pem.as_bytes()) {
                Ok(certs) if !certs.is_empty() => Some(Arc::new(certs.into_boxed_slice())),
                Ok(_) => {
                    problems.push(format!("cluster {cluster}: upstream CA bundle has no certificate"));
                    None
                }
                Err(e) => {
                    problems.push(format!("cluster {cluster}: upstream CA bundle: {e}"));
                    None
                }
            });
            let client = tls.client_certificate.as_ref().and_then(|id| {
                let parsed = certificates.get(id).ok_or_else(|| format!("unknown certificate {id}")).and_then(|c| {
                    let chain = X509::stack_from_pem(c.chain_pem.as_bytes()).map_err(|e| format!("tls.crt: {e}"))?;
                    let key = PKey::private_key_from_pem(c.key_pem.as_bytes()).map_err(|e| format!("tls.key: {e}"))?;
                    if chain.is_empty() {
                        return Err("tls.crt has no certificate".to_string());
                    }
                    Ok(Arc::new(CertKey::new(chain, key)))
                });
                parsed.map_err(|e| problems.push(format!("cluster {cluster}: client certificate {id}: {e}"))).ok()
            });
            TlsConnect { sni: tls.sni.clone().unwrap_or_default(), ca, client }
        });
        Self { http2, tls }
    }

    /// The pingora peer for `addr`; `host` gives the request's host, asked only when it is the SNI (a CA
    /// must verify the endpoint and no SNI is configured: pingora verifies nothing without SNI), so a plain
    /// endpoint costs no host lookup.
    pub fn peer<H: AsRef<str>>(&self, addr: SocketAddr, host: impl FnOnce() -> H) -> HttpPeer {
        let mut peer = match &self.tls {
            None => HttpPeer::new(addr, false, String::new()),
            Some(tls) => {
                let sni = if tls.sni.is_empty() && tls.ca.is_some() { host().as_ref().to_string() } else { tls.sni.clone() };
                let mut peer = HttpPeer::new(addr, true, sni);
                // why: Envoy (Higress) verifies the chain against the configured CA only, never the host
                // name (no SAN matchers are set); without a CA nothing is verified (Higress SIMPLE mode
                // sets insecureSkipVerify).
                peer.options.verify_hostname = false;
                peer.options.verify_cert = tls.ca.is_some();
                peer.options.ca = tls.ca.clone();
                peer.client_cert_key = tls.client.clone();
                peer
            }
        };
        if self.http2 {
            // h2 only: ALPN h2 over TLS, prior knowledge over plain TCP (gRPC needs no fallback to h1).
            peer.options.alpn = ALPN::H2;
            peer.options.max_h2_streams = 100;
        }
        peer.options.connection_timeout = Some(CONNECT_TIMEOUT);
        peer.options.total_connection_timeout = Some(CONNECT_TIMEOUT);
        peer
    }
}
