//! Diagnostics become Events on their object: from the leader only, once while they persist.

#![allow(clippy::unwrap_used)]

mod common;

use common::{lease, until_leaders, TIMEOUT};
use k8s_openapi::api::networking::v1::Ingress;
use oxigress_kube_standin::StandIn;
use oxigress_kubernetes::{is_leading, EventPublisher, LeaderElector, LeaderHandle};
use oxigress_objects::{Diagnostic, KubeObject, ObjectRef, Resources};
use oxigress_sources::SourceSnapshot;
use serde_json::json;
use std::sync::Arc;
use tokio::sync::watch;

const INGRESS: &str = r#"
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: apps}
spec: {ingressClassName: higress-prod, defaultBackend: {service: {name: web, port: {number: 80}}}}
"#;

fn events(k8s: &StandIn) -> Vec<serde_json::Value> {
    k8s.list("events.k8s.io/v1", "Event", Some("apps"))
}

fn diagnostic(code: &str) -> Diagnostic {
    Diagnostic::warning(code, Some(ObjectRef::new("Ingress", "apps", "shop")), format!("{code}: no such Service"))
}

/// Two replicas of `higress-prod`, each an elector and a publisher; returns them leader first.
async fn replicas(k8s: &StandIn) -> [(LeaderHandle, EventPublisher, &'static str); 2] {
    let make = |id: &'static str| {
        let client = k8s.client(id).unwrap();
        let elector = LeaderElector::spawn(client.clone(), lease("higress-system", "higress-prod", id));
        let publisher = EventPublisher::new(client, "higress-prod", id, elector.is_leader.clone());
        (elector, publisher, id)
    };
    let (a, b) = (make("prod-0"), make("prod-1"));
    let mut channels = [a.0.is_leader.clone(), b.0.is_leader.clone()];
    until_leaders("one leader", &mut channels, |v| v[0] != v[1]).await;
    if is_leading(&a.0.is_leader) {
        [a, b]
    } else {
        [b, a]
    }
}

fn resources(k8s: &StandIn) -> (Resources, String) {
    let ing: Ingress =
        serde_json::from_value(k8s.get("networking.k8s.io/v1", "Ingress", Some("apps"), "shop").unwrap()).unwrap();
    let uid = ing.metadata.uid.clone().unwrap();
    (Resources::from_objects([KubeObject::Ingress(ing)]), uid)
}

#[tokio::test]
async fn one_event_per_diagnostic_from_the_leader() {
    let k8s = StandIn::start().await.unwrap();
    k8s.apply_yaml(INGRESS).unwrap();
    let (resources, uid) = resources(&k8s);
    let [(_l, mut leader, leader_id), (_f, mut follower, _)] = replicas(&k8s).await;
    let diagnostics = [diagnostic("ServiceNotFound")];

    assert_eq!(follower.publish(&diagnostics, &resources).await, 0);
    assert_eq!(leader.publish(&diagnostics, &resources).await, 1);
    assert_eq!(follower.publish(&diagnostics, &resources).await, 0);
    assert_eq!(leader.publish(&diagnostics, &resources).await, 0, "already published");
    let all = events(&k8s);
    assert_eq!(all.len(), 1);
    let event = &all[0];
    assert_eq!(event["reason"], json!("ServiceNotFound"));
    assert_eq!(event["type"], json!("Warning"));
    assert_eq!(event["note"], json!("ServiceNotFound: no such Service"));
    assert_eq!(event["reportingController"], json!("oxigress.io/higress-prod"));
    assert_eq!(event["reportingInstance"], json!(leader_id));
    assert_eq!(event["action"], json!("Translate"));
    assert_eq!(event["regarding"]["kind"], json!("Ingress"));
    assert_eq!(event["regarding"]["name"], json!("shop"));
    assert_eq!(event["regarding"]["uid"], json!(uid));
    assert!(event["eventTime"].is_string());
    let posts: Vec<_> =
        k8s.requests().into_iter().filter(|r| r.method == "POST" && r.path.contains("/events")).collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].client.as_deref(), Some(leader_id));

    // Gone, then back: published again.
    assert_eq!(leader.publish(&[], &resources).await, 0);
    assert_eq!(leader.publish(&diagnostics, &resources).await, 1);
    assert_eq!(events(&k8s).len(), 2);
}

#[tokio::test]
async fn spawned_publisher_follows_the_diagnostics_channel() {
    let k8s = StandIn::start().await.unwrap();
    k8s.apply_yaml(INGRESS).unwrap();
    let (resources, _) = resources(&k8s);
    let [(_l, leader, _), (_f, follower, _)] = replicas(&k8s).await;
    let (source_tx, source) = watch::channel(Arc::new(SourceSnapshot { resources, ..Default::default() }));
    let (diagnostics_tx, diagnostics) = watch::channel(Arc::new(vec![diagnostic("ServiceNotFound")]));
    let _leader_task = leader.spawn(diagnostics.clone(), source.clone());
    let _follower_task = follower.spawn(diagnostics, source);
    k8s.wait_for(TIMEOUT, |k| events(k).len() == 1).await.unwrap();

    // The same diagnostic again, then a new one: only the new one makes an Event.
    diagnostics_tx.send_replace(Arc::new(vec![diagnostic("ServiceNotFound")]));
    diagnostics_tx.send_replace(Arc::new(vec![diagnostic("ServiceNotFound"), diagnostic("PortNotFound")]));
    k8s.wait_for(TIMEOUT, |k| events(k).len() >= 2).await.unwrap();
    let mut reasons: Vec<String> = events(&k8s).iter().map(|e| e["reason"].as_str().unwrap().to_string()).collect();
    reasons.sort();
    assert_eq!(reasons, ["PortNotFound", "ServiceNotFound"]);
    drop(source_tx);
}
