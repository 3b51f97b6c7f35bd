//! Slow and hostile clients: oversized headers and bodies, malformed requests, a slowloris client and an
//! h2 rapid-reset flood; the gateway answers each with a clear status (or cuts it) and keeps serving
//! everyone else.
//!
//! What answers what (pingora 0.9 parses the request before oxigress sees it):
//! - a request head over 1 MiB (pingora `MAX_HEADER_SIZE`) or with more than 256 headers: **400**
//!   (pingora answers 400 for every unparsable head; it has no 431);
//! - a body over the gateway ConfigMap's buffer limit (`downstream.connectionBufferLimits`, 32 KiB by
//!   default; at most 64 KiB) on a route whose plugins must read it (request-block `block_bodies`,
//!   request-validation, transformer, ai-proxy): **413**; other bodies stream through unbuffered;
//! - a malformed header line, HTTP version or Content-Length (also two different ones): **400**; a request
//!   line that is not HTTP at all (`GET` alone, a TLS ClientHello on the plain port): the connection is
//!   closed without an answer (pingora);
//! - a connection that has not sent its first request head within `--header-timeout` (60 s; 1 s here) is
//!   closed without an answer (`proxy::header_deadline`).
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::*;
use tokio::io::AsyncWriteExt;

fn gateway(dir: &std::path::Path, backend: SocketAddr, https: bool) -> oxigress_cli::standalone::Instance {
    write_manifests(dir, backend);
    instance_with(dir, "hostile", "higress", https)
}

fn write_manifests(dir: &std::path::Path, backend: SocketAddr) {
    let plugin = "apiVersion: extensions.higress.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: body-check, namespace: higress-system}\n\
spec:\n  url: oci://x/plugins/request-block:1.0.0\n  matchRules:\n  - ingress: [apps/upload]\n    config: {block_bodies: [forbidden-word]}\n";
    let (_, cert, key) = tls::certificate("web.example.com");
    let secure = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: secure, namespace: apps}\nspec:\n  ingressClassName: higress\n  tls: [{hosts: [web.example.com], secretName: web-cert}]\n  rules:\n  - host: web.example.com\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}\n";
    write(
        dir,
        "app.yaml",
        &[
            ingress_class("higress"),
            service("web", backend),
            secure.to_string(),
            ingress("upload", "higress", "upload.example.com", &["/"], "web"),
            tls::secret("web-cert", &cert, &key),
            plugin.to_string(),
        ]
        .join("---\n"),
    );
}

/// Sends `raw` on a new connection and returns the status of the answer (0 when the connection closed
/// without one).
fn raw_status(addr: SocketAddr, raw: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The gateway may answer (and close) before it has read everything; that is fine.
    let _ = stream.write_all(raw);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_malformed_requests_get_clear_answers() {
    let backend = echo("web");
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), backend.addr, false);
    let http = gw.http_addr().unwrap();
    let status = |raw: Vec<u8>| tokio::task::spawn_blocking(move || raw_status(http, &raw));

    // A head over pingora's 1 MiB limit.
    let big = format!("GET / HTTP/1.1\r\nHost: web.example.com\r\nX-Big: {}\r\n\r\n", "a".repeat(1 << 20)).into_bytes();
    assert_eq!(status(big).await.unwrap(), 400, "oversized head");
    // More than 256 headers.
    let many: String = (0..300).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\nHost: web.example.com\r\n{many}\r\n").into_bytes();
    assert_eq!(status(many).await.unwrap(), 400, "too many headers");
    // Malformed heads: 400. A request line that is not HTTP at all (no target and version, or a TLS
    // ClientHello on the plain port): pingora closes the connection without an answer.
    for (raw, expected) in [
        (&b"GET / HTTP/1.1\r\nHost: web.example.com\r\nNo colon here\r\n\r\n"[..], 400),
        (b"GET / HTTP/9.9\r\nHost: web.example.com\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: web.example.com\r\nContent-Length: abc\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: web.example.com\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
        (b"GET\r\n\r\n", 0),
        (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 0),
    ] {
        let shown = String::from_utf8_lossy(raw).into_owned();
        assert_eq!(status(raw.to_vec()).await.unwrap(), expected, "malformed: {shown:?}");
    }
    // A body the plugin must inspect, over the buffer limit: 413. The same body elsewhere streams through.
    let body = "x".repeat(200 * 1024);
    let upload = format!("POST / HTTP/1.1\r\nHost: upload.example.com\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    assert_eq!(status(upload.into_bytes()).await.unwrap(), 413, "oversized inspected body");
    let elsewhere = format!("POST / HTTP/1.1\r\nHost: web.example.com\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    assert_eq!(status(elsewhere.into_bytes()).await.unwrap(), 200, "uninspected body");
    // And a normal request still works.
    assert_eq!(get_async(http, "web.example.com", "/").await.unwrap().status, 200);
    gw.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_clients_are_cut_after_the_header_timeout_while_others_are_served() {
    let backend = echo("web");
    let dir = tempfile::tempdir().unwrap();
    write_manifests(dir.path(), backend.addr);
    let any = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    let listen = oxigress_proxy::GatewayConfig {
        http: any,
        https: None,
        admin: any,
        upstream_pool_size: 16,
        header_timeout: Duration::from_secs(1),
        threads: 1,
        work_stealing: false,
    };
    let gw = instance_listening(dir.path(), "slowloris", "higress", listen);
    let http = gw.http_addr().unwrap();

    // 64 connections trickle a request head, a byte every 50 ms, and never finish it; 16 more send
    // nothing at all. Each task ends when the gateway closes its connection.
    let mut slow = Vec::new();
    let opened = Instant::now();
    for i in 0..80 {
        let mut stream = tokio::net::TcpStream::connect(http).await.unwrap();
        slow.push(tokio::spawn(async move {
            if i < 64 {
                stream.write_all(b"GET / HTTP/1.1\r\nHost: web.example.com\r\nX-Slow: ").await?;
                loop {
                    stream.write_all(b"a").await?;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            let mut buf = [0u8; 64];
            while tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await? > 0 {}
            Ok::<(), std::io::Error>(())
        }));
    }
    // Meanwhile every ordinary request is served, each quickly.
    for i in 0..20 {
        let one = Instant::now();
        let r = get_async(http, "web.example.com", &format!("/{i}")).await.unwrap();
        assert_eq!((r.status, r.pod().as_str()), (200, "web"));
        assert!(one.elapsed() < Duration::from_secs(2), "request {i} took {:?}", one.elapsed());
    }
    // Every slow connection is cut, about a second after it opened.
    for task in slow {
        let _ = tokio::time::timeout(DEADLINE, task).await.expect("a slowloris connection was never cut");
    }
    let cut_after = opened.elapsed();
    eprintln!("80 slow connections cut {cut_after:?} after they opened");
    assert!(cut_after >= Duration::from_secs(1) && cut_after < Duration::from_secs(10), "{cut_after:?}");
    // A client that sends its head in time is unaffected, even when it takes several writes.
    let mut stream = tokio::net::TcpStream::connect(http).await.unwrap();
    for part in [&b"GET / HTTP/1.1\r\n"[..], b"Host: web.example.com\r\n", b"Connection: close\r\n\r\n"] {
        stream.write_all(part).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut answer = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    gw.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_rapid_reset_leaves_the_gateway_serving_others() {
    let backend = echo("web");
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), backend.addr, true);
    let (http, https) = (gw.http_addr().unwrap(), gw.https_addr().unwrap());

    // The attacker: one TLS h2 connection, streams opened and reset at once, as fast as it can.
    let connector = tls::connector(&[b"h2"]);
    let tls_stream = tls::connect(&connector, https, "web.example.com").await.unwrap();
    assert_eq!(tls_stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]), "h2 negotiated");
    let (mut sender, connection) = h2::client::handshake(tls_stream).await.unwrap();
    let connection = tokio::spawn(connection);
    let reset = Arc::new(AtomicUsize::new(0));
    let reset2 = reset.clone();
    let attacker = tokio::spawn(async move {
        for _ in 0..5000 {
            let Ok(ready) = sender.ready().await else { break };
            sender = ready;
            let request = http::Request::get("https://web.example.com/flood").body(()).unwrap();
            let Ok((response, _stream)) = sender.send_request(request, true) else { break };
            // Dropping the response future and stream resets the stream (RST_STREAM CANCEL).
            drop(response);
            reset2.fetch_add(1, Ordering::Relaxed);
        }
    });

    // Everyone else keeps being served, over plain HTTP and over TLS h2 on another connection.
    let served = Instant::now();
    for i in 0..30 {
        let r = get_async(http, "web.example.com", &format!("/{i}")).await.unwrap();
        assert_eq!(r.status, 200, "request {i} during the flood");
    }
    let tls_stream = tls::connect(&connector, https, "web.example.com").await.unwrap();
    let (sender, other) = h2::client::handshake(tls_stream).await.unwrap();
    tokio::spawn(other);
    let mut sender = sender.ready().await.unwrap();
    for _ in 0..10 {
        let request = http::Request::get("https://web.example.com/ok").body(()).unwrap();
        let (response, _) = sender.send_request(request, true).unwrap();
        let response = tokio::time::timeout(DEADLINE, response).await.unwrap().unwrap();
        assert_eq!(response.status(), 200);
        sender = sender.ready().await.unwrap();
    }
    eprintln!("others served in {:?} during the flood", served.elapsed());

    let _ = tokio::time::timeout(DEADLINE, attacker).await.unwrap();
    let attacker_end = tokio::time::timeout(DEADLINE, connection).await;
    eprintln!("attacker reset {} streams; its connection ended with {attacker_end:?}", reset.load(Ordering::Relaxed));
    // Nothing of the flood stays in flight.
    let wait = Instant::now();
    while gw.proxy().in_flight() > 0 {
        assert!(wait.elapsed() < DEADLINE, "{} requests still in flight after the flood", gw.proxy().in_flight());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gw.shutdown(Duration::from_secs(5)).await;
}
