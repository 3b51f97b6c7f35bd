//! The gateway ConfigMap end to end: gzip switched on and off by rewriting the ConfigMap file (hot, no
//! restart), `X-Real-IP` arriving upstream, an invalid ConfigMap keeping the last good settings; the
//! HTTP/2 settings a client receives (new connections get a changed ConfigMap's, open ones keep theirs);
//! the buffer limit of bodies a plugin reads (413 above it); and an Ingress edited with an invalid
//! annotation value keeping its last good form until it is fixed; idle HTTP/2 connections closed after
//! `downstream.idleTimeout`, and so idle HTTP/1 keep-alive connections; bodies a plugin buffers beyond
//! pingora's 64 KiB forwarded whole.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use support::*;

/// A raw answer: status, lower-cased head, body bytes (a chunked body decoded).
struct RawResponse {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| l.strip_prefix(&format!("{name}: ")))
    }

    /// The body, gunzipped when it is gzip-encoded.
    fn text(&self) -> String {
        if self.header("content-encoding") == Some("gzip") {
            let mut text = String::new();
            flate2::read::GzDecoder::new(&self.body[..]).read_to_string(&mut text).unwrap();
            return text;
        }
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn raw_get(addr: SocketAddr, host: &str, path: &str, extra: &str) -> RawResponse {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let mut rest = &raw[split + 4..];
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    if !head.contains("transfer-encoding: chunked") {
        return RawResponse { status, head, body: rest.to_vec() };
    }
    let mut body = Vec::new();
    while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..end]).trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        body.extend_from_slice(&rest[end + 2..end + 2 + size]);
        rest = &rest[end + 2 + size + 2..];
    }
    RawResponse { status, head, body }
}

async fn raw_get_async(addr: SocketAddr, host: &str, path: &str, extra: &str) -> RawResponse {
    let (host, path, extra) = (host.to_string(), path.to_string(), extra.to_string());
    tokio::task::spawn_blocking(move || raw_get(addr, &host, &path, &extra)).await.unwrap()
}

/// Polls `request` until `done` holds for its answer; panics after [`DEADLINE`].
async fn until<T>(what: &str, mut request: impl AsyncFnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let start = std::time::Instant::now();
    loop {
        let answer = request().await;
        if done(&answer) {
            return answer;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gzip_follows_the_config_map_and_x_real_ip_arrives_upstream() {
    let backend = echo("shop-pod");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "class.yaml", &ingress_class("higress"));
    write(dir.path(), "svc.yaml", &service("shop", backend.addr));
    write(dir.path(), "ing.yaml", &ingress("shop", "higress", "shop.example.com", &["/"], "shop"));
    write(dir.path(), "config.yaml", &config_map("addXRealIpHeader: true\ngzip:\n  minContentLength: 100\n"));
    let gateway = instance(dir.path(), "higress-gateway", "higress");
    let http = gateway.http_addr().unwrap();
    let accept = "Accept-Encoding: gzip\r\n";

    // On: the echo's JSON (> 100 bytes) comes back gzip-encoded, and it saw X-Real-IP.
    let on = until("gzip on", || raw_get_async(http, "shop.example.com", "/a", accept), |r| {
        r.header("content-encoding") == Some("gzip")
    })
    .await;
    assert_eq!(on.status, 200);
    assert!(on.header("content-length").is_none());
    let echoed: serde_json::Value = serde_json::from_str(&on.text()).unwrap();
    assert_eq!(echoed["headers"]["X-Real-Ip"][0], "127.0.0.1", "{echoed}");
    assert_eq!(echoed["pod"], "shop-pod");
    // A client that does not accept gzip gets the body as it is.
    let plain = raw_get_async(http, "shop.example.com", "/a", "").await;
    assert!(plain.header("content-encoding").is_none(), "{}", plain.head);
    assert!(serde_json::from_slice::<serde_json::Value>(&plain.body).is_ok());

    // Off: the ConfigMap file is rewritten; the next snapshot applies it, no restart.
    write(dir.path(), "config.yaml", &config_map("gzip:\n  enable: false\n"));
    let off = until("gzip off", || raw_get_async(http, "shop.example.com", "/a", accept), |r| {
        r.status == 200 && r.header("content-encoding").is_none()
    })
    .await;
    let echoed: serde_json::Value = serde_json::from_slice(&off.body).unwrap();
    assert!(echoed["headers"].get("X-Real-Ip").is_none(), "addXRealIpHeader went back to its default: {echoed}");

    // Invalid: a diagnostic, and the last good settings (gzip off) stay.
    write(dir.path(), "config.yaml", &config_map("gzip:\n  enable: true\n  windowBits: 99\n"));
    let admin = gateway.admin_addr().unwrap();
    let _answer = until("InvalidGatewayConfig diagnostic", || get_async(admin, "admin", "/debug/diagnostics"), |r| {
        r.as_ref().is_ok_and(|r| r.body.contains("InvalidGatewayConfig") && r.body.contains("last good"))
    })
    .await;
    let still_off = raw_get_async(http, "shop.example.com", "/a", accept).await;
    assert!(still_off.header("content-encoding").is_none(), "{}", still_off.head);

    gateway.shutdown(Duration::from_secs(5)).await;
}

fn ingress_with(annotations: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: shop\n  namespace: apps\n  annotations:\n{annotations}\
spec:\n  ingressClassName: higress\n  rules:\n  - host: shop.example.com\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend: {{service: {{name: shop, port: {{number: 80}}}}}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invalid_annotation_keeps_the_last_good_route_until_fixed() {
    let backend = echo("shop-pod");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "class.yaml", &ingress_class("higress"));
    write(dir.path(), "svc.yaml", &service("shop", backend.addr));
    write(dir.path(), "ing.yaml", &ingress_with("    nginx.ingress.kubernetes.io/rewrite-target: /v1\n"));
    let gateway = instance(dir.path(), "higress-gateway", "higress");
    let (http, admin) = (gateway.http_addr().unwrap(), gateway.admin_addr().unwrap());
    let upstream_path = |r: &std::io::Result<Response>| {
        r.as_ref().ok().and_then(|r| serde_json::from_str::<serde_json::Value>(&r.body).ok()).map(|v| v["path"].to_string())
    };
    let _answer = until("rewrite /v1", || get_async(http, "shop.example.com", "/"), |r| upstream_path(r).as_deref() == Some("\"/v1\""))
        .await;

    // Edited with an invalid timeout: the diagnostic shows, the old rewrite keeps serving.
    write(
        dir.path(),
        "ing.yaml",
        &ingress_with("    nginx.ingress.kubernetes.io/rewrite-target: /v2\n    higress.io/timeout: soon\n"),
    );
    let _answer = until("InvalidAnnotation diagnostic", || get_async(admin, "admin", "/debug/diagnostics"), |r| {
        r.as_ref().is_ok_and(|r| r.body.contains("higress.io/timeout") && r.body.contains("last good version"))
    })
    .await;
    let kept = get_async(http, "shop.example.com", "/").await;
    assert_eq!(upstream_path(&kept).as_deref(), Some("\"/v1\""));

    // Fixed: the new rewrite serves and the diagnostic is gone.
    write(
        dir.path(),
        "ing.yaml",
        &ingress_with("    nginx.ingress.kubernetes.io/rewrite-target: /v2\n    higress.io/timeout: \"5\"\n"),
    );
    let _answer = until("rewrite /v2", || get_async(http, "shop.example.com", "/"), |r| upstream_path(r).as_deref() == Some("\"/v2\""))
        .await;
    let diagnostics = get_async(admin, "admin", "/debug/diagnostics").await.unwrap();
    assert!(!diagnostics.body.contains("InvalidAnnotation"), "{}", diagnostics.body);

    gateway.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rewrite_path_replaces_the_matched_prefix_as_higress() {
    let backend = echo("shop-pod");
    let ingress = |name: &str, path: &str, kind: &str, target: &str| {
        ingress_with(&format!("    higress.io/rewrite-path: \"{target}\"\n"))
            .replace("name: shop\n", &format!("name: {name}\n"))
            .replace("- path: /\n        pathType: Prefix", &format!("- path: {path}\n        pathType: {kind}"))
    };
    let files = [
        ingress("no-slash", "/api/", "Prefix", "/v2"),
        ingress("slash", "/web", "Prefix", "/v3/"),
        ingress("exact", "/login", "Exact", "/auth/login"),
    ];
    let (_dir, gateway) =
        higress_instance(&[("svc.yaml", service("shop", backend.addr)), ("ing.yaml", files.join("---\n"))]);
    let http = gateway.http_addr().unwrap();
    let upstream_path = |path: &'static str| async move {
        let answer = get_async(http, "shop.example.com", path).await.unwrap();
        assert_eq!(answer.status, 200, "{path}: {answer:?}");
        serde_json::from_str::<serde_json::Value>(&answer.body).unwrap()["path"].as_str().unwrap().to_string()
    };
    // A target without a trailing `/`: `^/api(/.*)?` -> `/v2\1`.
    assert_eq!(upstream_path("/api").await, "/v2");
    assert_eq!(upstream_path("/api/users?id=1").await, "/v2/users?id=1");
    // With one: the matched prefix (`/web` or `/web/`) is replaced.
    assert_eq!(upstream_path("/web").await, "/v3/");
    assert_eq!(upstream_path("/web/index.html").await, "/v3/index.html");
    // Exact: the whole path.
    assert_eq!(upstream_path("/login?next=/").await, "/auth/login?next=/");
    gateway.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn basic_auth_and_denylist_annotations_guard_their_routes() {
    let backend = echo("shop-pod");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "class.yaml", &ingress_class("higress"));
    write(dir.path(), "svc.yaml", &service("shop", backend.addr));
    // `htpasswd -nbm alice myPassword` with a fixed salt.
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: htpasswd, namespace: apps}\nstringData:\n  auth: |\n    alice:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/\n";
    write(dir.path(), "secret.yaml", secret);
    let auth = ingress_with(
        "    nginx.ingress.kubernetes.io/auth-type: basic\n    nginx.ingress.kubernetes.io/auth-secret: htpasswd\n    nginx.ingress.kubernetes.io/auth-realm: Staff\n",
    );
    let denied = ingress_with("    nginx.ingress.kubernetes.io/denylist-source-range: 127.0.0.0/8\n")
        .replace("name: shop\n", "name: denied\n")
        .replace("shop.example.com", "denied.example.com");
    write(dir.path(), "ing.yaml", &format!("{auth}---\n{denied}"));
    let gateway = instance(dir.path(), "higress-gateway", "higress");
    let http = gateway.http_addr().unwrap();

    let anonymous = until("auth route", || raw_get_async(http, "shop.example.com", "/", ""), |r| r.status == 401).await;
    assert_eq!(anonymous.header("www-authenticate"), Some("basic realm=\"staff\""), "{}", anonymous.head);
    let wrong = raw_get_async(http, "shop.example.com", "/", "Authorization: Basic YWxpY2U6d3Jvbmc=\r\n").await;
    assert_eq!(wrong.status, 401);
    // alice:myPassword
    let right = raw_get_async(http, "shop.example.com", "/", "Authorization: Basic YWxpY2U6bXlQYXNzd29yZA==\r\n").await;
    assert_eq!(right.status, 200, "{}", right.head);
    let config = get_async(gateway.admin_addr().unwrap(), "admin", "/debug/config").await.unwrap();
    assert!(config.body.contains("alice:<redacted>") && !config.body.contains("HqJZ"), "{}", config.body);

    let denied = raw_get_async(http, "denied.example.com", "/", "").await;
    assert_eq!(denied.status, 403);

    gateway.shutdown(Duration::from_secs(5)).await;
}

/// What one h2c connection to the gateway learnt from its SETTINGS: the concurrent streams it may open,
/// and the send capacity of a new stream (the server's initial stream window, within its connection
/// window).
struct H2Seen {
    max_streams: usize,
    stream_capacity: usize,
}

/// An h2c (prior knowledge) connection to `addr`, driven on its own task.
async fn h2c(addr: SocketAddr) -> h2::client::SendRequest<bytes::Bytes> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (sender, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    sender
}

/// One request on `sender` (so the server's SETTINGS have arrived), then what the connection allows.
async fn h2_seen(sender: &mut h2::client::SendRequest<bytes::Bytes>, host: &str) -> H2Seen {
    let ready = sender.clone().ready().await.unwrap();
    *sender = ready;
    let request = http::Request::get(format!("http://{host}/settings")).body(()).unwrap();
    let (response, _) = sender.send_request(request, true).unwrap();
    let response = tokio::time::timeout(DEADLINE, response).await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    let max_streams = sender.current_max_send_streams();

    *sender = sender.clone().ready().await.unwrap();
    let request = http::Request::post(format!("http://{host}/window")).body(()).unwrap();
    let (_response, mut stream) = sender.send_request(request, false).unwrap();
    stream.reserve_capacity(4 << 20);
    let capacity = tokio::time::timeout(DEADLINE, std::future::poll_fn(|cx| stream.poll_capacity(cx)))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    stream.send_reset(h2::Reason::CANCEL);
    H2Seen { max_streams, stream_capacity: capacity }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http2_settings_follow_the_config_map_for_new_connections() {
    let backend = echo("shop-pod");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "class.yaml", &ingress_class("higress"));
    write(dir.path(), "svc.yaml", &service("shop", backend.addr));
    write(dir.path(), "ing.yaml", &ingress("shop", "higress", "shop.example.com", &["/"], "shop"));
    let http2 = "downstream:\n  http2:\n    maxConcurrentStreams: 7\n    initialStreamWindowSize: 200000\n";
    write(dir.path(), "config.yaml", &config_map(http2));
    let gateway = instance(dir.path(), "higress-gateway", "higress");
    let http = gateway.http_addr().unwrap();

    // The SETTINGS a client receives carry the ConfigMap's values.
    let mut first = h2c(http).await;
    let seen = h2_seen(&mut first, "shop.example.com").await;
    assert_eq!(seen.max_streams, 7, "SETTINGS_MAX_CONCURRENT_STREAMS");
    assert_eq!(seen.stream_capacity, 200_000, "SETTINGS_INITIAL_WINDOW_SIZE");

    // Rewritten: new connections get the new settings (no restart, no listener re-created) …
    let http2 = "downstream:\n  http2:\n    maxConcurrentStreams: 3\n";
    write(dir.path(), "config.yaml", &config_map(http2));
    let changed = until(
        "new h2 settings",
        || async {
            let mut sender = h2c(http).await;
            h2_seen(&mut sender, "shop.example.com").await
        },
        |seen| seen.max_streams == 3,
    )
    .await;
    assert_eq!(changed.stream_capacity, 65_535, "initialStreamWindowSize went back to its default");

    // … while the connection opened before keeps serving with the settings it was opened with.
    let again = h2_seen(&mut first, "shop.example.com").await;
    assert_eq!((again.max_streams, again.stream_capacity), (7, 200_000));

    gateway.shutdown(Duration::from_secs(5)).await;
}

/// POSTs `size` bytes over HTTP/1.1 and returns the status (0 when the connection closed without one).
fn post_status(addr: SocketAddr, host: &str, size: usize) -> u16 {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!("POST /upload HTTP/1.1\r\nHost: {host}\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n");
    // The gateway may answer (and close) before it has read everything.
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&vec![b'x'; size]));
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

async fn post_status_async(addr: SocketAddr, host: &str, size: usize) -> u16 {
    let host = host.to_string();
    tokio::task::spawn_blocking(move || post_status(addr, &host, size)).await.unwrap()
}

/// POSTs `size` bytes (with their `content-length`, as curl sends) on a new h2c stream and returns the status.
async fn h2_post_status(sender: &mut h2::client::SendRequest<bytes::Bytes>, host: &str, size: usize) -> u16 {
    *sender = sender.clone().ready().await.unwrap();
    let request = http::Request::post(format!("http://{host}/upload")).header("content-length", size).body(()).unwrap();
    let (response, mut stream) = sender.send_request(request, false).unwrap();
    stream.send_data(bytes::Bytes::from(vec![b'x'; size]), true).unwrap();
    tokio::time::timeout(DEADLINE, response).await.unwrap().unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_body_a_plugin_buffers_is_bounded_by_the_connection_buffer_limit() {
    let backend = echo("shop-pod");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "class.yaml", &ingress_class("higress"));
    write(dir.path(), "svc.yaml", &service("shop", backend.addr));
    write(dir.path(), "ing.yaml", &ingress("shop", "higress", "shop.example.com", &["/"], "shop"));
    write(dir.path(), "open.yaml", &ingress("open", "higress", "open.example.com", &["/"], "shop"));
    // request-block must read bodies on the shop Ingress only.
    let plugin = "apiVersion: extensions.higress.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: body-check, namespace: higress-system}\n\
spec:\n  url: oci://x/plugins/request-block:1.0.0\n  matchRules:\n  - ingress: [apps/shop]\n    config: {block_bodies: [forbidden-word]}\n";
    write(dir.path(), "plugin.yaml", plugin);
    write(dir.path(), "config.yaml", &config_map("downstream:\n  connectionBufferLimits: 1024\n"));
    let gateway = instance(dir.path(), "higress-gateway", "higress");
    let http = gateway.http_addr().unwrap();

    // HTTP/1: at the limit the body is inspected and forwarded; one byte over, 413 (Envoy's
    // downstream_rq_too_large). A route whose plugins do not buffer streams any body.
    assert_eq!(post_status_async(http, "shop.example.com", 1024).await, 200);
    assert_eq!(post_status_async(http, "shop.example.com", 1025).await, 413);
    assert_eq!(post_status_async(http, "open.example.com", 200_000).await, 200);

    // HTTP/2 streams are bounded by the stream window (initialStreamWindowSize, default 65535), as Envoy.
    let mut sender = h2c(http).await;
    assert_eq!(h2_post_status(&mut sender, "shop.example.com", 2000).await, 200);
    assert_eq!(h2_post_status(&mut sender, "shop.example.com", 65_535).await, 200);
    assert_eq!(h2_post_status(&mut sender, "shop.example.com", 65_536).await, 413);

    // Raised in the ConfigMap: applies to the next request.
    write(dir.path(), "config.yaml", &config_map("downstream:\n  connectionBufferLimits: 4096\n"));
    until("connectionBufferLimits 4096", || post_status_async(http, "shop.example.com", 4000), |s| *s == 200).await;
    assert_eq!(post_status_async(http, "shop.example.com", 4097).await, 413);

    // Left out: Higress's default, 32 KiB.
    write(dir.path(), "config.yaml", &config_map("gzip:\n  enable: true\n"));
    until("default connectionBufferLimits", || post_status_async(http, "shop.example.com", 32_768), |s| *s == 200).await;
    assert_eq!(post_status_async(http, "shop.example.com", 32_769).await, 413);

    gateway.shutdown(Duration::from_secs(5)).await;
}

/// Opens an h2c connection, sends one request, and returns how long the connection then stayed open
/// (`None`: still open after `wait`).
async fn h2_idle_lifetime(addr: SocketAddr, host: &str, wait: Duration) -> Option<Duration> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (sender, connection) = h2::client::handshake(tcp).await.unwrap();
    let closed = tokio::spawn(connection);
    let mut sender = sender.ready().await.unwrap();
    let request = http::Request::get(format!("http://{host}/idle")).body(()).unwrap();
    let (response, _) = sender.send_request(request, true).unwrap();
    let response = tokio::time::timeout(DEADLINE, response).await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    while let Some(chunk) = tokio::time::timeout(DEADLINE, body.data()).await.unwrap() {
        chunk.unwrap();
    }
    let idle_since = std::time::Instant::now();
    tokio::time::timeout(wait, closed).await.ok().map(|_| idle_since.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_http2_connections_close_after_the_config_map_idle_timeout() {
    let backend = echo("shop-pod");
    let (dir, gateway) = higress_instance(&[
        ("svc.yaml", service("shop", backend.addr)),
        ("ing.yaml", ingress("shop", "higress", "shop.example.com", &["/"], "shop")),
        ("config.yaml", config_map("downstream:\n  idleTimeout: 1\n")),
    ]);
    let http = gateway.http_addr().unwrap();

    // Idle for the ConfigMap's 1 s (no stream open): closed by the gateway — not before.
    let lifetime = h2_idle_lifetime(http, "shop.example.com", DEADLINE).await.expect("idle h2 connection closed");
    assert!(lifetime >= Duration::from_millis(900), "closed after {lifetime:?}, before the idle timeout");

    // Rewritten to 3 s: applies to new connections, without a restart.
    write(dir.path(), "config.yaml", &config_map("downstream:\n  idleTimeout: 3\n"));
    until(
        "idleTimeout 3",
        || h2_idle_lifetime(http, "shop.example.com", DEADLINE),
        |lifetime| lifetime.is_some_and(|l| l >= Duration::from_millis(2900)),
    )
    .await;

    gateway.shutdown(Duration::from_secs(5)).await;
}

/// Sends `requests` keep-alive HTTP/1.1 requests on one connection, `gap` apart, and returns how long the
/// connection then stayed open (`None`: still open after `wait`).
async fn h1_idle_lifetime(addr: SocketAddr, host: &str, requests: usize, gap: Duration, wait: Duration) -> Option<Duration> {
    use tokio::io::AsyncWriteExt;
    let (read, mut write) = tokio::net::TcpStream::connect(addr).await.unwrap().into_split();
    let mut read = tokio::io::BufReader::new(read);
    for i in 0..requests {
        if i > 0 {
            tokio::time::sleep(gap).await;
        }
        write.write_all(format!("GET /idle HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes()).await.unwrap();
        let answer = tokio::time::timeout(DEADLINE, support::raw::read_response(&mut read, |_| {})).await.unwrap();
        assert_eq!(answer.unwrap().0, 200, "request {i} on the kept-alive connection");
    }
    let idle_since = std::time::Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(wait, tokio::io::AsyncReadExt::read_to_end(&mut read, &mut rest)).await.ok()?;
    closed.unwrap();
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    Some(idle_since.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_http1_keep_alive_connections_close_after_the_config_map_idle_timeout() {
    let backend = echo("shop-pod");
    let (dir, gateway) = higress_instance(&[
        ("svc.yaml", service("shop", backend.addr)),
        ("ing.yaml", ingress("shop", "higress", "shop.example.com", &["/"], "shop")),
        ("config.yaml", config_map("downstream:\n  idleTimeout: 2\n")),
    ]);
    let http = gateway.http_addr().unwrap();

    // Requests 1 s apart keep the connection (each wait is shorter than the 2 s); after the last one it
    // is closed once idle for 2 s — not before.
    let lifetime = h1_idle_lifetime(http, "shop.example.com", 3, Duration::from_secs(1), DEADLINE).await;
    let lifetime = lifetime.expect("idle keep-alive connection closed");
    assert!(lifetime >= Duration::from_millis(1900), "closed after {lifetime:?}, before the idle timeout");

    // Rewritten to 4 s: the next waits are bounded by the new value.
    write(dir.path(), "config.yaml", &config_map("downstream:\n  idleTimeout: 4\n"));
    until(
        "idleTimeout 4",
        || h1_idle_lifetime(http, "shop.example.com", 1, Duration::ZERO, DEADLINE),
        |lifetime| lifetime.is_some_and(|l| l >= Duration::from_millis(3900)),
    )
    .await;

    gateway.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bodies_a_plugin_buffers_beyond_64_kib_reach_the_upstream_whole() {
    // pingora keeps 64 KiB of a body for sending upstream; a ConfigMap that allows more must still forward
    // every byte a plugin read (the retry buffer is sized per request).
    let backend = support::backend::Backend::start("big").await;
    let plugin = "apiVersion: extensions.higress.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: body-check, namespace: higress-system}\n\
spec:\n  url: oci://x/plugins/request-block:1.0.0\n  defaultConfig: {block_bodies: [forbidden-word]}\n";
    let limits = "downstream:\n  connectionBufferLimits: 2000000\n  http2:\n    initialStreamWindowSize: 2000000\n";
    let (_dir, gateway) = higress_instance(&[
        ("svc.yaml", service("big", backend.addr)),
        ("ing.yaml", ingress("big", "higress", "big.example.com", &["/"], "big")),
        ("plugin.yaml", plugin.to_string()),
        ("config.yaml", config_map(limits)),
    ]);
    let http = gateway.http_addr().unwrap();

    // HTTP/1: inspected (a word at the end of 1 MB blocks it) and forwarded whole.
    assert_eq!(post_status_async(http, "big.example.com", 1_000_000).await, 200);
    let mut blocked = "x".repeat(1_000_000);
    blocked.push_str("forbidden-word");
    let answer = support::backend::request(http, "POST", "big.example.com", "/upload", &[], &blocked).await.unwrap();
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(post_status_async(http, "big.example.com", 2_000_001).await, 413);
    // HTTP/2, bounded by the stream window.
    let mut sender = h2c(http).await;
    assert_eq!(h2_post_status(&mut sender, "big.example.com", 1_500_000).await, 200);

    let sizes: Vec<usize> = backend.seen().iter().map(|(_, body)| body.len()).collect();
    assert_eq!(sizes, [1_000_000, 1_500_000], "what the upstream received");
    gateway.shutdown(Duration::from_secs(5)).await;
}
