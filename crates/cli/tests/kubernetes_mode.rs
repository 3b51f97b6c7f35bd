//! Kubernetes mode end to end, in one process: an API-server stand-in, `oxigress controller`s watching
//! it and `oxigress gateway`s fed by their snapshot streams. Two instances of different classes each
//! serve only their Ingresses; a gateway whose controller disappears keeps serving, reconnects to the
//! controller's replacement and converges on what changed meanwhile.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use oxigress_cli::cluster_writes::ClusterWritesConfig;
use oxigress_cli::controller::{ControllerConfig, ControllerProcess};
use oxigress_cli::gateway::{GatewayProcess, GatewayProcessConfig};
use oxigress_kube_standin::StandIn;
use oxigress_proxy::GatewayConfig;
use oxigress_stream::ClientOptions;
use oxigress_translate::InstanceOptions;
use support::*;

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn controller_config(name: &str, class: &str, stream_port: u16) -> ControllerConfig {
    controller_replica(name, class, stream_port, 0)
}

fn controller_replica(name: &str, class: &str, stream_port: u16, replica: usize) -> ControllerConfig {
    ControllerConfig {
        instance: InstanceOptions {
            instance_name: name.into(),
            instance_namespace: "higress-system".into(),
            ingress_class: class.into(),
            watch_namespaces: vec![],
        },
        stream: local(stream_port),
        admin: None,
        stream_token: Some(format!("{name}-token")),
        stream_tls: None,
        writes: ClusterWritesConfig {
            enable_status: true,
            gateway_service: format!("{name}-gateway"),
            identity: format!("{name}-controller-{replica}"),
            lease_duration: Duration::from_secs(2),
            renew_deadline: Duration::from_millis(1500),
            retry_period: Duration::from_millis(200),
            status_resync: Duration::from_secs(1),
        },
        sync_timeout: Duration::from_secs(20),
    }
}

fn gateway(name: &str, controller: SocketAddr) -> GatewayProcess {
    let mut stream = ClientOptions::new(controller.to_string(), name);
    stream.token = Some(format!("{name}-token"));
    stream.backoff.max = Duration::from_millis(200);
    let any = Some(local(0));
    GatewayProcess::start(GatewayProcessConfig {
        stream,
        listen: GatewayConfig { http: any, https: None, admin: any, upstream_pool_size: 16, header_timeout: Duration::from_secs(60), threads: 1, work_stealing: false, splice: true },
    })
    .unwrap()
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_api_server_each_serve_only_their_ingresses() {
    init_logs();
    let k8s = StandIn::start().await.unwrap();
    let backends = [echo("prod-pod"), echo("test-pod"), echo("other-pod")];
    k8s.apply_yaml(&[ingress_class("higress-prod"), ingress_class("higress-test"), ingress_class("other")].join("---\n"))
        .unwrap();
    k8s.apply_yaml(&service("prod-svc", backends[0].addr)).unwrap();
    k8s.apply_yaml(&service("test-svc", backends[1].addr)).unwrap();
    k8s.apply_yaml(&service("other-svc", backends[2].addr)).unwrap();
    k8s.apply_yaml(&ingress("shop", "higress-prod", "shop.example.com", &["/"], "prod-svc")).unwrap();
    k8s.apply_yaml(&ingress("shop-test", "higress-test", "shop.test.example.com", &["/"], "test-svc")).unwrap();
    k8s.apply_yaml(&ingress("legacy", "other", "legacy.example.com", &["/"], "other-svc")).unwrap();
    k8s.apply_yaml(&gateway_service("higress-prod-gateway", "10.0.0.1")).unwrap();
    k8s.apply_yaml(&gateway_service("higress-test-gateway", "10.0.0.2")).unwrap();
    // A problem on a prod Ingress: its Service does not exist.
    k8s.apply_yaml(&ingress("broken", "higress-prod", "broken.example.com", &["/"], "missing-svc")).unwrap();

    let prod = ControllerProcess::start(k8s.client("prod").unwrap(), controller_config("higress-prod", "higress-prod", 0))
        .await
        .unwrap();
    let test = ControllerProcess::start(k8s.client("test").unwrap(), controller_config("higress-test", "higress-test", 0))
        .await
        .unwrap();
    let prod_gw = gateway("higress-prod", prod.stream_addr);
    let test_gw = gateway("higress-test", test.stream_addr);
    eventually("both gateways have a snapshot", || prod_gw.proxy().is_ready() && test_gw.proxy().is_ready()).await;

    let (p, t) = (prod_gw.http_addr().unwrap(), test_gw.http_addr().unwrap());
    assert_eq!(get_async(p, "shop.example.com", "/").await.unwrap().pod(), "prod-pod");
    assert_eq!(get_async(t, "shop.test.example.com", "/").await.unwrap().pod(), "test-pod");
    assert_eq!(get_async(p, "shop.test.example.com", "/").await.unwrap().status, 404);
    assert_eq!(get_async(t, "shop.example.com", "/").await.unwrap().status, 404);
    for gw in [p, t] {
        assert_eq!(get_async(gw, "legacy.example.com", "/").await.unwrap().status, 404);
    }

    // Status: each instance's address on its own Ingresses only; Events only from the owner.
    k8s.wait_for(DEADLINE, |k| {
        status_ips(k, "shop") == ["10.0.0.1"] && status_ips(k, "shop-test") == ["10.0.0.2"]
    })
    .await
    .unwrap();
    assert!(status_ips(&k8s, "legacy").is_empty());
    k8s.wait_for(DEADLINE, |k| !events_on(k, "broken").is_empty()).await.unwrap();
    let events = events_on(&k8s, "broken");
    assert!(events.iter().all(|e| e["reportingController"] == "oxigress.io/higress-prod"), "{events:?}");
    assert!(events.iter().any(|e| e["reason"] == "ServiceNotFound"), "{events:?}");

    // A live change reaches only the instance that owns the class.
    k8s.apply_yaml(&ingress("shop-test", "higress-prod", "shop.test.example.com", &["/"], "test-svc")).unwrap();
    let mut moved = false;
    for _ in 0..200 {
        let on_prod = get_async(p, "shop.test.example.com", "/").await.unwrap().status == 200;
        let on_test = get_async(t, "shop.test.example.com", "/").await.unwrap().status == 200;
        if on_prod && !on_test {
            moved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(moved, "the Ingress that changed class moved from test to prod");
    k8s.wait_for(DEADLINE, |k| status_ips(k, "shop-test") == ["10.0.0.1"]).await.unwrap();
    let writers: std::collections::BTreeSet<String> = k8s
        .requests()
        .iter()
        .filter(|r| r.is_write() && r.path.ends_with("/status"))
        .filter_map(|r| r.client.clone())
        .collect();
    assert_eq!(writers, ["prod".to_string(), "test".to_string()].into_iter().collect());
    prod.shutdown().await;
    test.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gateway_keeps_serving_without_its_controller_then_converges() {
    init_logs();
    let k8s = StandIn::start().await.unwrap();
    let backend = echo("shop-pod");
    k8s.apply_yaml(&ingress_class("higress")).unwrap();
    k8s.apply_yaml(&service("shop-svc", backend.addr)).unwrap();
    k8s.apply_yaml(&ingress("shop", "higress", "shop.example.com", &["/"], "shop-svc")).unwrap();

    let first = ControllerProcess::start(k8s.client("c1").unwrap(), controller_config("higress-gateway", "higress", 0))
        .await
        .unwrap();
    let stream_port = first.stream_addr.port();
    let gw = gateway("higress-gateway", first.stream_addr);
    let mut link = gw.link();
    eventually("the gateway is ready", || gw.proxy().is_ready()).await;
    let http = gw.http_addr().unwrap();
    assert_eq!(get_async(http, "shop.example.com", "/").await.unwrap().status, 200);

    // The controller goes away: the gateway notices and keeps serving what it had.
    first.shutdown().await;
    tokio::time::timeout(DEADLINE, link.wait_for(|s| !s.connected)).await.unwrap().unwrap();
    for _ in 0..20 {
        assert_eq!(get_async(http, "shop.example.com", "/").await.unwrap().status, 200);
    }

    // Meanwhile the cluster changes; a new controller comes up at the same address.
    k8s.apply_yaml(&ingress("shop", "higress", "shop.example.com", &["/", "/new"], "shop-svc")).unwrap();
    k8s.apply_yaml(&ingress("blog", "higress", "blog.example.com", &["/"], "shop-svc")).unwrap();
    let second =
        ControllerProcess::start(k8s.client("c2").unwrap(), controller_config("higress-gateway", "higress", stream_port))
            .await
            .unwrap();
    tokio::time::timeout(DEADLINE, link.wait_for(|s| s.connected)).await.unwrap().unwrap();
    let mut converged = false;
    for _ in 0..200 {
        if get_async(http, "blog.example.com", "/").await.unwrap().status == 200 {
            converged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(converged, "the gateway serves what was added while its controller was away");
    assert_eq!(get_async(http, "shop.example.com", "/new").await.unwrap().status, 200);
    // The acknowledgement reaches the controller after the gateway has applied (and served) the snapshot.
    eventually("the new controller saw the gateway acknowledge", || {
        second.gateways.connected().values().any(|g| g.acked.is_some())
    })
    .await;
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_with_the_wrong_token_gets_nothing() {
    init_logs();
    let k8s = StandIn::start().await.unwrap();
    k8s.apply_yaml(&ingress_class("higress")).unwrap();
    let controller = ControllerProcess::start(k8s.client("c").unwrap(), controller_config("higress-gateway", "higress", 0))
        .await
        .unwrap();
    let mut stream = ClientOptions::new(controller.stream_addr.to_string(), "higress-gateway");
    stream.token = Some("wrong".into());
    let any = Some(local(0));
    let gw = GatewayProcess::start(GatewayProcessConfig {
        stream,
        listen: GatewayConfig { http: any, https: None, admin: any, upstream_pool_size: 4, header_timeout: Duration::from_secs(60), threads: 1, work_stealing: false, splice: true },
    })
    .unwrap();
    let mut link = gw.link();
    tokio::time::timeout(DEADLINE, link.wait_for(|s| s.last_error.is_some())).await.unwrap().unwrap();
    assert!(!gw.proxy().is_ready());
    controller.shutdown().await;
}

/// The gateway Service of an instance (in `higress-system`) with a load-balancer address.
fn gateway_service(name: &str, ip: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: higress-system}}\n\
spec: {{type: LoadBalancer, ports: [{{port: 80}}]}}\nstatus: {{loadBalancer: {{ingress: [{{ip: \"{ip}\"}}]}}}}\n"
    )
}

/// The IPs in the status of Ingress `apps/<name>`.
fn status_ips(k8s: &StandIn, name: &str) -> Vec<String> {
    let Some(ingress) = k8s.get("networking.k8s.io/v1", "Ingress", Some("apps"), name) else { return vec![] };
    ingress["status"]["loadBalancer"]["ingress"]
        .as_array()
        .map(|entries| entries.iter().filter_map(|e| e["ip"].as_str().map(String::from)).collect())
        .unwrap_or_default()
}

/// Events (events.k8s.io/v1) about Ingress `apps/<name>`.
fn events_on(k8s: &StandIn, name: &str) -> Vec<serde_json::Value> {
    k8s.list("events.k8s.io/v1", "Event", Some("apps"))
        .into_iter()
        .filter(|e| e["regarding"]["name"] == name && e["regarding"]["kind"] == "Ingress")
        .collect()
}
