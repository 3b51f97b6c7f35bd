//! Shared by the integration tests: a reflector driven in the background, with a bounded wait for its
//! store to reach a state.

#![allow(dead_code)]

use futures::StreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long any wait in these tests may take.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// A reflector over `api`, running until dropped.
pub struct Reflected<K: Resource + 'static>
where
    K::DynamicType: std::hash::Hash + Eq + Clone,
{
    pub store: Store<K>,
    events: watch::Receiver<u64>,
    task: JoinHandle<()>,
}

impl<K> Reflected<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: std::hash::Hash + Eq + Clone + Default,
{
    /// Starts `watcher(api, config).default_backoff().reflect(..)`.
    pub fn start(api: Api<K>, config: watcher::Config) -> Self {
        let (store, writer) = reflector::store();
        let (tx, events) = watch::channel(0);
        let task = tokio::spawn(async move {
            let stream = watcher(api, config).default_backoff().reflect(writer);
            let mut stream = std::pin::pin!(stream);
            while stream.next().await.is_some() {
                tx.send_modify(|n| *n += 1);
            }
        });
        Self { store, events, task }
    }

    /// Waits (at most [`TIMEOUT`], re-checking after every watcher event) until `condition` holds on
    /// the store's objects.
    pub async fn until(&mut self, what: &str, condition: impl Fn(&[Arc<K>]) -> bool) -> Vec<Arc<K>> {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            self.events.borrow_and_update();
            let state = self.store.state();
            if condition(&state) {
                return state;
            }
            if !matches!(tokio::time::timeout_at(deadline, self.events.changed()).await, Ok(Ok(()))) {
                panic!("{what}: store never got there, last names {:?}", names(&state));
            }
        }
    }

    /// Waits until the store holds exactly `wanted` (names, sorted).
    pub async fn names(&mut self, wanted: &[&str]) -> Vec<Arc<K>> {
        self.until(&format!("names {wanted:?}"), |state| names(state) == wanted).await
    }
}

/// The sorted names of `objects`.
pub fn names<K: Resource>(objects: &[Arc<K>]) -> Vec<String> {
    let mut names: Vec<String> = objects.iter().map(|o| o.meta().name.clone().unwrap_or_default()).collect();
    names.sort();
    names
}

impl<K: Resource + 'static> Drop for Reflected<K>
where
    K::DynamicType: std::hash::Hash + Eq + Clone,
{
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An Ingress in `ns` with labels.
pub fn ingress(ns: &str, name: &str, labels: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"ingressClassName": "higress", "rules": [{"host": format!("{name}.example.com")}]},
    })
}
