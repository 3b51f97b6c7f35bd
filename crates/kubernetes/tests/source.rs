//! [`watch_cluster`] against the stand-in: after a change the published snapshot equals what a source
//! started from scratch reads, and its change log names exactly the objects that changed, also across a
//! re-list (watch history expired: the watchers get `410 Gone` and list again).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::TIMEOUT;
use oxigress_kube_standin::StandIn;
use oxigress_kubernetes::{watch_cluster, ClusterSource, ClusterSourceConfig};
use oxigress_objects::ObjectRef;
use oxigress_sources::SourceSnapshot;

fn ingress(name: &str, host: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: {name}, namespace: apps}}\n\
         spec: {{rules: [{{host: {host}, http: {{paths: [{{path: /, pathType: Prefix, \
         backend: {{service: {{name: web, port: {{number: 80}}}}}}}}]}}}}]}}\n"
    )
}

const OTHERS: &str = "
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec: {ports: [{port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: higress}
spec: {controller: higress.io/higress-controller}
";

async fn start(k8s: &StandIn, client: &str) -> ClusterSource {
    let config = ClusterSourceConfig::new(Vec::new(), "higress-system");
    tokio::time::timeout(TIMEOUT, watch_cluster(k8s.client(client).unwrap(), config)).await.unwrap()
}

/// How often `client` listed Ingresses.
fn ingress_lists(k8s: &StandIn, client: &str) -> usize {
    let lists = k8s.requests().into_iter().filter(|r| {
        r.client.as_deref() == Some(client)
            && r.method == "GET"
            && r.path == "/apis/networking.k8s.io/v1/ingresses"
            && !r.query.contains("watch=true")
    });
    lists.count()
}

/// Waits (at most [`TIMEOUT`]) for a published snapshot satisfying `condition`.
async fn until(source: &mut ClusterSource, condition: impl Fn(&SourceSnapshot) -> bool) -> Arc<SourceSnapshot> {
    let wait = source.snapshots.wait_for(|s| condition(s));
    tokio::time::timeout(TIMEOUT, wait).await.expect("no such snapshot in time").unwrap().clone()
}

/// What a source started now reads: a full rebuild.
async fn from_scratch(k8s: &StandIn) -> Arc<SourceSnapshot> {
    let source = start(k8s, "fresh").await;
    let snapshot = source.snapshots.borrow().clone();
    snapshot
}

fn host(snapshot: &SourceSnapshot, name: &str) -> Option<String> {
    let key = oxigress_objects::ObjectKey::new("apps", name);
    snapshot.resources.ingresses.get(&key)?.spec.as_ref()?.rules.as_ref()?[0].host.clone()
}

#[tokio::test]
async fn a_change_is_applied_in_place_and_logged_exactly() {
    let k8s = StandIn::start().await.unwrap();
    k8s.apply_yaml(OTHERS).unwrap();
    for name in ["a", "b", "c"] {
        k8s.apply_yaml(&ingress(name, &format!("{name}.example.com"))).unwrap();
    }
    let mut source = start(&k8s, "source").await;
    let first = source.snapshots.borrow_and_update().clone();
    assert_eq!(first.resources.ingresses.len(), 3);
    assert_eq!(first.changes.since(first.revision - 1), None, "the first snapshot is built from scratch");

    k8s.apply_yaml(&ingress("b", "b2.example.com")).unwrap();
    let second = until(&mut source, |s| host(s, "b").as_deref() == Some("b2.example.com")).await;
    assert_eq!(second.changes.since(first.revision), Some(BTreeSet::from([ObjectRef::new("Ingress", "apps", "b")])));
    let fresh = from_scratch(&k8s).await;
    assert_eq!(second.resources, fresh.resources);
    assert_eq!(second.diagnostics, fresh.diagnostics);

    // History gone: every watcher re-lists; Ingress a is deleted meanwhile (seen either as a deletion
    // or as missing from the new list).
    k8s.expire_watch_history();
    k8s.delete("networking.k8s.io/v1", "Ingress", Some("apps"), "a").unwrap();
    k8s.apply_yaml(&ingress("c", "c2.example.com")).unwrap();
    let third = until(&mut source, |s| host(s, "a").is_none() && host(s, "c").as_deref() == Some("c2.example.com")).await;
    let expected = BTreeSet::from([ObjectRef::new("Ingress", "apps", "a"), ObjectRef::new("Ingress", "apps", "c")]);
    assert_eq!(third.changes.since(second.revision), Some(expected), "re-listed objects that did not change are not logged");
    assert!(ingress_lists(&k8s, "source") >= 2, "the history expired: the Ingresses were listed again");
    let fresh = from_scratch(&k8s).await;
    assert_eq!(third.resources, fresh.resources);
    assert_eq!(third.diagnostics, fresh.diagnostics);
}

#[tokio::test]
async fn an_invalid_version_is_a_diagnostic_and_the_last_good_one_stays() {
    let k8s = StandIn::start().await.unwrap();
    k8s.apply_yaml(OTHERS).unwrap();
    k8s.apply_yaml(&ingress("a", "a.example.com")).unwrap();
    let mut source = start(&k8s, "source").await;
    let first = source.snapshots.borrow_and_update().clone();
    k8s.apply_yaml(&ingress("a", "bad_host!")).unwrap();
    let second = until(&mut source, |s| !s.diagnostics.is_empty()).await;
    assert_eq!(host(&second, "a").as_deref(), Some("a.example.com"));
    assert_eq!(second.diagnostics[0].object, Some(ObjectRef::new("Ingress", "apps", "a")));
    assert_eq!(second.changes.since(first.revision), Some(BTreeSet::new()), "the resources did not change");
}

#[tokio::test]
async fn more_events_than_the_queue_holds_all_arrive() {
    // The queue between the watches and the snapshot holds 1,024 events; a watch waits while it is full.
    const MANY: usize = 1500;
    let k8s = StandIn::start().await.unwrap();
    k8s.apply_yaml(OTHERS).unwrap();
    for i in 0..MANY {
        k8s.apply_yaml(&ingress(&format!("app-{i}"), &format!("app-{i}.example.com"))).unwrap();
    }
    let mut source = start(&k8s, "source").await;
    assert_eq!(source.snapshots.borrow_and_update().resources.ingresses.len(), MANY, "the initial list, whole");
    for i in 0..MANY {
        k8s.apply_yaml(&ingress(&format!("app-{i}"), &format!("app-{i}.changed.example.com"))).unwrap();
    }
    let changed = |s: &SourceSnapshot| (0..MANY).all(|i| host(s, &format!("app-{i}")) == Some(format!("app-{i}.changed.example.com")));
    let last = until(&mut source, changed).await;
    let fresh = from_scratch(&k8s).await;
    assert_eq!(last.resources, fresh.resources);
}
