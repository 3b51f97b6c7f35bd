//! Ingress status from two instances with two replicas each, on one stand-in: each Ingress gets its
//! instance's address only, only leaders write, a crashed leader is replaced, and an Ingress that
//! changes class converges.

#![allow(clippy::unwrap_used)]

mod common;

use common::{ingress_source, lease, until_leaders, TIMEOUT};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Patch, PatchParams};
use kube::Api;
use oxigress_kube_standin::{RequestRecord, StandIn};
use oxigress_kubernetes::{is_leading, LeaderElector, LeaderHandle, StatusConfig, StatusWriter};
use oxigress_sources::SourceSnapshot;
use oxigress_translate::InstanceOptions;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

const NS: &str = "higress-system";

const CLUSTER: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: higress-prod-gateway, namespace: higress-system}
spec: {type: LoadBalancer, selector: {app: higress-prod-gateway}}
status: {loadBalancer: {ingress: [{ip: 10.0.0.1}]}}
---
apiVersion: v1
kind: Service
metadata: {name: higress-test-gateway, namespace: higress-system}
spec: {type: LoadBalancer, selector: {app: higress-test-gateway}}
status: {loadBalancer: {ingress: [{ip: 10.0.0.2}]}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: apps}
spec: {ingressClassName: higress-prod, defaultBackend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop-test, namespace: apps}
spec: {ingressClassName: higress-test, defaultBackend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: other, namespace: apps}
spec: {ingressClassName: nginx-other, defaultBackend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: beta, namespace: elsewhere}
spec: {ingressClassName: higress-test, defaultBackend: {service: {name: web, port: {number: 80}}}}
"#;

/// One controller replica: an elector and a status writer sharing one client named `id`.
struct Replica {
    id: &'static str,
    elector: LeaderHandle,
    writer: JoinHandle<()>,
}

fn replica(
    k8s: &StandIn,
    source: &watch::Receiver<Arc<SourceSnapshot>>,
    options: &InstanceOptions,
    id: &'static str,
) -> Replica {
    let client = k8s.client(id).unwrap();
    let elector = LeaderElector::spawn(client.clone(), lease(NS, &options.instance_name, id));
    let service = format!("{}-gateway", options.instance_name);
    let config = StatusConfig { resync: Duration::from_millis(300), ..StatusConfig::new(options.clone(), service) };
    let writer = StatusWriter::new(client, config, elector.is_leader.clone(), source.clone()).spawn();
    Replica { id, elector, writer }
}

fn instance(name: &str, watch: &[&str]) -> InstanceOptions {
    InstanceOptions {
        instance_name: name.into(),
        instance_namespace: NS.into(),
        ingress_class: name.into(),
        watch_namespaces: watch.iter().map(|s| s.to_string()).collect(),
    }
}

/// Waits for exactly one leader among `pair`; returns (leader, follower).
async fn leader_of(pair: [Replica; 2]) -> (Replica, Replica) {
    let mut channels = [pair[0].elector.is_leader.clone(), pair[1].elector.is_leader.clone()];
    until_leaders("one leader", &mut channels, |v| v[0] != v[1]).await;
    let [a, b] = pair;
    if is_leading(&a.elector.is_leader) {
        (a, b)
    } else {
        (b, a)
    }
}

fn status_ips(k8s: &StandIn, ns: &str, name: &str) -> Vec<String> {
    let ing = k8s.get("networking.k8s.io/v1", "Ingress", Some(ns), name).unwrap();
    let entries = ing.pointer("/status/loadBalancer/ingress").and_then(Value::as_array).cloned().unwrap_or_default();
    entries.iter().map(|e| e["ip"].as_str().unwrap_or_default().to_string()).collect()
}

/// Status write attempts (any outcome), from request `from` on.
fn status_patches(k8s: &StandIn, from: usize) -> Vec<RequestRecord> {
    k8s.requests().into_iter().skip(from).filter(|r| r.method == "PATCH" && r.path.ends_with("/status")).collect()
}

/// The Ingress (`ns/name`) of a status request path.
fn target(r: &RequestRecord) -> String {
    let parts: Vec<&str> = r.path.split('/').collect();
    format!("{}/{}", parts[5], parts[7])
}

/// Waits until `id` has fetched its gateway Service `passes` more times (its status passes).
async fn passes(k8s: &StandIn, id: &str, passes: usize) {
    let count = |k: &StandIn| {
        k.requests().iter().filter(|r| r.client.as_deref() == Some(id) && r.path.contains("/services/")).count()
    };
    let start = count(k8s);
    k8s.wait_for(TIMEOUT, |k| count(k) >= start + passes).await.unwrap();
}

#[tokio::test]
async fn each_ingress_gets_its_instance_address_from_the_leader_only() {
    let k8s = StandIn::start().await.unwrap();
    k8s.apply_yaml(CLUSTER).unwrap();
    let (source, _feeder) = ingress_source(k8s.client("source").unwrap());
    let prod = instance("higress-prod", &[]);
    let test = instance("higress-test", &["apps"]);
    let (prod_leader, prod_follower) =
        leader_of([replica(&k8s, &source, &prod, "prod-0"), replica(&k8s, &source, &prod, "prod-1")]).await;
    let (test_leader, test_follower) =
        leader_of([replica(&k8s, &source, &test, "test-0"), replica(&k8s, &source, &test, "test-1")]).await;

    k8s.wait_for(TIMEOUT, |k| {
        status_ips(k, "apps", "shop") == ["10.0.0.1"] && status_ips(k, "apps", "shop-test") == ["10.0.0.2"]
    })
    .await
    .unwrap();
    // Two more passes of each leader: the other Ingresses stay untouched.
    passes(&k8s, prod_leader.id, 2).await;
    passes(&k8s, test_leader.id, 2).await;
    assert!(status_ips(&k8s, "apps", "other").is_empty(), "third class: no status");
    assert!(status_ips(&k8s, "elsewhere", "beta").is_empty(), "namespace not watched by higress-test");
    for write in status_patches(&k8s, 0) {
        match write.client.as_deref() {
            Some(id) if id == prod_leader.id => assert_eq!(target(&write), "apps/shop"),
            Some(id) if id == test_leader.id => assert_eq!(target(&write), "apps/shop-test"),
            other => panic!("status write from {other:?}, not a leader: {write:?}"),
        }
    }
    assert!(
        k8s.requests().iter().all(|r| {
            let follower = [prod_follower.id, test_follower.id].contains(&r.client.as_deref().unwrap_or_default());
            !(follower && r.path.contains("/services/"))
        }),
        "followers do not even fetch addresses"
    );

    // The prod leader crashes: its elector dies without releasing, and its status writer stops with it.
    prod_leader.elector.task.abort();
    tokio::time::timeout(TIMEOUT, prod_leader.writer).await.unwrap().unwrap();
    let mut channels = [prod_follower.elector.is_leader.clone()];
    until_leaders("prod takeover", &mut channels, |v| v[0]).await;

    // `shop` moves from prod to test: prod's new leader removes its address, test's leader adds its own.
    let mark = k8s.requests().len();
    let kubectl: Api<Ingress> = Api::namespaced(k8s.client("kubectl").unwrap(), "apps");
    let class = json!({"spec": {"ingressClassName": "higress-test"}});
    kubectl.patch("shop", &PatchParams::default(), &Patch::Merge(&class)).await.unwrap();
    k8s.wait_for(TIMEOUT, |k| status_ips(k, "apps", "shop") == ["10.0.0.2"]).await.unwrap();
    passes(&k8s, prod_follower.id, 2).await;
    passes(&k8s, test_leader.id, 2).await;
    assert_eq!(status_ips(&k8s, "apps", "shop"), ["10.0.0.2"], "converged and stable");
    assert_eq!(status_ips(&k8s, "apps", "shop-test"), ["10.0.0.2"]);
    let writes = status_patches(&k8s, mark);
    assert!(writes.iter().any(|w| w.client.as_deref() == Some(prod_follower.id) && w.is_write()), "{writes:?}");
    for write in writes {
        match write.client.as_deref() {
            Some(id) if id == prod_follower.id => assert_eq!(target(&write), "apps/shop"),
            Some(id) if id == test_leader.id => {
                assert!(["apps/shop", "apps/shop-test"].contains(&target(&write).as_str()))
            }
            other => panic!("status write from {other:?}, not a leader: {write:?}"),
        }
    }
    drop(test_follower);
}
