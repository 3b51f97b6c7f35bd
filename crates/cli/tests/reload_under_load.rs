//! Zero failed requests while 100 configuration changes are applied under load: client tasks send
//! requests continuously (HTTP keep-alive, a new connection per request, and TLS) to routes that never
//! change, while the test rewrites the manifests 100 times — routes added, removed and moved to another
//! Service, and every tenth change the TLS certificate rotated. Each change is awaited by polling the
//! gateway until it serves it (never a sleep). Every unexpected status and every connection error counts
//! as a failure; the test asserts there are none.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::raw::KeepAlive;
use support::*;
use tokio::net::TcpStream;

const CHANGES: usize = 100;

fn pod_of(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|v| v["pod"].as_str().map(String::from)).unwrap_or_default()
}

/// The manifest file that every change rewrites: the stable Ingresses (unchanged, but re-read every
/// time) and the churning one.
fn routes(change: usize) -> String {
    let target = if change.is_multiple_of(2) { "a" } else { "b" };
    let path = |path: &str, kind: &str, service: &str| {
        format!("      - {{path: {path}, pathType: {kind}, backend: {{service: {{name: {service}, port: {{number: 80}}}}}}}}\n")
    };
    let churn = format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: churn, namespace: apps}}\nspec:\n  ingressClassName: higress\n  rules:\n  - host: churn.example.com\n    http:\n      paths:\n{}{}{}",
        path("/keep", "Prefix", "stable"),
        path(&format!("/v{change}"), "Exact", target),
        path("/switch", "Prefix", target),
    );
    let secure = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: secure, namespace: apps}\nspec:\n  ingressClassName: higress\n  tls: [{hosts: [tls.example.com], secretName: tls-cert}]\n  rules:\n  - host: tls.example.com\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: stable, port: {number: 80}}}}\n";
    [ingress("stable", "higress", "stable.example.com", &["/"], "stable"), secure.to_string(), churn].join("---\n")
}

type Failures = Arc<Mutex<Vec<String>>>;

fn fail(failures: &Failures, what: String) {
    let mut list = failures.lock().unwrap();
    if list.len() < 20 {
        list.push(what);
    } else if list.len() == 20 {
        list.push("…".into());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_config_changes_under_load_lose_no_request() {
    let started = Instant::now();
    let (stable, a, b) = (echo("stable"), echo("a"), echo("b"));
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "services.yaml",
        &[ingress_class("higress"), service("stable", stable.addr), service("a", a.addr), service("b", b.addr)].join("---\n"),
    );
    let (_, cert_pem, key_pem) = tls::certificate("tls.example.com");
    write(dir.path(), "cert.yaml", &tls::secret("tls-cert", &cert_pem, &key_pem));
    write(dir.path(), "routes.yaml", &routes(0));
    let gw = instance_with(dir.path(), "reload", "higress", true);
    let (http, https) = (gw.http_addr().unwrap(), gw.https_addr().unwrap());

    let stop = Arc::new(AtomicBool::new(false));
    let failures: Failures = Arc::new(Mutex::new(Vec::new()));
    let served = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();

    // Keep-alive clients: one on a host that never changes, one on a stable route of the churning host.
    for (host, path) in [("stable.example.com", "/"), ("churn.example.com", "/keep/x")] {
        let (stop, failures, served) = (stop.clone(), failures.clone(), served.clone());
        clients.push(tokio::spawn(async move {
            let mut client = KeepAlive::<TcpStream>::new();
            while !stop.load(Ordering::Relaxed) {
                match client.get(host, path, || TcpStream::connect(http)).await {
                    Ok((200, body)) if pod_of(&body) == "stable" => served.fetch_add(1, Ordering::Relaxed),
                    Ok((status, body)) => {
                        fail(&failures, format!("keep-alive {host}{path}: {status} {}", String::from_utf8_lossy(&body)));
                        0
                    }
                    Err(e) => {
                        fail(&failures, format!("keep-alive {host}{path}: {e}"));
                        0
                    }
                };
            }
        }));
    }
    // A new connection per request.
    {
        let (stop, failures, served) = (stop.clone(), failures.clone(), served.clone());
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match get_async(http, "stable.example.com", "/fresh").await {
                    Ok(r) if r.status == 200 && r.pod() == "stable" => served.fetch_add(1, Ordering::Relaxed),
                    Ok(r) => {
                        fail(&failures, format!("fresh: {} {}", r.status, r.body));
                        0
                    }
                    Err(e) => {
                        fail(&failures, format!("fresh: {e}"));
                        0
                    }
                };
            }
        }));
    }
    // TLS: a new handshake per request, while the certificate rotates.
    {
        let (stop, failures, served) = (stop.clone(), failures.clone(), served.clone());
        clients.push(tokio::spawn(async move {
            let connector = tls::connector(&[b"http/1.1"]);
            while !stop.load(Ordering::Relaxed) {
                let mut client = KeepAlive::new();
                let result = client.get("tls.example.com", "/", || tls::connect(&connector, https, "tls.example.com")).await;
                match result {
                    Ok((200, body)) if pod_of(&body) == "stable" => served.fetch_add(1, Ordering::Relaxed),
                    Ok((status, _)) => {
                        fail(&failures, format!("tls: {status}"));
                        0
                    }
                    Err(e) => {
                        fail(&failures, format!("tls: {e}"));
                        0
                    }
                };
            }
        }));
    }

    let connector = tls::connector(&[b"http/1.1"]);
    for change in 1..=CHANGES {
        write(dir.path(), "routes.yaml", &routes(change));
        let target = if change.is_multiple_of(2) { "a" } else { "b" };
        let added = format!("/v{change}");
        let removed = format!("/v{}", change - 1);
        let wait = Instant::now();
        loop {
            let new = get_async(http, "churn.example.com", &added).await.unwrap();
            let old = get_async(http, "churn.example.com", &removed).await.unwrap();
            let switched = get_async(http, "churn.example.com", "/switch").await.unwrap();
            if (new.status, new.pod().as_str(), old.status, switched.pod().as_str()) == (200, target, 404, target) {
                break;
            }
            assert!(wait.elapsed() < DEADLINE, "change {change} never served: {new:?} {old:?} {switched:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if change.is_multiple_of(10) {
            let (cert_der, cert_pem, key_pem) = tls::certificate("tls.example.com");
            write(dir.path(), "cert.yaml", &tls::secret("tls-cert", &cert_pem, &key_pem));
            let wait = Instant::now();
            loop {
                let stream = tls::connect(&connector, https, "tls.example.com").await.unwrap();
                if tls::peer_certificate(&stream).as_ref() == Some(&cert_der) {
                    break;
                }
                assert!(wait.elapsed() < DEADLINE, "rotated certificate {change} never served");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        tokio::time::timeout(DEADLINE, client).await.unwrap().unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    let served = served.load(Ordering::Relaxed);
    eprintln!("{CHANGES} changes in {:?}; {served} requests served during them", started.elapsed());
    assert!(failures.is_empty(), "{} failed requests: {failures:#?}", failures.len());
    assert!(served > CHANGES * 4, "too little load to mean anything: {served} requests");
    gw.shutdown(Duration::from_secs(5)).await;
}
