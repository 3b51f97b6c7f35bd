//! One proxied HTTP/1 exchange, end to end, for the cases the one-future path for requests without a
//! body must handle as pingora's two-future path did (vendor/pingora-proxy/PATCHES.md, issue 8): a
//! client that goes away while the upstream has not answered ends the upstream exchange; informational
//! (1xx) heads before the final answer, in one write or two; an answer delimited by the upstream closing
//! the connection; and a request with a body, which still takes pingora's path. The backend is scripted
//! per path, in-process, on an ephemeral port.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::backend::*;
use oxigress_cli::standalone::Instance;
use support::raw::{read_request, read_response, ScriptedListener};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A backend answering by path:
/// - `/hang`: never answers; counts the requests that arrived and the connections the gateway closed
///   while they waited;
/// - `/hints-one-write`: `103 Early Hints` and the final `200 hinted` in one write;
/// - `/hints-two-writes`: the same, the final answer 50 ms after the 103;
/// - `/until-close`: an HTTP/1.0 answer without a length, ended by closing the connection;
/// - anything else: `200` with the request body (or `ok` without one).
struct ScriptedBackend {
    listener: ScriptedListener,
    hangs: Arc<Hangs>,
}

/// What `/hang` saw.
#[derive(Default)]
struct Hangs {
    arrived: AtomicUsize,
    hung_up_on: AtomicUsize,
}

impl ScriptedBackend {
    async fn start() -> Self {
        let hangs = Arc::new(Hangs::default());
        let seen = hangs.clone();
        let listener = ScriptedListener::start(move |stream| serve(stream, seen.clone())).await;
        Self { listener, hangs }
    }
}

async fn serve(stream: TcpStream, hangs: Arc<Hangs>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let Some((path, body)) = read_request(&mut reader).await? else { return Ok(()) };
        let out = reader.get_mut();
        match path.as_str() {
            "/hang" => {
                hangs.arrived.fetch_add(1, Ordering::SeqCst);
                // Wait for the gateway to close this connection (end of stream or an error).
                let mut byte = [0u8; 1];
                let _ = reader.read(&mut byte).await;
                hangs.hung_up_on.fetch_add(1, Ordering::SeqCst);
                return Ok(());
            }
            "/hints-one-write" => {
                out.write_all(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhinted").await?;
            }
            "/hints-two-writes" => {
                out.write_all(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n").await?;
                out.flush().await?;
                tokio::time::sleep(Duration::from_millis(50)).await;
                out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhinted").await?;
            }
            "/until-close" => {
                out.write_all(b"HTTP/1.0 200 OK\r\n\r\nfirst part, ").await?;
                out.flush().await?;
                tokio::time::sleep(Duration::from_millis(50)).await;
                out.write_all(b"second part").await?;
                return Ok(());
            }
            _ => {
                let body = if body.is_empty() { b"ok".to_vec() } else { body };
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                out.write_all(head.as_bytes()).await?;
                out.write_all(&body).await?;
            }
        }
    }
}

fn gateway(backend: &ScriptedBackend) -> (tempfile::TempDir, Instance, SocketAddr) {
    let (dir, gw) = higress_instance(&[
        ("svc.yaml", service_ports("app", &[backend.listener.port])),
        ("ing.yaml", annotated_ingress("app", "app.example.com", "app", &[])),
    ]);
    let http = gw.http_addr().unwrap();
    (dir, gw, http)
}

/// Sends `GET path` with `Connection: close` and returns everything the gateway wrote.
async fn raw_get(http: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(http).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut out)).await.unwrap().unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes `request` on the kept-alive `client` connection and reads one answer: (status, body, de-chunked).
async fn exchange(client: &mut BufReader<TcpStream>, request: &[u8]) -> (u16, String) {
    client.get_mut().write_all(request).await.unwrap();
    let (status, body) = tokio::time::timeout(DEADLINE, read_response(client, |_| {})).await.unwrap().unwrap();
    (status, String::from_utf8(body).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_ends_the_upstream_exchange() {
    let backend = ScriptedBackend::start().await;
    let (_dir, _gw, http) = gateway(&backend);
    for i in 1..=3 {
        let mut client = TcpStream::connect(http).await.unwrap();
        client.write_all(b"GET /hang HTTP/1.1\r\nHost: app.example.com\r\n\r\n").await.unwrap();
        eventually("the request reached the backend", || backend.hangs.arrived.load(Ordering::SeqCst) >= i).await;
        assert_eq!(backend.hangs.hung_up_on.load(Ordering::SeqCst), i - 1, "the upstream exchange is still on");
        drop(client);
        eventually("the gateway closed the upstream connection of the request whose client left", || {
            backend.hangs.hung_up_on.load(Ordering::SeqCst) >= i
        })
        .await;
    }
    let r = get_with(http, "app.example.com", "/", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok"), "the gateway serves on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn informational_heads_before_the_final_answer_are_passed_on() {
    let backend = ScriptedBackend::start().await;
    let (_dir, _gw, http) = gateway(&backend);
    for path in ["/hints-one-write", "/hints-two-writes"] {
        let text = raw_get(http, path).await;
        let final_at = text.find("HTTP/1.1 200").unwrap_or_else(|| panic!("{path}: no final answer in {text:?}"));
        assert!(text.starts_with("HTTP/1.1 103"), "{path}: the 103 comes first: {text:?}");
        assert!(text[..final_at].to_ascii_lowercase().contains("link: </a.css>"), "{path}: the 103 keeps its Link: {text:?}");
        assert!(text.ends_with("\r\n\r\nhinted"), "{path}: the final body: {text:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_ended_by_the_upstream_closing_arrives_whole() {
    let backend = ScriptedBackend::start().await;
    let (_dir, _gw, http) = gateway(&backend);
    // The gateway forwards it chunked, so the client connection stays open for the next request.
    let mut client = BufReader::new(TcpStream::connect(http).await.unwrap());
    for i in 0..3 {
        let (status, body) = exchange(&mut client, b"GET /until-close HTTP/1.1\r\nHost: app.example.com\r\n\r\n").await;
        assert_eq!((status, body.as_str()), (200, "first part, second part"), "request {i}");
    }
}

/// An HTTP/1.0 client cannot read chunked framing (RFC 9112 §6.1): an answer the gateway would chunk
/// (here one without a length) reaches it as it is, ended by closing the connection, even when the
/// client asked for keep-alive (as nginx answers it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http10_client_gets_an_answer_without_a_length_unchunked_until_close() {
    let backend = ScriptedBackend::start().await;
    let (_dir, _gw, http) = gateway(&backend);
    let mut stream = TcpStream::connect(http).await.unwrap();
    stream.write_all(b"GET /until-close HTTP/1.0\r\nHost: app.example.com\r\nConnection: keep-alive\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut out)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{text:?}");
    assert!(!head.to_ascii_lowercase().contains("transfer-encoding"), "no chunked framing for HTTP/1.0: {text:?}");
    assert!(head.to_ascii_lowercase().contains("connection: close"), "{text:?}");
    assert_eq!(body, "first part, second part");
    // The same answer to HTTP/1.1 stays chunked on a kept-alive connection (see above); a length is kept.
    let mut stream = TcpStream::connect(http).await.unwrap();
    stream.write_all(b"GET /echo HTTP/1.0\r\nHost: app.example.com\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut out)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.to_ascii_lowercase().contains("content-length: 2\r\n") && text.ends_with("\r\n\r\nok"), "{text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_with_and_without_a_body_alternate_on_one_connection() {
    let backend = ScriptedBackend::start().await;
    let (_dir, _gw, http) = gateway(&backend);
    let mut stream = BufReader::new(TcpStream::connect(http).await.unwrap());
    for i in 0..6 {
        let body = format!("body {i}");
        let request = if i % 2 == 0 {
            "GET /echo HTTP/1.1\r\nHost: app.example.com\r\n\r\n".to_string()
        } else {
            format!("POST /echo HTTP/1.1\r\nHost: app.example.com\r\nContent-Length: {}\r\n\r\n{body}", body.len())
        };
        let (status, answer) = exchange(&mut stream, request.as_bytes()).await;
        assert_eq!(status, 200, "request {i}");
        let expected = if i % 2 == 0 { "ok".to_string() } else { body };
        assert_eq!(answer, expected, "request {i}");
    }
}
