//! `tls-min-protocol-version` / `tls-max-protocol-version` end to end: each TLS host of an Ingress refuses
//! handshakes outside its range (no certificate), while another host on the same listener accepts both
//! TLS 1.2 and TLS 1.3 clients.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::version::{TLS12, TLS13};
use tokio_rustls::rustls::ProtocolVersion;
use tokio_rustls::TlsConnector;

/// An Ingress `apps/<name>` with a TLS host `host` (Secret `<name>-cert`) and these annotations.
fn tls_ingress(name: &str, host: &str, annotations: &[(&str, &str)]) -> String {
    let annotations: String = annotations.iter().map(|(k, v)| format!("    {k}: \"{v}\"\n")).collect();
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: apps\n  annotations:\n{annotations}    example.com/none: \"x\"\n\
spec:\n  ingressClassName: higress\n  tls: [{{hosts: [{host}], secretName: {name}-cert}}]\n  rules:\n  - host: {host}\n    http: {{paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}]}}\n"
    )
}

/// A handshake with SNI `host` and one HTTP/1.1 request over it: the negotiated version and the status.
async fn fetch(connector: &TlsConnector, addr: SocketAddr, host: &str) -> std::io::Result<(ProtocolVersion, u16)> {
    let mut stream = tls::connect(connector, addr, host).await?;
    let version = stream.get_ref().1.protocol_version().unwrap();
    stream.write_all(format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut answer)).await.map_err(std::io::Error::other)??;
    let status = String::from_utf8_lossy(&answer).split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((version, status))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tls_version_annotations_limit_their_own_host_only() {
    let backend = echo("web");
    let dir = tempfile::tempdir().unwrap();
    let mut manifests = vec![ingress_class("higress"), service("web", backend.addr)];
    for (name, host, annotations) in [
        ("legacy", "legacy.example.com", &[("higress.io/tls-max-protocol-version", "TLSv1.2")][..]),
        ("modern", "modern.example.com", &[("nginx.ingress.kubernetes.io/tls-min-protocol-version", "TLSv1.3")][..]),
        ("plain", "plain.example.com", &[][..]),
    ] {
        let (_, cert, key) = tls::certificate(host);
        manifests.push(tls_ingress(name, host, annotations));
        manifests.push(tls::secret(&format!("{name}-cert"), &cert, &key));
    }
    write(dir.path(), "app.yaml", &manifests.join("---\n"));
    let gateway = instance_with(dir.path(), "tls-versions", "higress", true);
    let https = gateway.https_addr().unwrap();
    let tls12 = tls::connector_with_versions(&[b"http/1.1"], &[&TLS12]);
    let tls13 = tls::connector_with_versions(&[b"http/1.1"], &[&TLS13]);

    // Served once the snapshot with all three hosts is in.
    let start = Instant::now();
    while !matches!(fetch(&tls13, https, "modern.example.com").await, Ok((_, 200))) {
        assert!(start.elapsed() < DEADLINE, "modern.example.com never served");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // tls-max-protocol-version: TLSv1.2 — a TLS 1.3-only client is refused, TLS 1.2 is served.
    let refused = fetch(&tls13, https, "legacy.example.com").await;
    assert!(refused.is_err(), "TLS 1.3 client on a TLSv1.2-max host: {refused:?}");
    assert_eq!(fetch(&tls12, https, "legacy.example.com").await.unwrap(), (ProtocolVersion::TLSv1_2, 200));

    // tls-min-protocol-version: TLSv1.3 — a TLS 1.2-only client is refused, TLS 1.3 is served.
    let refused = fetch(&tls12, https, "modern.example.com").await;
    assert!(refused.is_err(), "TLS 1.2 client on a TLSv1.3-min host: {refused:?}");
    assert_eq!(fetch(&tls13, https, "modern.example.com").await.unwrap(), (ProtocolVersion::TLSv1_3, 200));

    // Another host on the same listener: both.
    assert_eq!(fetch(&tls12, https, "plain.example.com").await.unwrap(), (ProtocolVersion::TLSv1_2, 200));
    assert_eq!(fetch(&tls13, https, "plain.example.com").await.unwrap(), (ProtocolVersion::TLSv1_3, 200));

    gateway.shutdown(Duration::from_secs(5)).await;
}
