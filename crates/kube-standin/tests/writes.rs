//! Writes through kube-rs clients: the status subresource, the request log, Lease conflicts, server-side
//! apply, events.

#![allow(clippy::unwrap_used)]

mod common;

use common::ingress;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Resource};
use oxigress_kube_standin::StandIn;
use serde_json::json;

fn status_ip(ing: &Ingress) -> Option<String> {
    ing.status.as_ref()?.load_balancer.as_ref()?.ingress.as_ref()?.first()?.ip.clone()
}

#[tokio::test]
async fn status_is_written_only_through_the_status_subresource() {
    let k8s = StandIn::start().await.unwrap();
    k8s.apply(ingress("a", "web", json!({}))).unwrap();
    let status_writer: Api<Ingress> = Api::namespaced(k8s.client("status-writer").unwrap(), "a");
    let spec_writer: Api<Ingress> = Api::namespaced(k8s.client("spec-writer").unwrap(), "a");

    let status = json!({"status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}});
    let patched = status_writer.patch_status("web", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    assert_eq!(status_ip(&patched).as_deref(), Some("10.0.0.1"));
    assert_eq!(patched.metadata.generation, Some(1), "a status write does not bump generation");

    let mut edited = spec_writer.get("web").await.unwrap();
    edited.spec.as_mut().unwrap().ingress_class_name = Some("other".into());
    edited.status.as_mut().unwrap().load_balancer.as_mut().unwrap().ingress = None;
    let replaced = spec_writer.replace("web", &PostParams::default(), &edited).await.unwrap();
    assert_eq!(status_ip(&replaced).as_deref(), Some("10.0.0.1"), "replace keeps the status");
    assert_eq!(replaced.spec.unwrap().ingress_class_name.as_deref(), Some("other"));
    assert_eq!(replaced.metadata.generation, Some(2));

    let writes: Vec<_> = k8s.requests().into_iter().filter(|r| r.is_write()).collect();
    let status_writers: Vec<_> =
        writes.iter().filter(|r| r.path.ends_with("/status")).map(|r| r.client.as_deref()).collect();
    assert_eq!(status_writers, [Some("status-writer")]);
    assert!(writes.iter().any(|r| r.method == "PUT" && r.client.as_deref() == Some("spec-writer")));
}

fn lease(holder: &str) -> Lease {
    serde_json::from_value(json!({
        "metadata": {"name": "oxigress-leader", "namespace": "higress-system"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15},
    }))
    .unwrap()
}

#[tokio::test]
async fn lease_replace_with_a_stale_resource_version_conflicts() {
    let k8s = StandIn::start().await.unwrap();
    let leases: Api<Lease> = Api::namespaced(k8s.client("elector").unwrap(), "higress-system");
    assert!(leases.get_opt("oxigress-leader").await.unwrap().is_none());
    let mine = leases.create(&PostParams::default(), &lease("a")).await.unwrap();
    let again = leases.create(&PostParams::default(), &lease("a")).await.unwrap_err();
    assert!(matches!(again, kube::Error::Api(ref s) if s.code == 409 && s.reason == "AlreadyExists"), "{again:?}");

    let mut theirs = mine.clone();
    theirs.spec.as_mut().unwrap().holder_identity = Some("b".into());
    let current = leases.replace("oxigress-leader", &PostParams::default(), &theirs).await.unwrap();

    let mut stale = mine.clone();
    stale.spec.as_mut().unwrap().lease_duration_seconds = Some(30);
    let conflict = leases.replace("oxigress-leader", &PostParams::default(), &stale).await.unwrap_err();
    assert!(matches!(conflict, kube::Error::Api(ref s) if s.code == 409 && s.reason == "Conflict"), "{conflict:?}");

    let mut renewed = current.clone();
    renewed.spec.as_mut().unwrap().holder_identity = Some("a".into());
    let renewed = leases.replace("oxigress-leader", &PostParams::default(), &renewed).await.unwrap();
    assert_eq!(renewed.spec.unwrap().holder_identity.as_deref(), Some("a"));
    assert_ne!(renewed.metadata.resource_version, current.metadata.resource_version);
}

#[tokio::test]
async fn server_side_apply_creates_then_merges_and_logs_the_field_manager() {
    let k8s = StandIn::start().await.unwrap();
    let maps: Api<ConfigMap> = Api::namespaced(k8s.client("applier").unwrap(), "a");
    let params = PatchParams::apply("oxigress").force();
    let first = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1"}});
    maps.patch("cfg", &params, &Patch::Apply(&first)).await.unwrap();
    let second = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"b": "2"}});
    let merged = maps.patch("cfg", &params, &Patch::Apply(&second)).await.unwrap();
    assert_eq!(merged.data.unwrap().len(), 2);
    let json_patch: json_patch::Patch = serde_json::from_value(json!([{"op": "remove", "path": "/data/a"}])).unwrap();
    let patched = maps.patch("cfg", &PatchParams::default(), &Patch::Json::<()>(json_patch)).await.unwrap();
    assert_eq!(patched.data.unwrap().keys().collect::<Vec<_>>(), ["b"]);
    assert!(k8s.requests().iter().any(|r| r.method == "PATCH" && r.field_manager.as_deref() == Some("oxigress")));
    assert!(k8s.get("v1", "ConfigMap", Some("a"), "cfg").is_some());
}

#[tokio::test]
async fn events_are_created_and_repeated_events_patched() {
    let k8s = StandIn::start().await.unwrap();
    let client = k8s.client("recorder").unwrap();
    let ing: Ingress = serde_json::from_value(k8s.apply(ingress("a", "web", json!({}))).unwrap()).unwrap();
    let recorder = Recorder::new(client.clone(), Reporter { controller: "oxigress".into(), instance: None });
    let event = Event {
        type_: EventType::Warning,
        reason: "BadConfig".into(),
        note: Some("no backend".into()),
        action: "Translate".into(),
        secondary: None,
    };
    recorder.publish(&event, &ing.object_ref(&())).await.unwrap();
    recorder.publish(&event, &ing.object_ref(&())).await.unwrap();
    let events = k8s.list("events.k8s.io/v1", "Event", Some("a"));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["series"]["count"], json!(2));

    let core: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client, "a");
    let legacy = json!({
        "metadata": {"generateName": "web."},
        "reason": "Synced",
        "involvedObject": {"kind": "Ingress", "name": "web"},
    });
    let legacy = serde_json::from_value(legacy).unwrap();
    let created = core.create(&PostParams::default(), &legacy).await.unwrap();
    assert!(created.metadata.name.unwrap().starts_with("web."));
}

#[tokio::test]
async fn apply_yaml_takes_multiple_documents_and_lists() {
    let k8s = StandIn::start().await.unwrap();
    let yaml = "\
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: higress}
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Service, metadata: {name: s, namespace: a}}
";
    assert_eq!(k8s.apply_yaml(yaml).unwrap().len(), 2);
    assert!(k8s.get("networking.k8s.io/v1", "ingressclasses", None, "higress").is_some());
    let svc = k8s.get("v1", "Service", Some("a"), "s").unwrap();
    assert_eq!(svc["metadata"]["generation"], json!(1));

    let maps: Api<ConfigMap> = Api::namespaced(k8s.client("writer").unwrap(), "a");
    let cm = serde_json::from_value(json!({"metadata": {"name": "later"}})).unwrap();
    let write = tokio::spawn(async move { maps.create(&PostParams::default(), &cm).await });
    k8s.wait_for(common::TIMEOUT, |s| s.get("v1", "configmaps", Some("a"), "later").is_some()).await.unwrap();
    write.await.unwrap().unwrap();
}
