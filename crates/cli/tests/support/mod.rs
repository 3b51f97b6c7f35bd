//! Shared end-to-end test kit: echo backends, manifest builders, a minimal HTTP/1.1 client and bounded
//! waits. Everything binds 127.0.0.1 on ephemeral ports.
#![allow(dead_code, clippy::unwrap_used)]

pub mod backend;
pub mod llm;
pub mod raw;
pub mod tls;

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
    instance_with(dir, name, class, false)
}

/// A new manifest directory holding IngressClass `higress` and `files` (name, content), served by an
/// instance `higress-gateway` of that class; keep the directory as long as the instance.
pub fn higress_instance(files: &[(&str, String)]) -> (tempfile::TempDir, Instance) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "class.yaml", &ingress_class("higress"));
    for (name, content) in files {
        write(dir.path(), name, content);
    }
    let gateway = instance(dir.path(), "higress-gateway", "higress");
    (dir, gateway)
}

/// [`instance`], with an HTTPS listener too when `https`.
pub fn instance_with(dir: &Path, name: &str, class: &str, https: bool) -> Instance {
    let any = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    let https = if https { any } else { None };
    let listen = GatewayConfig { http: any, https, admin: any, upstream_pool_size: 64, header_timeout: Duration::from_secs(60), threads: 1, work_stealing: false, splice: true };
    instance_listening(dir, name, class, listen)
}

/// [`instance`] with these listeners.
pub fn instance_listening(dir: &Path, name: &str, class: &str, listen: GatewayConfig) -> Instance {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    Instance::start(StandaloneConfig {
        manifests: dir.to_path_buf(),
        instance: InstanceOptions {
            instance_name: name.into(),
            instance_namespace: "higress-system".into(),
            ingress_class: class.into(),
            watch_namespaces: vec![],
        },
        listen,
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

/// The gateway ConfigMap `higress-config` (in `higress-system`) whose `higress` entry is `yaml`.
pub fn config_map(yaml: &str) -> String {
    let indented: String = yaml.lines().map(|l| format!("    {l}\n")).collect();
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: higress-config, namespace: higress-system}}\ndata:\n  higress: |\n{indented}")
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

/// `POST path` with `Host: host`, a JSON `body` and `extra` headers, on a fresh connection; a chunked
/// answer is decoded.
pub fn post(addr: SocketAddr, host: &str, path: &str, body: &str, extra: &[(&str, &str)]) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let extra: String = extra.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    Ok(parse_response(&raw).0)
}

/// Like [`post`], for a streamed answer: `on_first_event` runs as soon as the first complete SSE event
/// (`…\n\n`) of the body has arrived; returns the answer and the body as it was at that moment.
pub fn post_streaming(addr: SocketAddr, host: &str, path: &str, body: &str, on_first_event: impl FnOnce()) -> std::io::Result<(Response, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let mut first = None;
    let mut on_first_event = Some(on_first_event);
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if first.is_none() {
            let (response, _) = parse_response(&raw);
            if response.body.contains("\n\n") {
                first = Some(response.body);
                if let Some(f) = on_first_event.take() {
                    f();
                }
            }
        }
    }
    Ok((parse_response(&raw).0, first.unwrap_or_default()))
}

/// Parses a raw answer (decoding a chunked body as far as it goes); also whether the body is complete.
fn parse_response(raw: &[u8]) -> (Response, bool) {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    if !chunked {
        return (Response { status, headers: head.to_string(), body: rest.to_string() }, true);
    }
    let bytes = rest.as_bytes();
    let (mut body, mut i, mut complete) = (Vec::new(), 0, false);
    while let Some(line_end) = bytes[i..].windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&bytes[i..i + line_end]).trim(), 16).unwrap_or(0);
        let start = i + line_end + 2;
        if size == 0 {
            complete = true;
            break;
        }
        if start + size > bytes.len() {
            break;
        }
        body.extend_from_slice(&bytes[start..start + size]);
        i = start + size + 2;
        if i > bytes.len() {
            break;
        }
    }
    (Response { status, headers: head.to_string(), body: String::from_utf8_lossy(&body).into_owned() }, complete)
}

/// [`post`] on a blocking thread.
pub async fn post_async(addr: SocketAddr, host: &str, path: &str, body: &str, extra: &[(&str, &str)]) -> std::io::Result<Response> {
    let (host, path, body) = (host.to_string(), path.to_string(), body.to_string());
    let extra: Vec<(String, String)> = extra.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    tokio::task::spawn_blocking(move || {
        let extra: Vec<(&str, &str)> = extra.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        post(addr, &host, &path, &body, &extra)
    })
    .await
    .unwrap()
}
