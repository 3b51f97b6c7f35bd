//! Upstream behaviour end to end (issue 7 upstream annotations, issue 8 backend loss): retries to another
//! endpoint, passive health (outlier ejection), load balancing and affinity, upstream TLS and h2c. Every
//! backend is in-process on an ephemeral port.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::backend::*;
use support::*;

/// A body a plugin read whole (request-block `block_bodies`) is the one copy pingora keeps for retries:
/// every connect attempt, the first on a refused endpoint included, sends it complete and unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_body_a_plugin_read_reaches_the_upstream_whole_after_a_refused_connect() {
    let live = Backend::start("live").await;
    let dead = closed_port().await;
    let plugin = "apiVersion: extensions.higress.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: body-check, namespace: higress-system}\n\
spec:\n  url: oci://x/plugins/request-block:1.0.0\n  defaultConfig: {block_bodies: [forbidden-word]}\n";
    let (_dir, gw) = higress_instance(&[
        ("svc.yaml", service_ports("app", &[dead, live.addr.port()])),
        ("ing.yaml", annotated_ingress("app", "app.example.com", "app", &[])),
        ("plugin.yaml", plugin.to_string()),
    ]);
    let http = gw.http_addr().unwrap();
    let bodies: Vec<String> = (0..6).map(|i| format!("{i}:{}", "b".repeat(20_000 + i * 997))).collect();
    for (i, body) in bodies.iter().enumerate() {
        let r = request(http, "POST", "app.example.com", "/", &[], body).await.unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "live"), "request {i}");
    }
    let blocked = request(http, "POST", "app.example.com", "/", &[], "a forbidden-word here").await.unwrap();
    assert_eq!(blocked.status, 403, "the plugin read the body");
    let received: Vec<Vec<u8>> = live.seen().into_iter().map(|(_, body)| body).collect();
    let sent: Vec<Vec<u8>> = bodies.into_iter().map(String::into_bytes).collect();
    assert!(received == sent, "the upstream received {} bodies of sizes {:?}", received.len(), received.iter().map(Vec::len).collect::<Vec<_>>());
    gw.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_connect_is_retried_on_another_endpoint_for_any_method() {
    let live = Backend::start("live").await;
    let dead = closed_port().await;
    let (_dir, gw) = higress_instance(&[
        ("svc.yaml", [service_ports("app", &[dead, live.addr.port()]), service_ports("strict", &[dead, live.addr.port()])].join("---\n")),
        (
            "ing.yaml",
            [
                annotated_ingress("app", "app.example.com", "app", &[]),
                annotated_ingress("strict", "strict.example.com", "strict", &[("nginx.ingress.kubernetes.io/proxy-next-upstream", "off")]),
            ]
            .join("---\n"),
        ),
    ]);
    let http = gw.http_addr().unwrap();
    for i in 0..10 {
        let method = if i % 2 == 0 { "GET" } else { "POST" };
        let r = request(http, method, "app.example.com", "/", &[], "{}").await.unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "live"), "{method} request {i}");
    }
    // Without retries (`proxy-next-upstream: off`) the dead endpoint shows, until it is ejected.
    let mut failed = 0;
    for _ in 0..4 {
        if get_with(http, "strict.example.com", "/", &[]).await.status == 502 {
            failed += 1;
        }
    }
    assert!(failed >= 1, "with retries off some request must meet the dead endpoint");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_endpoint_answering_503_is_ejected_after_five_and_its_requests_are_retried() {
    let sick = Backend::start("sick").await;
    sick.control.status.store(503, Ordering::SeqCst);
    let well = Backend::start("well").await;
    let (_dir, gw) = higress_instance(&[
        ("svc.yaml", service_ports("app", &[sick.addr.port(), well.addr.port()])),
        ("ing.yaml", annotated_ingress("app", "app.example.com", "app", &[])),
    ]);
    let http = gw.http_addr().unwrap();
    for i in 0..40 {
        let r = get_with(http, "app.example.com", "/", &[]).await;
        assert_eq!((r.status, r.body.as_str()), (200, "well"), "request {i}: the default policy retries 503 elsewhere");
    }
    assert_eq!(sick.hits(), 5, "five consecutive 503s eject the endpoint; no request reaches it after that");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backend_dying_under_load_loses_no_idempotent_request() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let (_dir, gw) = higress_instance(&[
        ("svc.yaml", service_ports("app", &[a.addr.port(), b.addr.port()])),
        ("ing.yaml", annotated_ingress("app", "app.example.com", "app", &[("higress.io/timeout", "5")])),
    ]);
    let http = gw.http_addr().unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let stop_at = Instant::now() + Duration::from_millis(1500);
    let mut workers = Vec::new();
    for w in 0..4 {
        let (done, failures) = (done.clone(), failures.clone());
        workers.push(tokio::spawn(async move {
            while Instant::now() < stop_at {
                let started = Instant::now();
                match request(http, "GET", "app.example.com", "/", &[], "").await {
                    Ok(r) if r.status == 200 => {}
                    Ok(r) => failures.lock().unwrap().push(format!("worker {w}: status {} {}", r.status, r.body)),
                    Err(e) => failures.lock().unwrap().push(format!("worker {w}: {e}")),
                }
                assert!(started.elapsed() < Duration::from_secs(6), "a request hung past its timeout");
                done.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    // Let traffic reach both, then kill one mid-load.
    let t = Instant::now();
    while a.hits() < 20 && t.elapsed() < DEADLINE {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before = done.load(Ordering::SeqCst);
    a.kill().await;
    for worker in workers {
        worker.await.unwrap();
    }
    let after = done.load(Ordering::SeqCst) - before;
    let failures = failures.lock().unwrap();
    assert!(after > 50, "load continued after the kill ({after} requests)");
    assert!(failures.is_empty(), "{} failed: {:?}", failures.len(), &failures[..failures.len().min(5)]);
    assert!(b.hits() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn proxy_next_upstream_retries_statuses_and_respects_idempotency() {
    let bad = Backend::start("bad").await;
    bad.control.status.store(502, Ordering::SeqCst);
    let good = Backend::start("good").await;
    let ports = [bad.addr.port(), good.addr.port()];
    let (_dir, gw) = higress_instance(&[
        ("svc.yaml", [service_ports("a", &ports), service_ports("b", &ports), service_ports("c", &ports)].join("---\n")),
        (
            "ing.yaml",
            [
                annotated_ingress("a", "a.example.com", "a", &[("nginx.ingress.kubernetes.io/proxy-next-upstream", "error timeout http_502")]),
                annotated_ingress("b", "b.example.com", "b", &[("nginx.ingress.kubernetes.io/proxy-next-upstream", "http_502 non_idempotent")]),
                annotated_ingress("c", "c.example.com", "c", &[("nginx.ingress.kubernetes.io/proxy-next-upstream", "http_504")]),
            ]
            .join("---\n"),
        ),
    ]);
    let http = gw.http_addr().unwrap();
    // a: GETs are retried on 502, POSTs are not (not idempotent).
    let (mut get_502, mut post_502) = (0, 0);
    for _ in 0..4 {
        get_502 += usize::from(get_with(http, "a.example.com", "/", &[]).await.status == 502);
        post_502 += usize::from(request(http, "POST", "a.example.com", "/", &[], "x").await.unwrap().status == 502);
    }
    assert_eq!(get_502, 0, "GETs are retried on 502");
    assert!(post_502 >= 1, "a POST that reached the endpoint is not retried without non_idempotent");
    // b: non_idempotent lets POSTs be retried too.
    for _ in 0..4 {
        assert_eq!(request(http, "POST", "b.example.com", "/", &[], "x").await.unwrap().status, 200);
    }
    // c: only 504 is retriable, so 502 comes through.
    let mut c_502 = 0;
    for _ in 0..4 {
        c_502 += usize::from(get_with(http, "c.example.com", "/", &[]).await.status == 502);
    }
    assert!(c_502 >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn least_conn_avoids_the_busy_endpoint() {
    let slow = Backend::start("slow").await;
    slow.control.hold.store(true, Ordering::SeqCst);
    let fast = Backend::start("fast").await;
    let (_dir, gw) = higress_instance(&[
        ("svc.yaml", service_ports("app", &[slow.addr.port(), fast.addr.port()])),
        ("ing.yaml", annotated_ingress("app", "app.example.com", "app", &[("nginx.ingress.kubernetes.io/load-balance", "least_conn")])),
    ]);
    let http = gw.http_addr().unwrap();
    // Park one request on the slow endpoint (ties go round robin, so at most a few tries).
    let mut parked = Vec::new();
    let t = Instant::now();
    while slow.control.held.load(Ordering::SeqCst) == 0 {
        assert!(t.elapsed() < DEADLINE, "no request reached the slow endpoint");
        parked.push(tokio::spawn(async move { get_with(http, "app.example.com", "/", &[]).await }));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for i in 0..10 {
        let r = get_with(http, "app.example.com", "/", &[]).await;
        assert_eq!(r.body, "fast", "request {i} goes to the endpoint without requests in flight");
    }
    slow.release();
    for p in parked {
        assert_eq!(p.await.unwrap().status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upstream_hash_by_header_sticks_and_spreads() {
    let backends = [Backend::start("b0").await, Backend::start("b1").await, Backend::start("b2").await];
    let ports: Vec<u16> = backends.iter().map(|b| b.addr.port()).collect();
    let (_dir, gw) = higress_instance(&[
        ("svc.yaml", service_ports("app", &ports)),
        ("ing.yaml", annotated_ingress("app", "app.example.com", "app", &[("nginx.ingress.kubernetes.io/upstream-hash-by", "$http_x_user")])),
    ]);
    let http = gw.http_addr().unwrap();
    let mut used = std::collections::BTreeSet::new();
    for user in 0..12 {
        let user = format!("user-{user}");
        let first = get_with(http, "app.example.com", "/", &[("X-User", &user)]).await.body;
        for _ in 0..3 {
            assert_eq!(get_with(http, "app.example.com", "/", &[("X-User", &user)]).await.body, first, "{user} sticks");
        }
        used.insert(first);
    }
    assert!(used.len() >= 2, "keys spread over the endpoints: {used:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cookie_affinity_sets_the_cookie_and_sticks() {
    let backends = [Backend::start("b0").await, Backend::start("b1").await, Backend::start("b2").await];
    let ports: Vec<u16> = backends.iter().map(|b| b.addr.port()).collect();
    let (_dir, gw) = higress_instance(&[
        ("svc.yaml", service_ports("app", &ports)),
        (
            "ing.yaml",
            annotated_ingress(
                "app",
                "app.example.com",
                "app",
                &[
                    ("nginx.ingress.kubernetes.io/affinity", "cookie"),
                    ("nginx.ingress.kubernetes.io/session-cookie-name", "route"),
                    ("nginx.ingress.kubernetes.io/session-cookie-max-age", "120"),
                ],
            ),
        ),
    ]);
    let http = gw.http_addr().unwrap();
    let mut homes = std::collections::BTreeSet::new();
    for _ in 0..6 {
        let first = get_with(http, "app.example.com", "/", &[]).await;
        let set_cookie = first
            .headers
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
            .unwrap_or_else(|| panic!("no Set-Cookie in {}", first.headers))
            .to_string();
        assert!(set_cookie.starts_with("route=\"") && set_cookie.contains("; Max-Age=120; Path=/; HttpOnly"), "{set_cookie}");
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        for _ in 0..4 {
            let again = get_with(http, "app.example.com", "/", &[("Cookie", &cookie)]).await;
            assert_eq!(again.body, first.body, "{cookie} sticks");
            assert!(!again.headers.to_ascii_lowercase().contains("set-cookie"), "a client with the cookie gets no new one");
        }
        homes.insert(first.body);
    }
    // Different cookies reach different endpoints.
    for i in 0..20 {
        let cookie = format!("route=\"value-{i}\"");
        homes.insert(get_with(http, "app.example.com", "/", &[("Cookie", &cookie)]).await.body);
    }
    assert!(homes.len() >= 2, "{homes:?}");
}

/// A CA and a certificate it signed for `name`, as (CA PEM, cert DER, key DER, cert PEM, key PEM).
struct Pki {
    ca_pem: String,
    cert_der: tokio_rustls::rustls::pki_types::CertificateDer<'static>,
    key_der: Vec<u8>,
    cert_pem: String,
    key_pem: String,
}

fn pki(name: &str) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Distinct names: a leaf whose subject equals its issuer's looks self-signed to BoringSSL.
    params.distinguished_name.push(DnType::CommonName, format!("CA of {name}"));
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec![name.to_string()]).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, name);
    let cert = leaf.signed_by(&key, &ca).unwrap();
    Pki { ca_pem: ca.pem(), cert_der: cert.der().clone(), key_der: key.serialize_der(), cert_pem: cert.pem(), key_pem: key.serialize_pem() }
}

fn tls_acceptor(server: &Pki, client_ca: &Pki) -> tokio_rustls::TlsAcceptor {
    use tokio_rustls::rustls;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(client_ca_der(client_ca)).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(server.key_der.clone().into());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![server.cert_der.clone()], key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// The DER of a PKI's CA certificate (from its PEM).
fn client_ca_der(p: &Pki) -> tokio_rustls::rustls::pki_types::CertificateDer<'static> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    tokio_rustls::rustls::pki_types::CertificateDer::from_pem_slice(p.ca_pem.as_bytes()).unwrap()
}

fn secret(name: &str, entries: &[(&str, &str)]) -> String {
    let data: String = entries.iter().map(|(k, v)| format!("  {k}: {v:?}\n")).collect();
    format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: apps}}\nstringData:\n{data}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn https_upstreams_with_sni_verification_and_client_certificates() {
    let server = pki("backend.internal");
    let client = pki("gateway.internal");
    let other = pki("elsewhere");
    let backend = Backend::start_tls("tls-backend", Some(tls_acceptor(&server, &client))).await;
    let port = backend.addr.port();
    let services: Vec<String> = ["plain", "sni", "mtls", "wrong-ca", "wrong-ca-off"].iter().map(|s| service_ports(s, &[port])).collect();
    let https = ("nginx.ingress.kubernetes.io/backend-protocol", "HTTPS");
    let (_dir, gw) = higress_instance(&[
        ("svc.yaml", services.join("---\n")),
        (
            "secrets.yaml",
            [
                secret("mtls", &[("tls.crt", &client.cert_pem), ("tls.key", &client.key_pem), ("ca.crt", &server.ca_pem)]),
                secret("other-ca", &[("ca.crt", &other.ca_pem)]),
            ]
            .join("---\n"),
        ),
        (
            "ing.yaml",
            [
                annotated_ingress("plain", "plain.example.com", "plain", &[https, ("nginx.ingress.kubernetes.io/proxy-ssl-name", "not-sent.internal")]),
                annotated_ingress(
                    "sni",
                    "sni.example.com",
                    "sni",
                    &[https, ("nginx.ingress.kubernetes.io/proxy-ssl-name", "backend.internal"), ("nginx.ingress.kubernetes.io/proxy-ssl-server-name", "on")],
                ),
                annotated_ingress("mtls", "mtls.example.com", "mtls", &[https, ("nginx.ingress.kubernetes.io/proxy-ssl-secret", "apps/mtls")]),
                annotated_ingress("wrong-ca", "wrong.example.com", "wrong-ca", &[https, ("nginx.ingress.kubernetes.io/proxy-ssl-secret", "other-ca")]),
                annotated_ingress(
                    "wrong-ca-off",
                    "off.example.com",
                    "wrong-ca-off",
                    &[https, ("nginx.ingress.kubernetes.io/proxy-ssl-secret", "other-ca"), ("nginx.ingress.kubernetes.io/proxy-ssl-verify", "off")],
                ),
            ]
            .join("---\n"),
        ),
    ]);
    let http = gw.http_addr().unwrap();
    let seen = |what: fn(&TlsSeen) -> String| what(&backend.control.tls);

    // HTTPS without a Secret: TLS, not verified, no SNI unless proxy-ssl-server-name is on.
    let r = get_with(http, "plain.example.com", "/", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "tls-backend"));
    assert_eq!(seen(|t| format!("{:?}", t.sni.lock().unwrap())), "[None]");
    let r = get_with(http, "sni.example.com", "/", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(seen(|t| format!("{:?}", t.sni.lock().unwrap().last())), "Some(Some(\"backend.internal\"))");
    assert_eq!(seen(|t| format!("{:?}", t.client_cert.lock().unwrap())), "[false, false]");

    // The Secret's CA verifies the endpoint and its certificate is presented.
    let r = get_with(http, "mtls.example.com", "/", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "tls-backend"));
    assert_eq!(seen(|t| format!("{:?}", t.client_cert.lock().unwrap().last())), "Some(true)");

    // A CA that did not sign the endpoint's certificate: refused, unless proxy-ssl-verify is off.
    let handshakes = backend.control.tls.sni.lock().unwrap().len();
    assert_eq!(get_with(http, "wrong.example.com", "/", &[]).await.status, 502);
    assert_eq!(backend.control.tls.sni.lock().unwrap().len(), handshakes, "no handshake completed");
    assert_eq!(get_with(http, "off.example.com", "/", &[]).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grpc_backends_get_h2c() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let versions = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = versions.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let Ok(mut connection) = h2::server::handshake(socket).await else { return };
                while let Some(Ok((request, mut respond))) = connection.accept().await {
                    seen.lock().unwrap().push(format!("{:?} {}", request.version(), request.uri().path()));
                    // The connection is driven by `accept`; each stream is served beside it.
                    tokio::spawn(async move {
                        let mut body = request.into_body();
                        while let Some(chunk) = body.data().await {
                            let _ = body.flow_control().release_capacity(chunk.map(|c| c.len()).unwrap_or(0));
                        }
                        let response = http::Response::builder().status(200).header("content-type", "application/grpc").body(()).unwrap();
                        let mut send = respond.send_response(response, false).unwrap();
                        send.send_data(bytes::Bytes::from_static(b"h2 says hi"), false).unwrap();
                        let mut trailers = http::HeaderMap::new();
                        trailers.insert("grpc-status", "0".parse().unwrap());
                        send.send_trailers(trailers).unwrap();
                    });
                }
            });
        }
    });
    let (_dir, gw) = higress_instance(&[
        ("svc.yaml", service_ports("grpc", &[port])),
        ("ing.yaml", annotated_ingress("grpc", "grpc.example.com", "grpc", &[("nginx.ingress.kubernetes.io/backend-protocol", "GRPC")])),
    ]);
    let http = gw.http_addr().unwrap();
    let r = request(http, "POST", "grpc.example.com", "/pkg.Greeter/SayHello", &[("content-type", "application/grpc")], "\0\0\0\0\0").await.unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("h2 says hi"), "{r:?}");
    assert_eq!(versions.lock().unwrap().as_slice(), ["HTTP/2.0 /pkg.Greeter/SayHello"]);
}
