//! Shared end-to-end test kit: echo backends, manifest builders, a minimal HTTP/1.1 client and bounded
//! waits. Everything binds 127.0.0.1 on ephemeral ports.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use oxigress_cli::echo::EchoApp;
use oxigress_cli::standalone::{Instance, StandaloneConfig};
use oxigress_proxy::{AppServer, GatewayConfig};
use oxigress_translate::InstanceOptions;

/// How long any wait in a test may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Starts an echo backend whose answers carry `pod`.
pub fn echo(pod: &str) -> AppServer {
    let app = EchoApp { namespace: "apps".into(), pod: pod.into(), service: pod.into() };
    AppServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), "echo", app).unwrap()
}

/// Starts a standalone instance over `dir` serving `class`, on ephemeral ports. Logs go to the test
/// output (filtered by `RUST_LOG`).
pub fn instance(dir: &Path, name: &str, class: &str) -> Instance {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    let any = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    Instance::start(StandaloneConfig {
        manifests: dir.to_path_buf(),
        instance: InstanceOptions {
            instance_name: name.into(),
            instance_namespace: "higress-system".into(),
            ingress_class: class.into(),
            watch_namespaces: vec![],
        },
        listen: GatewayConfig { http: any, https: None, admin: any, upstream_pool_size: 64 },
    })
    .unwrap()
}

/// An IngressClass.
pub fn ingress_class(name: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {{name: {name}}}\nspec: {{controller: higress.io/higress-controller}}\n"
    )
}

/// A Service `apps/<name>` on port 80 with one EndpointSlice to `backend`.
pub fn service(name: &str, backend: SocketAddr) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: apps}}\nspec: {{ports: [{{port: 80}}]}}\n---\n\
apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {name}-1\n  namespace: apps\n  labels: {{kubernetes.io/service-name: {name}}}\n\
addressType: IPv4\nports: [{{name: \"\", port: {port}}}]\nendpoints: [{{addresses: [\"127.0.0.1\"], conditions: {{ready: true}}}}]\n",
        port = backend.port()
    )
}

/// An Ingress `apps/<name>` of `class` routing `host` + each Prefix path to Service `service`.
pub fn ingress(name: &str, class: &str, host: &str, paths: &[&str], service: &str) -> String {
    let paths: String = paths
        .iter()
        .map(|p| {
            format!("      - path: {p}\n        pathType: Prefix\n        backend: {{service: {{name: {service}, port: {{number: 80}}}}}}\n")
        })
        .collect();
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: {name}, namespace: apps}}\nspec:\n  ingressClassName: {class}\n  rules:\n  - host: {host}\n    http:\n      paths:\n{paths}"
    )
}

/// Writes `content` to `dir/file` atomically (write a hidden temp file, then rename), as `kubectl`-style
/// tools and config management do; the watcher must never see half a file.
pub fn write(dir: &Path, file: &str, content: &str) {
    let tmp = dir.join(format!(".{file}.tmp"));
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, dir.join(file)).unwrap();
}

/// A response: status and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Response {
    /// The `pod` field of an echo answer.
    pub fn pod(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["pod"].as_str().map(String::from))
            .unwrap_or_default()
    }
}

/// `GET path` with `Host: host` on a fresh connection.
pub fn get(addr: SocketAddr, host: &str, path: &str) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok(Response { status, headers: head.to_string(), body: body.to_string() })
}

/// Polls `check` until it holds; panics with `what` after [`DEADLINE`].
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `get` on a blocking thread (the client is synchronous).
pub async fn get_async(addr: SocketAddr, host: &str, path: &str) -> std::io::Result<Response> {
    let (host, path) = (host.to_string(), path.to_string());
    tokio::task::spawn_blocking(move || get(addr, &host, &path)).await.unwrap()
}
