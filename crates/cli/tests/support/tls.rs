//! TLS for the end-to-end tests: self-signed certificates (rcgen) as `kubernetes.io/tls` Secrets, and a
//! rustls client that accepts any server certificate and reports which one it got (so a test can tell
//! when a rotated certificate is served). Offers `h2` and `http/1.1` by ALPN.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use tokio_rustls::rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{ClientConfig, DigitallySignedStruct, Error, SignatureScheme, SupportedProtocolVersion};
use tokio_rustls::TlsConnector;

/// A self-signed certificate for `host`: (certificate DER, certificate PEM, key PEM).
pub fn certificate(host: &str) -> (Vec<u8>, String, String) {
    let key = rcgen::generate_simple_self_signed(vec![host.to_string()]).unwrap();
    (key.cert.der().to_vec(), key.cert.pem(), key.signing_key.serialize_pem())
}

/// A `kubernetes.io/tls` Secret `apps/<name>`.
pub fn secret(name: &str, cert_pem: &str, key_pem: &str) -> String {
    let indent = |pem: &str| pem.lines().map(|l| format!("    {l}\n")).collect::<String>();
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: apps}}\ntype: kubernetes.io/tls\nstringData:\n  tls.crt: |\n{}  tls.key: |\n{}",
        indent(cert_pem),
        indent(key_pem)
    )
}

#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A connector that trusts any certificate and offers `alpn` (e.g. `[b"h2"]`, `[b"http/1.1"]`).
pub fn connector(alpn: &[&[u8]]) -> TlsConnector {
    connector_with_versions(alpn, tokio_rustls::rustls::DEFAULT_VERSIONS)
}

/// [`connector`] offering only these TLS versions (e.g. `[&rustls::version::TLS12]`).
pub fn connector_with_versions(alpn: &[&[u8]], versions: &[&'static SupportedProtocolVersion]) -> TlsConnector {
    let provider = Arc::new(ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(config))
}

/// Connects to `addr` with SNI `host`.
pub async fn connect(connector: &TlsConnector, addr: SocketAddr, host: &str) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(host.to_string()).map_err(std::io::Error::other)?;
    connector.connect(name, tcp).await
}

/// The DER of the certificate the server presented.
pub fn peer_certificate(stream: &TlsStream<TcpStream>) -> Option<Vec<u8>> {
    stream.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| c.to_vec())
}
