//! Plugins per instance: two instances share the namespace `higress-system`; a request-block WasmPlugin
//! labelled `oxigress.io/instance: higress-prod` blocks `/admin` on prod and never on test; a plugin with an
//! `ingress` match rule applies only to that Ingress; an invalid plugin config leaves the previous one active.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::*;

fn block_admin(regex: &str) -> String {
    format!(
        "apiVersion: extensions.higress.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: block-admin\n  namespace: higress-system\n  labels: {{oxigress.io/instance: higress-prod}}\n\
spec:\n  url: oci://higress-registry.cn-hangzhou.cr.aliyuncs.com/plugins/request-block:1.0.0\n  defaultConfig:\n    block_urls: [/admin]\n    block_regexp_urls: [\"{regex}\"]\n    blocked_code: 403\n    blocked_message: blocked by prod\n"
    )
}

const PRIVATE_ON_SHOP_ONLY: &str = "apiVersion: extensions.higress.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: private, namespace: higress-system}\n\
spec:\n  url: oci://higress-registry.cn-hangzhou.cr.aliyuncs.com/plugins/go-request-block:2.0.0\n  matchRules:\n  - ingress: [apps/shop]\n    config: {block_urls: [/private]}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plugins_apply_per_instance_and_per_ingress() {
    let backend = echo("app-pod");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "classes.yaml", &[ingress_class("higress-prod"), ingress_class("higress-test")].join("---\n"));
    write(dir.path(), "services.yaml", &service("app", backend.addr));
    write(
        dir.path(),
        "ingresses.yaml",
        &[
            ingress("shop", "higress-prod", "shop.example.com", &["/"], "app"),
            ingress("blog", "higress-prod", "blog.example.com", &["/"], "app"),
            ingress("shop-test", "higress-test", "shop.test.example.com", &["/"], "app"),
        ]
        .join("---\n"),
    );
    write(dir.path(), "block-admin.yaml", &block_admin("/old-admin.*"));
    write(dir.path(), "private.yaml", PRIVATE_ON_SHOP_ONLY);
    let prod = instance(dir.path(), "higress-prod", "higress-prod");
    let test = instance(dir.path(), "higress-test", "higress-test");
    let (prod_http, test_http) = (prod.http_addr().unwrap(), test.http_addr().unwrap());

    let blocked = get_async(prod_http, "shop.example.com", "/admin/users").await.unwrap();
    assert_eq!((blocked.status, blocked.body.as_str()), (403, "blocked by prod"));
    assert_eq!(get_async(prod_http, "blog.example.com", "/admin").await.unwrap().status, 403);
    let passed = get_async(test_http, "shop.test.example.com", "/admin").await.unwrap();
    assert_eq!((passed.status, passed.pod()), (200, "app-pod".to_string()), "the prod-labelled plugin never runs on test");

    // The ingress-scoped rule: only apps/shop.
    assert_eq!(get_async(prod_http, "shop.example.com", "/private").await.unwrap().status, 403);
    assert_eq!(get_async(prod_http, "blog.example.com", "/private").await.unwrap().status, 200);

    // /debug/config shows which plugins run on a route and which rule matched.
    let config = get_async(prod.admin_addr().unwrap(), "admin", "/debug/config").await.unwrap().body;
    assert!(config.contains("\"plugin\": \"higress-system/block-admin\""), "{config}");
    assert!(config.contains("\"plugin\": \"higress-system/private\""), "{config}");
    let test_config = get_async(test.admin_addr().unwrap(), "admin", "/debug/config").await.unwrap().body;
    assert!(!test_config.contains("block-admin"), "{test_config}");

    // An invalid regex: a diagnostic naming the field; the previous configuration keeps blocking.
    write(dir.path(), "block-admin.yaml", &block_admin("("));
    let admin = prod.admin_addr().unwrap();
    eventually("diagnostic naming the bad field", || {
        get(admin, "admin", "/debug/diagnostics").is_ok_and(|r| r.body.contains("block_regexp_urls[0]"))
    })
    .await;
    assert_eq!(get_async(prod_http, "shop.example.com", "/admin").await.unwrap().status, 403);
    assert_eq!(get_async(prod_http, "shop.example.com", "/old-admin-x").await.unwrap().status, 403);

    let metrics = get_async(admin, "admin", "/metrics").await.unwrap().body;
    assert!(
        metrics.contains("oxigress_plugin_decisions_total{instance=\"higress-prod\",plugin=\"higress-system/block-admin\",decision=\"respond\"}"),
        "{metrics}"
    );
    prod.shutdown(Duration::from_secs(5)).await;
    test.shutdown(Duration::from_secs(5)).await;
}

/// A new plugin whose configuration is invalid, with no last good version: `FAIL_CLOSE` (the default)
/// answers 503 where it applies (here: the rule on apps/shop), `FAIL_OPEN` leaves it out; fixing the
/// configuration restores normal service.
fn guarded(name: &str, strategy: Option<&str>, regex: &str) -> String {
    let strategy = strategy.map(|s| format!("  failStrategy: {s}\n")).unwrap_or_default();
    format!(
        "apiVersion: extensions.higress.io/v1alpha1\nkind: WasmPlugin\nmetadata: {{name: {name}, namespace: higress-system}}\n\
spec:\n{strategy}  url: oci://higress-registry.cn-hangzhou.cr.aliyuncs.com/plugins/request-block:1.0.0\n  matchRules:\n  - ingress: [apps/{name}]\n    config: {{block_urls: [/never], block_regexp_urls: [\"{regex}\"]}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fail_strategy_decides_what_a_plugin_that_cannot_be_configured_does() {
    let backend = echo("app-pod");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "classes.yaml", &ingress_class("higress"));
    write(dir.path(), "services.yaml", &service("app", backend.addr));
    let ingresses = [
        ingress("closed", "higress", "closed.example.com", &["/"], "app"),
        ingress("open", "higress", "open.example.com", &["/"], "app"),
        ingress("other", "higress", "other.example.com", &["/"], "app"),
    ];
    write(dir.path(), "ingresses.yaml", &ingresses.join("---\n"));
    write(dir.path(), "closed.yaml", &guarded("closed", None, "("));
    write(dir.path(), "open.yaml", &guarded("open", Some("FAIL_OPEN"), "("));
    let gateway = instance(dir.path(), "higress-gateway", "higress");
    let http = gateway.http_addr().unwrap();

    assert_eq!(get_async(http, "closed.example.com", "/x").await.unwrap().status, 503, "FAIL_CLOSE");
    let open = get_async(http, "open.example.com", "/x").await.unwrap();
    assert_eq!((open.status, open.pod()), (200, "app-pod".to_string()), "FAIL_OPEN bypasses the plugin");
    assert_eq!(get_async(http, "other.example.com", "/x").await.unwrap().status, 200, "outside the rule's scope");
    let admin = gateway.admin_addr().unwrap();
    let diagnostics = get_async(admin, "admin", "/debug/diagnostics").await.unwrap().body;
    assert!(diagnostics.contains("failStrategy FAIL_CLOSE"), "{diagnostics}");
    assert!(diagnostics.contains("failStrategy FAIL_OPEN"), "{diagnostics}");

    // Fixed: the rule applies as configured.
    write(dir.path(), "closed.yaml", &guarded("closed", None, "/blocked.*"));
    eventually("the fixed plugin serves", || {
        get(http, "closed.example.com", "/x").is_ok_and(|r| r.status == 200)
    })
    .await;
    assert_eq!(get_async(http, "closed.example.com", "/blocked-x").await.unwrap().status, 403);
    gateway.shutdown(Duration::from_secs(5)).await;
}
