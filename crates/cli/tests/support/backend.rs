//! Controllable upstreams for the upstream tests: a tiny keep-alive HTTP/1.1 server (plain or TLS) that
//! answers with its name, can answer a chosen status, hold requests until released, count them, and die
//! (listener and every connection dropped at once); and an async HTTP/1.1 client.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

use super::Response;

/// What a TLS backend saw of its clients.
#[derive(Default)]
pub struct TlsSeen {
    /// SNI of each handshake.
    pub sni: Mutex<Vec<Option<String>>>,
    /// Whether each handshake carried a client certificate.
    pub client_cert: Mutex<Vec<bool>>,
}

/// Shared switches and counters of a backend.
#[derive(Default)]
pub struct Control {
    /// Requests answered or held.
    pub hits: AtomicUsize,
    /// Status to answer with (0 = 200).
    pub status: AtomicU16,
    /// Hold requests until [`Backend::release`].
    pub hold: AtomicBool,
    /// Requests being held.
    pub held: AtomicUsize,
    release: Notify,
    /// TLS handshakes seen.
    pub tls: TlsSeen,
    /// Every request received: its head (as sent) and body.
    pub seen: Mutex<Vec<(String, Vec<u8>)>>,
}

/// A running backend.
pub struct Backend {
    /// Bound address.
    pub addr: SocketAddr,
    /// Switches and counters.
    pub control: Arc<Control>,
    task: JoinHandle<()>,
}

impl Backend {
    /// A plain HTTP/1.1 backend answering `name`.
    pub async fn start(name: &str) -> Self {
        Self::start_tls(name, None).await
    }

    /// A backend answering `name`, over TLS when `acceptor` is given.
    pub async fn start_tls(name: &str, acceptor: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let control = Arc::new(Control::default());
        let (name, shared) = (name.to_string(), control.clone());
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((socket, _)) = listener.accept().await else { break };
                let (name, control, acceptor) = (name.clone(), shared.clone(), acceptor.clone());
                connections.spawn(async move {
                    match acceptor {
                        None => serve(socket, &name, &control).await,
                        Some(acceptor) => {
                            let Ok(stream) = acceptor.accept(socket).await else { return };
                            let (_, connection) = stream.get_ref();
                            control.tls.sni.lock().unwrap().push(connection.server_name().map(String::from));
                            control.tls.client_cert.lock().unwrap().push(connection.peer_certificates().is_some());
                            serve(stream, &name, &control).await
                        }
                    }
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Self { addr, control, task }
    }

    /// Lets held requests answer.
    pub fn release(&self) {
        self.control.hold.store(false, Ordering::SeqCst);
        self.control.release.notify_waiters();
    }

    /// The requests received so far: head (as sent) and body.
    pub fn seen(&self) -> Vec<(String, Vec<u8>)> {
        self.control.seen.lock().unwrap().clone()
    }

    /// Requests seen so far.
    pub fn hits(&self) -> usize {
        self.control.hits.load(Ordering::SeqCst)
    }

    /// Dies: the listener and every connection are dropped now (new connections are refused).
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, name: &str, control: &Control) {
    let mut buf = Vec::new();
    loop {
        let Some(head_end) = read_head(&mut stream, &mut buf).await else { return };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let raw_head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        control.seen.lock().unwrap().push((raw_head, buf[head_end..head_end + length].to_vec()));
        buf.drain(..head_end + length);
        control.hits.fetch_add(1, Ordering::SeqCst);
        if control.hold.load(Ordering::SeqCst) {
            let released = control.release.notified();
            control.held.fetch_add(1, Ordering::SeqCst);
            released.await;
        }
        let status = match control.status.load(Ordering::SeqCst) {
            0 => 200,
            s => s,
        };
        let close = head.contains("connection: close");
        let answer = format!(
            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nx-backend: {name}\r\n{}\r\n{name}",
            name.len(),
            if close { "connection: close\r\n" } else { "" }
        );
        if stream.write_all(answer.as_bytes()).await.is_err() || close {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

async fn read_head<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(end + 4);
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A free port nobody listens on (bound, then closed).
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// One request on a fresh connection (`Connection: close`); at most 10 s.
pub async fn request(addr: SocketAddr, method: &str, host: &str, path: &str, headers: &[(&str, &str)], body: &str) -> std::io::Result<Response> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let extra: String = headers.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(head.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        Ok(Response { status, headers: head.to_string(), body: body.to_string() })
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in 10 s")))
}

/// `GET` with extra headers.
pub async fn get_with(addr: SocketAddr, host: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    request(addr, "GET", host, path, headers, "").await.unwrap()
}

/// A Service `apps/<name>` on port 80 whose endpoints are 127.0.0.1 at each of `ports` (one EndpointSlice
/// per port).
pub fn service_ports(name: &str, ports: &[u16]) -> String {
    let mut out = format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: apps}}\nspec: {{ports: [{{port: 80}}]}}\n");
    for (i, port) in ports.iter().enumerate() {
        out.push_str(&format!(
            "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {name}-{i}\n  namespace: apps\n  labels: {{kubernetes.io/service-name: {name}}}\n\
addressType: IPv4\nports: [{{name: \"\", port: {port}}}]\nendpoints: [{{addresses: [\"127.0.0.1\"], conditions: {{ready: true}}}}]\n"
        ));
    }
    out
}

/// An Ingress `apps/<name>` (class `higress`) routing `host` `/` to Service `service`, with annotations.
pub fn annotated_ingress(name: &str, host: &str, service: &str, annotations: &[(&str, &str)]) -> String {
    let annotations: String = annotations.iter().map(|(k, v)| format!("    {k}: \"{v}\"\n")).collect();
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: apps\n  annotations:\n{annotations}    example.com/none: \"x\"\n\
spec:\n  ingressClassName: higress\n  rules:\n  - host: {host}\n    http: {{paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: {service}, port: {{number: 80}}}}}}}}]}}\n"
    )
}
