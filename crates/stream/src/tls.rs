//! TLS settings of both ends, as PEM bytes (how the CLI reads them from files or Secrets).

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// TLS on the controller's listener.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The server certificate chain (PEM).
    pub cert_pem: Vec<u8>,
    /// Its private key (PEM).
    pub key_pem: Vec<u8>,
    /// When set, gateways must present a client certificate issued by this CA (mTLS).
    pub client_ca_pem: Option<Vec<u8>>,
}

impl ServerTls {
    pub(crate) fn config(&self) -> ServerTlsConfig {
        let config = ServerTlsConfig::new().identity(Identity::from_pem(&self.cert_pem, &self.key_pem));
        match &self.client_ca_pem {
            Some(ca) => config.client_ca_root(Certificate::from_pem(ca)),
            None => config,
        }
    }
}

/// TLS on the gateway's connection to the controller.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    /// The CA that issued the controller's certificate (PEM).
    pub ca_pem: Vec<u8>,
    /// A client certificate chain and key (PEM), for mTLS.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
    /// The name to verify the controller's certificate against (default: the host of the address).
    pub server_name: Option<String>,
}

impl ClientTls {
    pub(crate) fn config(&self) -> ClientTlsConfig {
        let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&self.ca_pem));
        if let Some((cert, key)) = &self.identity {
            config = config.identity(Identity::from_pem(cert, key));
        }
        if let Some(name) = &self.server_name {
            config = config.domain_name(name.clone());
        }
        config
    }
}
