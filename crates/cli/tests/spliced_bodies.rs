//! Large response bodies between plain TCP connections go from the upstream's socket to the client's
//! with `splice(2)`, without being read into the gateway (vendor/pingora-core `l4/splice.rs`, issue 8).
//! End to end: the bytes arrive unchanged whatever their size and however the upstream writes them,
//! the upstream connection is reused after a spliced body, a body the upstream cuts short ends the
//! client's answer instead of hanging it, a body compression must see is still read and gzipped, and a
//! plugin that acts on requests alone (request-block) leaves its route's bodies to the splice. With
//! `--no-splice` (`GatewayConfig::splice` off) every body is read and written.
//! `oxigress_spliced_response_bytes` tells which way a body went. The backend is scripted, in-process,
//! on an ephemeral port.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use support::backend::*;
use support::raw::{read_head, read_request, read_response, ScriptedListener};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The body of `n` bytes the backend sends: a pattern that shows a byte out of place.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i * 7 % 26) as u8).collect()
}

/// The backend's script, by path:
/// - `/bytes/N`: `N` bytes of [`pattern`] with a `Content-Length`, written in pieces of 10,000 with a
///   yield between them (so a splice waits for the upstream now and then);
/// - `/cut/N`: claims `N` bytes, sends half of them and closes the connection.
async fn serve(stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let Some((path, _body)) = read_request(&mut reader).await? else { return Ok(()) };
        let out = reader.get_mut();
        let (kind, n) = path.trim_start_matches('/').split_once('/').unwrap_or(("bytes", "2"));
        let n: usize = n.parse().unwrap_or(2);
        let body = pattern(n);
        let head = format!("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {n}\r\n\r\n");
        out.write_all(head.as_bytes()).await?;
        if kind == "cut" {
            out.write_all(&body[..n / 2]).await?;
            return Ok(());
        }
        for piece in body.chunks(10_000) {
            out.write_all(piece).await?;
            tokio::task::yield_now().await;
        }
    }
}

fn gateway(backend: &ScriptedListener, config: Option<&str>) -> (tempfile::TempDir, oxigress_cli::standalone::Instance) {
    let mut files = vec![
        ("svc.yaml", service_ports("app", &[backend.port])),
        ("ing.yaml", annotated_ingress("app", "app.example.com", "app", &[])),
    ];
    if let Some(config) = config {
        files.push(("config.yaml", config_map(config)));
    }
    higress_instance(&files)
}

/// `oxigress_spliced_response_bytes` as the admin port reports it.
async fn spliced_bytes(admin: SocketAddr) -> u64 {
    let metrics = get_async(admin, "admin", "/metrics").await.unwrap().body;
    metrics
        .lines()
        .find(|l| l.starts_with("oxigress_spliced_response_bytes_total"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or_else(|| panic!("no oxigress_spliced_response_bytes_total in {metrics}"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_arrive_unchanged_and_the_upstream_connection_is_reused() {
    let backend = ScriptedListener::start(serve).await;
    let (_dir, gw) = gateway(&backend, None);
    let (http, admin) = (gw.http_addr().unwrap(), gw.admin_addr().unwrap());
    assert_eq!(spliced_bytes(admin).await, 0);
    let mut client = BufReader::new(TcpStream::connect(http).await.unwrap());
    // Small and large answers alternate on one client connection (and so on one upstream connection).
    let sizes = [65_536, 3, 1_000_000, 20_000, 16_000, 70_001, 2];
    for n in sizes {
        let request = format!("GET /bytes/{n} HTTP/1.1\r\nHost: app.example.com\r\n\r\n");
        client.get_mut().write_all(request.as_bytes()).await.unwrap();
        let (status, body) = tokio::time::timeout(DEADLINE, read_response(&mut client, |_| {})).await.unwrap().unwrap();
        assert_eq!(status, 200, "{n} bytes");
        assert!(body == pattern(n), "{n} bytes arrive unchanged ({} arrived)", body.len());
    }
    assert_eq!(backend.connections.load(Ordering::SeqCst), 1, "the upstream connection is kept after every body");
    // Most of the 1 MB body cannot have come with its head: it was spliced. The small ones were not
    // (3 + 2 + 16,000 bytes are below the threshold, and every body but those is at most 1,171,537 bytes).
    let spliced = spliced_bytes(admin).await;
    assert!(spliced >= 900_000, "the large bodies were spliced: {spliced} bytes");
    assert!(spliced <= 65_536 + 1_000_000 + 20_000 + 70_001, "only the large bodies: {spliced} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_the_upstream_cuts_short_ends_the_answer() {
    let backend = ScriptedListener::start(serve).await;
    let (_dir, gw) = gateway(&backend, None);
    let http = gw.http_addr().unwrap();
    for _ in 0..2 {
        let mut stream = BufReader::new(TcpStream::connect(http).await.unwrap());
        stream.get_mut().write_all(b"GET /cut/400000 HTTP/1.1\r\nHost: app.example.com\r\n\r\n").await.unwrap();
        let head = tokio::time::timeout(DEADLINE, read_head(&mut stream)).await.unwrap().unwrap().unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        // The client connection is closed after what the upstream sent: not left waiting for the rest.
        let mut body = Vec::new();
        let _ = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut body)).await.unwrap();
        assert!(body.len() < 400_000, "the answer is cut too: {} bytes", body.len());
        assert!(body[..] == pattern(400_000)[..body.len()], "what arrived is the start of the body");
    }
    let r = get_with(http, "app.example.com", "/bytes/100000", &[]).await;
    assert_eq!(r.status, 200, "the gateway serves on");
    assert_eq!(r.body.len(), 100_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_compression_must_see_is_read_and_gzipped() {
    let backend = ScriptedListener::start(serve).await;
    let (_dir, gw) = gateway(&backend, Some("gzip:\n  minContentLength: 100\n"));
    let (http, admin) = (gw.http_addr().unwrap(), gw.admin_addr().unwrap());
    let n = 300_000;
    let mut stream = BufReader::new(TcpStream::connect(http).await.unwrap());
    let request = format!("GET /bytes/{n} HTTP/1.1\r\nHost: app.example.com\r\nAccept-Encoding: gzip\r\n\r\n");
    stream.get_mut().write_all(request.as_bytes()).await.unwrap();
    let head = tokio::time::timeout(DEADLINE, read_head(&mut stream)).await.unwrap().unwrap().unwrap();
    assert!(head.to_ascii_lowercase().contains("content-encoding: gzip"), "{head}");
    // The head was read above; the chunked body follows.
    let gzipped = {
        let mut body = Vec::new();
        loop {
            let mut size = String::new();
            tokio::io::AsyncBufReadExt::read_line(&mut stream, &mut size).await.unwrap();
            let size = usize::from_str_radix(size.trim(), 16).unwrap();
            let mut chunk = vec![0; size + 2];
            stream.read_exact(&mut chunk).await.unwrap();
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
        body
    };
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&gzipped[..]).read_to_end(&mut plain).unwrap();
    assert!(plain == pattern(n), "the gzipped body decodes to the upstream's");
    assert_eq!(spliced_bytes(admin).await, 0, "a body compression must see is not spliced");
    // The same body to a client that does not take gzip is spliced.
    let r = get_with(http, "app.example.com", &format!("/bytes/{n}"), &[]).await;
    assert_eq!(r.body.len(), n);
    assert!(spliced_bytes(admin).await > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_acts_on_requests_alone_leaves_bodies_to_the_splice() {
    let backend = ScriptedListener::start(serve).await;
    let block = "apiVersion: extensions.higress.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: block, namespace: higress-system}\n\
spec:\n  url: oci://higress-registry.cn-hangzhou.cr.aliyuncs.com/plugins/request-block:1.0.0\n  defaultConfig:\n    block_urls: [/bytes/7]\n";
    let (_dir, gw) = higress_instance(&[
        ("svc.yaml", service_ports("app", &[backend.port])),
        ("ing.yaml", annotated_ingress("app", "app.example.com", "app", &[])),
        ("block.yaml", block.to_string()),
    ]);
    let (http, admin) = (gw.http_addr().unwrap(), gw.admin_addr().unwrap());
    let blocked = get_with(http, "app.example.com", "/bytes/7", &[]).await;
    assert_eq!(blocked.status, 403, "the plugin is on the route");
    let r = get_with(http, "app.example.com", "/bytes/300000", &[]).await;
    assert_eq!((r.status, r.body.len()), (200, 300_000));
    assert!(r.body.as_bytes() == pattern(300_000), "the body arrives unchanged");
    assert!(spliced_bytes(admin).await > 200_000, "the body was spliced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_splicing_off_every_body_is_read_and_written() {
    let backend = ScriptedListener::start(serve).await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "class.yaml", &ingress_class("higress"));
    write(dir.path(), "svc.yaml", &service_ports("app", &[backend.port]));
    write(dir.path(), "ing.yaml", &annotated_ingress("app", "app.example.com", "app", &[]));
    let any = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    let listen = oxigress_proxy::GatewayConfig {
        http: any,
        https: None,
        admin: any,
        upstream_pool_size: 4,
        header_timeout: std::time::Duration::from_secs(60),
        threads: 1,
        work_stealing: false,
        splice: false,
    };
    let gw = instance_listening(dir.path(), "higress-gateway", "higress", listen);
    let (http, admin) = (gw.http_addr().unwrap(), gw.admin_addr().unwrap());
    let r = get_with(http, "app.example.com", "/bytes/1000000", &[]).await;
    assert_eq!((r.status, r.body.len()), (200, 1_000_000));
    assert!(r.body.as_bytes() == pattern(1_000_000), "the body arrives unchanged");
    assert_eq!(spliced_bytes(admin).await, 0, "nothing was spliced");
}
