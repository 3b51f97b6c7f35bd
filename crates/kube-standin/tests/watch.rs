//! kube-rs `watcher` + `reflector` against the stand-in: initial list, live changes, namespace and
//! label scoping, and recovery from `410 Expired`.

#![allow(clippy::unwrap_used)]

mod common;

use common::{ingress, Reflected};
use k8s_openapi::api::networking::v1::Ingress;
use kube::runtime::watcher;
use kube::Api;
use oxigress_kube_standin::StandIn;
use serde_json::json;

#[tokio::test]
async fn reflector_sees_initial_objects_then_changes() {
    let k8s = StandIn::start().await.unwrap();
    k8s.apply(ingress("a", "one", json!({}))).unwrap();
    k8s.apply(ingress("b", "two", json!({}))).unwrap();
    let api: Api<Ingress> = Api::all(k8s.client("test").unwrap());
    let mut reflected = Reflected::start(api, watcher::Config::default());
    reflected.names(&["one", "two"]).await;

    k8s.apply(ingress("a", "three", json!({}))).unwrap();
    reflected.names(&["one", "three", "two"]).await;

    let mut changed = ingress("a", "one", json!({}));
    changed["spec"]["ingressClassName"] = json!("other");
    k8s.apply(changed).unwrap();
    reflected.until("class changed", |state| reflected_class(state, "one").as_deref() == Some("other")).await;

    k8s.delete("networking.k8s.io/v1", "Ingress", Some("b"), "two").unwrap();
    reflected.names(&["one", "three"]).await;
}

fn reflected_class(objects: &[std::sync::Arc<Ingress>], name: &str) -> Option<String> {
    let ing = objects.iter().find(|i| i.metadata.name.as_deref() == Some(name))?;
    ing.spec.as_ref()?.ingress_class_name.clone()
}

#[tokio::test]
async fn streaming_list_watcher_gets_initial_events_then_changes() {
    let k8s = StandIn::start().await.unwrap();
    k8s.apply(ingress("a", "one", json!({}))).unwrap();
    let api: Api<Ingress> = Api::all(k8s.client("test").unwrap());
    let mut reflected = Reflected::start(api, watcher::Config::default().streaming_lists());
    reflected.names(&["one"]).await;
    k8s.apply(ingress("a", "two", json!({}))).unwrap();
    reflected.names(&["one", "two"]).await;
    assert!(k8s.requests().iter().all(|r| r.query.contains("watch=")), "no LIST request");
}

#[tokio::test]
async fn namespaced_watcher_sees_only_its_namespace() {
    let k8s = StandIn::start().await.unwrap();
    k8s.apply(ingress("mine", "a", json!({}))).unwrap();
    k8s.apply(ingress("other", "b", json!({}))).unwrap();
    let api: Api<Ingress> = Api::namespaced(k8s.client("test").unwrap(), "mine");
    let mut reflected = Reflected::start(api, watcher::Config::default());
    reflected.names(&["a"]).await;
    // Events arrive in order: once "c" is in, an earlier "d" elsewhere would have been too.
    k8s.apply(ingress("other", "d", json!({}))).unwrap();
    k8s.apply(ingress("mine", "c", json!({}))).unwrap();
    reflected.names(&["a", "c"]).await;
}

#[tokio::test]
async fn label_selector_adds_and_drops_objects_as_labels_change() {
    let k8s = StandIn::start().await.unwrap();
    k8s.apply(ingress("a", "x1", json!({"team": "x"}))).unwrap();
    k8s.apply(ingress("a", "y1", json!({"team": "y"}))).unwrap();
    let api: Api<Ingress> = Api::all(k8s.client("test").unwrap());
    let mut reflected = Reflected::start(api, watcher::Config::default().labels("team in (x),!gone"));
    reflected.names(&["x1"]).await;
    k8s.apply(ingress("a", "y1", json!({"team": "x"}))).unwrap();
    reflected.names(&["x1", "y1"]).await;
    k8s.apply(ingress("a", "x1", json!({"team": "x", "gone": "yes"}))).unwrap();
    reflected.names(&["y1"]).await;
}

#[tokio::test]
async fn watcher_recovers_from_expired_history_by_relisting() {
    let k8s = StandIn::start().await.unwrap();
    k8s.apply(ingress("a", "keep", json!({}))).unwrap();
    k8s.apply(ingress("a", "lost", json!({}))).unwrap();
    let api: Api<Ingress> = Api::all(k8s.client("test").unwrap());
    let mut reflected = Reflected::start(api, watcher::Config::default());
    reflected.names(&["keep", "lost"]).await;

    // The open watch ends; changes made now are not in any history the watcher can resume from.
    k8s.expire_watch_history();
    k8s.delete("networking.k8s.io/v1", "ingresses", Some("a"), "lost").unwrap();
    k8s.apply(ingress("a", "new", json!({}))).unwrap();
    reflected.names(&["keep", "new"]).await;

    let lists = k8s.requests().iter().filter(|r| r.method == "GET" && !r.query.contains("watch=")).count();
    assert!(lists >= 2, "the watcher re-listed after 410 Expired ({lists} lists)");
}

#[tokio::test]
async fn raw_watch_from_expired_version_streams_410() {
    let k8s = StandIn::start().await.unwrap();
    k8s.apply(ingress("a", "x", json!({}))).unwrap();
    let old = k8s.resource_version();
    k8s.expire_watch_history();
    let api: Api<Ingress> = Api::all(k8s.client("test").unwrap());
    let stream = api.watch(&kube::api::WatchParams::default().timeout(5), &old.to_string()).await.unwrap();
    let mut stream = std::pin::pin!(stream);
    let first = futures::StreamExt::next(&mut stream).await.unwrap().unwrap();
    match first {
        kube::api::WatchEvent::Error(status) => assert_eq!((status.code, status.reason.as_str()), (410, "Expired")),
        other => panic!("expected 410, got {other:?}"),
    }
}
