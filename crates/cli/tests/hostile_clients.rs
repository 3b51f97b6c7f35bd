//! Slow and hostile clients: oversized headers and bodies, malformed requests, a slowloris client and an
//! h2 rapid-reset flood; the gateway answers each with a clear status (or cuts it) and keeps serving
//! everyone else.
//!
//! What answers what (pingora 0.9 parses the request before oxigress sees it):
//! - a request head over 1 MiB (pingora `MAX_HEADER_SIZE`) or with more than 256 headers: **431**, as
//!   Envoy (`proxy::header_deadline` stops such a head before pingora, which would answer 400); a head over
//!   the ConfigMap's `maxRequestHeadersKb` (60 KiB by default): 431 too (`gateway_config.rs`);
//! - a body over the gateway ConfigMap's buffer limit (`downstream.connectionBufferLimits`, 32 KiB by
//!   default; at most 64 KiB) on a route whose plugins must read it (request-block `block_bodies`,
//!   request-validation, transformer; ai-proxy up to 64 KiB whatever the limit): **413**; other bodies stream
//!   through unbuffered;
//! - a malformed header line, HTTP version or Content-Length (also two different ones), a `Host` no
//!   authority may be (a space, `/`, `?`, non-ASCII), or a request line that is not HTTP at all (`GET`
//!   alone, a TLS ClientHello on the plain port): **400**;
//! - an HTTP/1.1 request without `Host`: **400** from the gateway (HTTP/1.0 may omit it);
//! - pipelined requests are answered in turn; a pipelined head is bounded by the header timeout like
//!   any other, its body is not;
//! - a connection that has not finished its TLS handshake, or has not sent a request head, within
//!   `--header-timeout` (60 s; 1 s here) is closed without an answer (`proxy::header_deadline`); on a
//!   keep-alive connection each request head's clock starts at its first byte, and an idle connection
//!   between requests is left to the idle timeout.
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

/// [`gateway`] named `name`, with a header timeout of one second.
fn one_second_gateway(dir: &std::path::Path, backend: SocketAddr, name: &str, https: bool) -> oxigress_cli::standalone::Instance {
    write_manifests(dir, backend);
    instance_listening(dir, name, "higress", one_second_header_timeout(https))
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
    raw_answer(addr, raw).split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Sends `raw` on a new connection and returns everything the gateway wrote until it closed (at most
/// 10 s).
fn raw_answer(addr: SocketAddr, raw: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The gateway may answer (and close) before it has read everything; that is fine.
    let _ = stream.write_all(raw);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_malformed_requests_get_clear_answers() {
    let backend = echo("web");
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), backend.addr, false);
    let http = gw.http_addr().unwrap();
    let status = |raw: Vec<u8>| tokio::task::spawn_blocking(move || raw_status(http, &raw));

    // A head over pingora's 1 MiB limit: 431 (pingora alone would answer 400).
    let big = format!("GET / HTTP/1.1\r\nHost: web.example.com\r\nX-Big: {}\r\n\r\n", "a".repeat(1 << 20)).into_bytes();
    assert_eq!(status(big).await.unwrap(), 431, "oversized head");
    // More than 256 headers: 431. (The echo backend is pingora too, with the same limit: the request that
    // passes keeps a margin for the headers the gateway adds.)
    let headers = |n: usize| {
        let lines: String = (0..n).map(|i| format!("X-H{i}: v\r\n")).collect();
        format!("GET / HTTP/1.1\r\nHost: web.example.com\r\nConnection: close\r\n{lines}\r\n").into_bytes()
    };
    assert_eq!(status(headers(300)).await.unwrap(), 431, "too many headers");
    assert_eq!(status(headers(255)).await.unwrap(), 431, "257 headers");
    assert_eq!(status(headers(240)).await.unwrap(), 200, "242 headers");
    // A head over the ConfigMap's limit (60 KiB by default), under pingora's: 431 as well.
    let over = format!("GET / HTTP/1.1\r\nHost: web.example.com\r\nConnection: close\r\nX-Big: {}\r\n\r\n", "a".repeat(100 << 10));
    let over = over.into_bytes();
    assert_eq!(status(over).await.unwrap(), 431, "head over maxRequestHeadersKb");
    // Malformed heads: 400, also a request line that is not HTTP at all (no target and version, or a TLS
    // ClientHello on the plain port), as nginx and Envoy answer them. (Until the h2c check decided on the
    // first differing byte, such short heads waited for the preface's 24 bytes, so no answer came.)
    for (raw, expected) in [
        (&b"GET / HTTP/1.1\r\nHost: web.example.com\r\nNo colon here\r\n\r\n"[..], 400),
        (b"GET / HTTP/9.9\r\nHost: web.example.com\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: web.example.com\r\nContent-Length: abc\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: web.example.com\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
        (b"GET\r\n\r\n", 400),
        // A target that is no path, URL, `*` or CONNECT authority: 400 (it was routed as `/` and sent
        // upstream as it came).
        (b"GET foo/../bar HTTP/1.1\r\nHost: web.example.com\r\n\r\n", 400),
        (b"GET * HTTP/1.1\r\nHost: web.example.com\r\n\r\n", 400),
        // A host no authority may be (as Envoy's `authorityIsValid` decides): 400, not forwarded.
        (b"GET / HTTP/1.1\r\nHost: web.example.com x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: web.example.com/x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: web.example.com?\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: web.example.\xc3\xa9\r\n\r\n", 400),
        (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 400),
    ] {
        let shown = String::from_utf8_lossy(raw).into_owned();
        assert_eq!(status(raw.to_vec()).await.unwrap(), expected, "malformed: {shown:?}");
    }
    // pingora answers most of those itself; it names the same server as every other answer. Each 400
    // ends its connection (the rest of what the client sent cannot be trusted).
    let answer = tokio::task::spawn_blocking(move || raw_answer(http, b"GET / HTTP/9.9\r\nHost: web.example.com\r\n\r\n")).await.unwrap();
    assert!(answer.to_ascii_lowercase().contains("\r\nserver: oxigress\r\n"), "{answer:?}");
    let answer = tokio::task::spawn_blocking(move || raw_answer(http, b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n")).await.unwrap();
    assert!(answer.to_ascii_lowercase().contains("\r\nconnection: close\r\n"), "{answer:?}");
    // A request shorter than the h2c preface (24 bytes) is answered at once, not held until more bytes
    // come (which they never do): no Host, so no route here.
    assert_eq!(status(b"GET / HTTP/1.0\r\n\r\n".to_vec()).await.unwrap(), 404, "short HTTP/1.0 request");
    // A body the plugin must inspect, over the buffer limit: 413. The same body elsewhere streams through.
    let body = "x".repeat(200 * 1024);
    let upload = format!("POST / HTTP/1.1\r\nHost: upload.example.com\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    assert_eq!(status(upload.into_bytes()).await.unwrap(), 413, "oversized inspected body");
    let elsewhere = format!("POST / HTTP/1.1\r\nHost: web.example.com\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    assert_eq!(status(elsewhere.into_bytes()).await.unwrap(), 200, "uninspected body");
    // `OPTIONS *` is a valid target (routed as `/`).
    assert_eq!(status(b"OPTIONS * HTTP/1.1\r\nHost: web.example.com\r\nConnection: close\r\n\r\n".to_vec()).await.unwrap(), 200);
    // And a normal request still works, also with a port and in upper case.
    assert_eq!(get_async(http, "web.example.com", "/").await.unwrap().status, 200);
    assert_eq!(get_async(http, "WEB.Example.com:80", "/").await.unwrap().status, 200);
    gw.shutdown(Duration::from_secs(5)).await;
}

/// A request without any host: HTTP/1.1 (and h2) must name one, so the gateway answers 400 itself;
/// HTTP/1.0 may omit it (health checkers such as HAProxy's `httpchk` do), so it is routed by the rules
/// without a host and goes upstream (as HTTP/1.1) with the endpoint's address as `Host`, as nginx does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_host_are_refused_or_given_the_upstream_address() {
    let backend = support::backend::Backend::start("plain").await;
    let dir = tempfile::tempdir().unwrap();
    let catch_all = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: any, namespace: apps}\nspec:\n  ingressClassName: higress\n  rules:\n  - http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: plain, port: {number: 80}}}}\n";
    write(dir.path(), "app.yaml", &[ingress_class("higress"), service("plain", backend.addr), catch_all.to_string()].join("---\n"));
    let gw = instance(dir.path(), "hostless", "higress");
    let http = gw.http_addr().unwrap();
    let status = |raw: &'static [u8]| tokio::task::spawn_blocking(move || raw_status(http, raw));

    assert_eq!(status(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").await.unwrap(), 400, "HTTP/1.1 without Host");
    assert_eq!(backend.hits(), 0, "a request without Host must not reach the upstream");
    assert_eq!(status(b"GET /check HTTP/1.0\r\n\r\n").await.unwrap(), 200, "HTTP/1.0 without Host");
    let seen = backend.seen();
    assert_eq!(seen.len(), 1, "the HTTP/1.0 request went upstream once");
    let expected = format!("host: {}\r\n", backend.addr).to_ascii_lowercase();
    assert!(seen[0].0.to_ascii_lowercase().contains(&expected), "upstream head names the endpoint: {:?}", seen[0].0);
    // A client's own Host is passed on unchanged.
    assert_eq!(status(b"GET / HTTP/1.0\r\nHost: Web.Example.com\r\n\r\n").await.unwrap(), 200);
    assert!(backend.seen()[1].0.contains("Web.Example.com"), "{:?}", backend.seen()[1].0);
    gw.shutdown(Duration::from_secs(5)).await;
}

/// Pipelined HTTP/1.1 requests (sent before the previous answer arrived) are answered in turn, as nginx
/// and Envoy answer them (pingora alone closes after the first and drops the rest). A pipelined
/// request's body is never taken for a head (a slow body is not cut by the header timeout), and a
/// pipelined head left unfinished is cut by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_turn_and_bounded_by_the_header_timeout() {
    use tokio::io::AsyncReadExt;
    let backend = echo("web");
    let dir = tempfile::tempdir().unwrap();
    let gw = one_second_gateway(dir.path(), backend.addr, "pipelining", false);
    let http = gw.http_addr().unwrap();
    let exchange = |writes: Vec<(Duration, &'static [u8])>| async move {
        let mut stream = tokio::net::TcpStream::connect(http).await.unwrap();
        let opened = Instant::now();
        for (pause, bytes) in writes {
            tokio::time::sleep(pause).await;
            stream.write_all(bytes).await.unwrap();
        }
        let mut out = Vec::new();
        tokio::time::timeout(DEADLINE, stream.read_to_end(&mut out)).await.expect("the gateway never closed").unwrap();
        (String::from_utf8_lossy(&out).into_owned(), opened.elapsed())
    };
    let paths = |text: &str| -> Vec<String> {
        text.lines().filter_map(|l| l.trim().strip_prefix("\"path\": \"")).map(|p| p.trim_end_matches("\",").to_string()).collect()
    };

    // Three requests in one write, the second with a body: three answers, in order.
    let (text, _) = exchange(vec![(
        Duration::ZERO,
        b"GET /one HTTP/1.1\r\nHost: web.example.com\r\n\r\nPOST /two HTTP/1.1\r\nHost: web.example.com\r\nContent-Length: 3\r\n\r\nabcGET /three HTTP/1.1\r\nHost: web.example.com\r\nConnection: close\r\n\r\n",
    )])
    .await;
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3, "{text}");
    assert_eq!(paths(&text), ["/one", "/two", "/three"]);

    // A pipelined POST whose body comes slowly, in pieces over more than the header timeout: served
    // (the body is not scanned as a head, so no head deadline runs while it trickles in). The host's
    // request-block plugin reads the whole body before the request goes upstream.
    let (text, _) = exchange(vec![
        (Duration::ZERO, b"GET /first HTTP/1.1\r\nHost: web.example.com\r\n\r\nPOST /slow-body HTTP/1.1\r\nHost: upload.example.com\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"),
        (Duration::from_millis(300), b"he"),
        (Duration::from_millis(1500), b"llo"),
    ])
    .await;
    assert_eq!(paths(&text), ["/first", "/slow-body"], "{text}");

    // A pipelined head never finished: the first request is answered, the connection cut after the
    // header timeout (1 s), not left open.
    let (text, took) = exchange(vec![(Duration::ZERO, b"GET /only HTTP/1.1\r\nHost: web.example.com\r\n\r\nGET /never HTTP/1.1\r\nHo")]).await;
    assert_eq!(paths(&text), ["/only"], "{text}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(10), "cut after {took:?}");
    gw.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_clients_are_cut_after_the_header_timeout_while_others_are_served() {
    let backend = echo("web");
    let dir = tempfile::tempdir().unwrap();
    let gw = one_second_gateway(dir.path(), backend.addr, "slowloris", false);
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

/// Reads until the gateway closes the connection; what it sent before closing.
async fn until_closed(mut reader: impl tokio::io::AsyncRead + Unpin) -> Vec<u8> {
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut seen))
        .await
        .expect("the gateway never closed the connection");
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_heads_and_tls_handshakes_are_bounded_by_the_header_timeout() {
    let backend = echo("web");
    let dir = tempfile::tempdir().unwrap();
    let gw = one_second_gateway(dir.path(), backend.addr, "keepalive", true);
    let (http, https) = (gw.http_addr().unwrap(), gw.https_addr().unwrap());

    // A keep-alive connection: a first request, then idle for longer than the header timeout (the idle
    // timeout, 180 s by default, governs that), then a second request on the same connection.
    let (read, mut write) = tokio::net::TcpStream::connect(http).await.unwrap().into_split();
    let mut read = tokio::io::BufReader::new(read);
    write.write_all(b"GET /first HTTP/1.1\r\nHost: web.example.com\r\n\r\n").await.unwrap();
    assert_eq!(support::raw::read_response(&mut read, |_| {}).await.unwrap().0, 200);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    write.write_all(b"GET /second HTTP/1.1\r\nHost: web.example.com\r\n\r\n").await.unwrap();
    assert_eq!(support::raw::read_response(&mut read, |_| {}).await.unwrap().0, 200, "idle keep-alive connection kept");
    // The third head trickles: the connection is cut about a second after its first byte.
    let started = Instant::now();
    write.write_all(b"GET /third HTTP/1.1\r\nHost: web.example.com\r\nX-Slow: ").await.unwrap();
    let trickle = tokio::spawn(async move {
        while write.write_all(b"a").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let answer = until_closed(read).await;
    let cut_after = started.elapsed();
    trickle.abort();
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    assert!(cut_after >= Duration::from_millis(900) && cut_after < Duration::from_secs(10), "{cut_after:?}");

    // TLS: a client that opens TCP and sends nothing, or half a ClientHello, is closed after the timeout.
    let mut hanging = Vec::new();
    let opened = Instant::now();
    for partial in [&b""[..], b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"] {
        let mut stream = tokio::net::TcpStream::connect(https).await.unwrap();
        stream.write_all(partial).await.unwrap();
        hanging.push(tokio::spawn(until_closed(stream)));
    }
    for task in hanging {
        let answer = task.await.unwrap();
        assert!(answer.is_empty(), "{answer:?}");
    }
    let cut_after = opened.elapsed();
    assert!(cut_after >= Duration::from_millis(900) && cut_after < Duration::from_secs(10), "{cut_after:?}");
    // A TLS client that completes its handshake is served (HTTP/1.1 and h2).
    let connector = tls::connector(&[b"http/1.1"]);
    let stream = tls::connect(&connector, https, "web.example.com").await.unwrap();
    let mut stream = tokio::io::BufReader::new(stream);
    stream.get_mut().write_all(b"GET / HTTP/1.1\r\nHost: web.example.com\r\nConnection: close\r\n\r\n").await.unwrap();
    assert_eq!(support::raw::read_response(&mut stream, |_| {}).await.unwrap().0, 200);
    let stream = tls::connect(&tls::connector(&[b"h2"]), https, "web.example.com").await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
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

/// Ephemeral listeners (HTTPS too when `https`) with a 1 s header timeout.
fn one_second_header_timeout(https: bool) -> oxigress_proxy::GatewayConfig {
    let any = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    oxigress_proxy::GatewayConfig {
        http: any,
        https: if https { any } else { None },
        admin: any,
        upstream_pool_size: 16,
        header_timeout: Duration::from_secs(1),
        threads: 1,
        work_stealing: false,
        splice: true,
    }
}
