//! The seed scenario: two instances (`higress-prod`, `higress-test`) over ONE manifests folder holding
//! Ingresses of both classes and of a third class. Each serves exactly its own, the third is served by
//! neither, and a file change is picked up by the right instance with no failed request during it.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;

fn manifests(dir: &std::path::Path, prod: std::net::SocketAddr, test: std::net::SocketAddr, other: std::net::SocketAddr) {
    write(dir, "classes.yaml", &[ingress_class("higress-prod"), ingress_class("higress-test"), ingress_class("other")].join("---\n"));
    write(dir, "services.yaml", &[service("prod-svc", prod), service("test-svc", test), service("other-svc", other)].join("---\n"));
    write(dir, "prod.yaml", &ingress("shop", "higress-prod", "shop.example.com", &["/"], "prod-svc"));
    write(dir, "test.yaml", &ingress("shop-test", "higress-test", "shop.test.example.com", &["/"], "test-svc"));
    write(dir, "other.yaml", &ingress("legacy", "other", "legacy.example.com", &["/"], "other-svc"));
}

/// The two instances over one folder, with the backends and the folder they need.
struct Pair {
    prod: oxigress_cli::standalone::Instance,
    test: oxigress_cli::standalone::Instance,
    dir: tempfile::TempDir,
    _backends: [oxigress_proxy::AppServer; 3],
}

fn start_pair() -> Pair {
    let backends = [echo("prod-pod"), echo("test-pod"), echo("other-pod")];
    let dir = tempfile::tempdir().unwrap();
    manifests(dir.path(), backends[0].addr, backends[1].addr, backends[2].addr);
    let prod = instance(dir.path(), "higress-prod", "higress-prod");
    let test = instance(dir.path(), "higress-test", "higress-test");
    Pair { prod, test, dir, _backends: backends }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_instance_serves_exactly_its_own_class() {
    let Pair { prod, test, dir: _dir, _backends } = start_pair();
    let (prod_http, test_http) = (prod.http_addr().unwrap(), test.http_addr().unwrap());

    let r = get_async(prod_http, "shop.example.com", "/cart").await.unwrap();
    assert_eq!((r.status, r.pod()), (200, "prod-pod".to_string()));
    assert_eq!(get_async(prod_http, "shop.test.example.com", "/").await.unwrap().status, 404);
    assert_eq!(get_async(prod_http, "legacy.example.com", "/").await.unwrap().status, 404);

    let r = get_async(test_http, "shop.test.example.com", "/").await.unwrap();
    assert_eq!((r.status, r.pod()), (200, "test-pod".to_string()));
    assert_eq!(get_async(test_http, "shop.example.com", "/").await.unwrap().status, 404);
    assert_eq!(get_async(test_http, "legacy.example.com", "/").await.unwrap().status, 404);

    // /debug/config names the owning Ingress of every route, and only this instance's.
    let config = get_async(prod.admin_addr().unwrap(), "admin", "/debug/config").await.unwrap();
    assert_eq!(config.status, 200);
    assert!(config.body.contains("\"name\": \"apps/shop\""), "{}", config.body);
    assert!(!config.body.contains("shop-test") && !config.body.contains("legacy"), "{}", config.body);

    // Metrics carry the instance label; a route of another instance is no label here.
    let metrics = get_async(prod.admin_addr().unwrap(), "admin", "/metrics").await.unwrap();
    assert!(metrics.body.contains("instance=\"higress-prod\""), "{}", metrics.body);
    assert!(metrics.body.contains("route=\"apps/shop\""), "{}", metrics.body);
    assert!(!metrics.body.contains("shop-test"), "{}", metrics.body);

    prod.shutdown(Duration::from_secs(5)).await;
    test.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_change_reaches_the_right_instance_without_failed_requests() {
    let Pair { prod, test, dir, _backends } = start_pair();
    let (prod_http, test_http) = (prod.http_addr().unwrap(), test.http_addr().unwrap());

    // Steady traffic to both instances during the change; every answer must be right.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut load = Vec::new();
    for (addr, host, pod) in [(prod_http, "shop.example.com", "prod-pod"), (test_http, "shop.test.example.com", "test-pod")] {
        let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
        load.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let ok = get(addr, host, "/").is_ok_and(|r| r.status == 200 && r.pod() == pod);
                sent.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }

    // prod's Ingress gains a host; only prod picks it up.
    let changed = ingress("shop", "higress-prod", "shop.example.com", &["/"], "prod-svc")
        + "  - host: new.example.com\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend: {service: {name: prod-svc, port: {number: 80}}}\n";
    write(dir.path(), "prod.yaml", &changed);
    eventually("prod serves new.example.com", || {
        get(prod_http, "new.example.com", "/").is_ok_and(|r| r.status == 200 && r.pod() == "prod-pod")
    })
    .await;
    assert_eq!(get_async(test_http, "new.example.com", "/").await.unwrap().status, 404);

    // A broken edit keeps the last good configuration and shows up as a diagnostic.
    write(dir.path(), "prod.yaml", "kind: [this is not yaml");
    let admin = prod.admin_addr().unwrap();
    eventually("diagnostic for the broken file", || {
        get(admin, "admin", "/debug/diagnostics").is_ok_and(|r| r.body.contains("ParseError") && r.body.contains("prod.yaml"))
    })
    .await;
    assert_eq!(get_async(prod_http, "new.example.com", "/").await.unwrap().status, 200);
    // The folder is shared, so the other instance reports the broken file too.
    let test_admin = test.admin_addr().unwrap();
    eventually("the other instance reports the broken file", || {
        get(test_admin, "admin", "/debug/diagnostics").is_ok_and(|r| r.body.contains("prod.yaml"))
    })
    .await;

    // Keep the load running until a good number of requests crossed the changes.
    eventually("load crossed the changes", || sent.load(Ordering::Relaxed) >= 200).await;
    stop.store(true, Ordering::Relaxed);
    for thread in load {
        thread.join().unwrap();
    }
    assert_eq!(failed.load(Ordering::Relaxed), 0, "failed requests out of {}", sent.load(Ordering::Relaxed));
    prod.shutdown(Duration::from_secs(5)).await;
    test.shutdown(Duration::from_secs(5)).await;
}
