//! The migration path of the guide: an instance with `--ingress-class nginx` takes over the folder of
//! typical ingress-nginx Ingresses in `examples/nginx-migration` (class `nginx` by field or annotation,
//! and class-less ones), with their annotations, and leaves another controller's Ingress alone.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_nginx_class_instance_serves_the_ingress_nginx_folder() {
    let backend = echo("web-pod");
    let dir = tempfile::tempdir().unwrap();
    // The crate directory as cargo gives it to the running test (a test binary in a shared target
    // dir may have been compiled in another checkout).
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")), std::path::PathBuf::from);
    let example = crate_dir.join("../../examples/nginx-migration");
    std::fs::copy(example.join("ingresses.yaml"), dir.path().join("ingresses.yaml")).unwrap();
    // The example's Service, pointed at this test's echo backend instead of the example's fixed port.
    let services = std::fs::read_to_string(example.join("services.yaml")).unwrap();
    write(dir.path(), "services.yaml", &services.replace("port: 9104", &format!("port: {}", backend.addr.port())));
    let gateway = instance(dir.path(), "higress-nginx", "nginx");
    let http = gateway.http_addr().unwrap();

    let api = get_async(http, "api.legacy.example.com", "/v1/users").await.unwrap();
    assert_eq!((api.status, api.pod()), (200, "web-pod".to_string()));
    let seen: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(seen["path"], "/users", "rewrite-target with regex groups");

    let root = get_async(http, "www.legacy.example.com", "/").await.unwrap();
    assert_eq!(root.status, 302);
    assert!(root.headers.to_ascii_lowercase().contains("location: http://www.legacy.example.com/home"), "{}", root.headers);
    assert_eq!(get_async(http, "www.legacy.example.com", "/page").await.unwrap().status, 200);

    let old = get_async(http, "old.legacy.example.com", "/x").await.unwrap();
    assert_eq!(old.status, 301);
    assert!(old.headers.to_ascii_lowercase().contains("location: https://www.legacy.example.com/x"), "{}", old.headers);

    let admin = get_async(http, "admin.legacy.example.com", "/").await.unwrap();
    assert_eq!(admin.status, 200);
    assert!(admin.body.contains("X-Migrated"), "header control reached the backend: {}", admin.body);

    assert_eq!(get_async(http, "traefik.legacy.example.com", "/").await.unwrap().status, 404);
    gateway.shutdown(Duration::from_secs(5)).await;
}
