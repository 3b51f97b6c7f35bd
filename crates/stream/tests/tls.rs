//! TLS and mTLS on the stream, with a CA and certificates generated here (rcgen).
#![allow(clippy::unwrap_used)]

mod support;

use oxigress_stream::{subscribe, ClientOptions, ClientTls, ServerTls};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use support::{listener, snapshot, start, wait_for};

struct Pki {
    ca_pem: Vec<u8>,
    server: (Vec<u8>, Vec<u8>),
    client: (Vec<u8>, Vec<u8>),
}

fn pki() -> Pki {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_string()]).unwrap().signed_by(&key, &ca).unwrap();
        (cert.pem().into_bytes(), key.serialize_pem().into_bytes())
    };
    Pki { ca_pem: ca.pem().into_bytes(), server: leaf("controller.test"), client: leaf("gateway.test") }
}

fn client_options(addr: std::net::SocketAddr, pki: &Pki, identity: bool) -> ClientOptions {
    let mut options = ClientOptions::new(addr.to_string(), "prod");
    options.tls = Some(ClientTls {
        ca_pem: pki.ca_pem.clone(),
        identity: identity.then(|| pki.client.clone()),
        server_name: Some("controller.test".into()),
    });
    options
}

#[tokio::test]
async fn tls_with_a_private_ca() {
    let pki = pki();
    let tls = ServerTls { cert_pem: pki.server.0.clone(), key_pem: pki.server.1.clone(), client_ca_pem: None };
    let server = start(listener().await, "prod", snapshot("prod", 1), |s| s.with_tls(tls));
    let mut client = subscribe(client_options(server.addr, &pki, false)).unwrap();
    wait_for(&mut client.snapshots, Option::is_some).await;

    // Plain text to a TLS server does not get through.
    let mut plain = subscribe(ClientOptions::new(server.addr.to_string(), "prod")).unwrap();
    wait_for(&mut plain.status, |s| s.last_error.is_some()).await;
    assert!(plain.snapshots.borrow().is_none());
    server.stop().await;
}

#[tokio::test]
async fn mtls_requires_a_client_certificate() {
    let pki = pki();
    let tls = ServerTls {
        cert_pem: pki.server.0.clone(),
        key_pem: pki.server.1.clone(),
        client_ca_pem: Some(pki.ca_pem.clone()),
    };
    let server = start(listener().await, "prod", snapshot("prod", 1), |s| s.with_tls(tls));
    let mut client = subscribe(client_options(server.addr, &pki, true)).unwrap();
    wait_for(&mut client.snapshots, Option::is_some).await;

    let mut anonymous = subscribe(client_options(server.addr, &pki, false)).unwrap();
    wait_for(&mut anonymous.status, |s| s.last_error.is_some()).await;
    assert!(anonymous.snapshots.borrow().is_none());
    server.stop().await;
}
