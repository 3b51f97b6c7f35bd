//! Shared by the integration tests: bounded waits, test lease timing, and a minimal stand-in for the
//! Kubernetes source (a reflector over Ingresses publishing `SourceSnapshot`s).

#![allow(dead_code, clippy::unwrap_used)]

use futures::StreamExt;
use k8s_openapi::api::networking::v1::Ingress;
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, Client};
use oxigress_kubernetes::LeaseConfig;
use oxigress_objects::{KubeObject, Resources};
use oxigress_sources::SourceSnapshot;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long any wait in these tests may take.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Lease timing for tests: 2 s leases (short, but long enough that a busy machine does not make the
/// leader miss its renewals), renewed every 100 ms.
pub fn lease(namespace: &str, instance: &str, identity: &str) -> LeaseConfig {
    LeaseConfig {
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1500),
        retry_period: Duration::from_millis(100),
        ..LeaseConfig::new(namespace, instance, identity)
    }
}

/// Waits (at most [`TIMEOUT`]) until `condition` holds over the values of `channels`, re-checking
/// whenever one of them changes.
pub async fn until_leaders(what: &str, channels: &mut [watch::Receiver<bool>], condition: impl Fn(&[bool]) -> bool) {
    let wait = async {
        loop {
            let values: Vec<bool> = channels.iter_mut().map(|c| *c.borrow_and_update()).collect();
            if condition(&values) {
                return;
            }
            let changes = channels.iter_mut().map(|c| Box::pin(c.changed()));
            let (changed, index, _) = futures::future::select_all(changes).await;
            assert!(changed.is_ok(), "{what}: elector {index} stopped");
        }
    };
    if tokio::time::timeout(TIMEOUT, wait).await.is_err() {
        let values: Vec<bool> = channels.iter().map(|c| *c.borrow()).collect();
        panic!("{what}: leadership never got there, last {values:?}");
    }
}

/// A source over the cluster's Ingresses (all namespaces): a new snapshot after every watch event.
pub fn ingress_source(client: Client) -> (watch::Receiver<Arc<SourceSnapshot>>, JoinHandle<()>) {
    let (tx, rx) = watch::channel(Arc::new(SourceSnapshot::default()));
    let task = tokio::spawn(async move {
        let (store, writer) = reflector::store();
        let stream = watcher(Api::<Ingress>::all(client), watcher::Config::default()).default_backoff().reflect(writer);
        let mut stream = std::pin::pin!(stream);
        let mut revision = 0;
        while stream.next().await.is_some() {
            revision += 1;
            let objects = store.state().into_iter().map(|i| KubeObject::Ingress((*i).clone()));
            let resources = Resources::from_objects(objects);
            tx.send_replace(Arc::new(SourceSnapshot { resources, diagnostics: Vec::new(), revision, changes: Default::default() }));
        }
    });
    (rx, task)
}
