//! Request paths are normalized before routing, as Envoy's `normalize_path` does in Higress's gateways:
//! dot segments (also escaped, also with backslashes) and escaped unreserved characters cannot steer a
//! request to a route other than the one of the path the backend will serve, and the backend gets the
//! normalized path.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::*;

fn json_path(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body).unwrap()["path"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_segments_cannot_reach_a_guarded_route_through_an_open_one() {
    let open = echo("open");
    let guarded = echo("guarded");
    // `/admin` admits only 10.0.0.0/8 (the test client is 127.0.0.1); `/` is open to everyone.
    let admin = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: admin\n  namespace: apps\n  annotations: {higress.io/whitelist-source-range: 10.0.0.0/8}\n\
spec:\n  ingressClassName: higress\n  rules:\n  - host: app.example.com\n    http: {paths: [{path: /admin, pathType: Prefix, backend: {service: {name: guarded, port: {number: 80}}}}]}\n";
    let (_dir, gw) = higress_instance(&[
        ("svc.yaml", [service("open", open.addr), service("guarded", guarded.addr)].join("---\n")),
        ("ing.yaml", [ingress("public", "higress", "app.example.com", &["/"], "open"), admin.to_string()].join("---\n")),
    ]);
    let http = gw.http_addr().unwrap();

    for path in ["/admin", "/public/../admin", "/public/%2e%2E/admin/", "/public/..\\admin", "/%61dmin", "/./admin", "/../admin?x=1"] {
        let r = get_async(http, "app.example.com", path).await.unwrap();
        assert_eq!((r.status, r.body.as_str()), (403, "RBAC: access denied"), "{path} reached the open route");
    }
    // What the open route's backend is sent: the normalized path, the query as it was.
    for (path, upstream) in [
        ("/public/../docs/./a", "/docs/a"),
        ("/a/b/%2E%2E/c?q=%2e%2e/x", "/a/c?q=%2e%2e/x"),
        ("/files/archive.tar.gz", "/files/archive.tar.gz"),
        ("/a/%2F/b", "/a/%2F/b"),
    ] {
        let r = get_async(http, "app.example.com", path).await.unwrap();
        assert_eq!((r.status, r.pod().as_str()), (200, "open"), "{path}");
        assert_eq!(json_path(&r.body), upstream, "{path}");
    }
    // An escaped NUL cannot be normalized: 400, as Envoy answers it.
    assert_eq!(get_async(http, "app.example.com", "/a/%00/b").await.unwrap().status, 400);
    gw.shutdown(Duration::from_secs(5)).await;
}
