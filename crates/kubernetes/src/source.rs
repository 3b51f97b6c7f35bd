//! [`watch_cluster`]: the API server as a source. One kube-rs reflector per kind and watched namespace
//! keeps a local cache; every change rebuilds the [`Resources`] bundle and publishes a
//! [`SourceSnapshot`], exactly the type the manifest directory publishes, so the controller loop,
//! selection and translation are shared with standalone mode.
//!
//! Scoping (so RBAC can be namespaced): Ingresses, Services, EndpointSlices and Secrets are watched per
//! `--watch-namespace` (cluster-wide when none); WasmPlugins and ConfigMaps only in the instance's own
//! namespace (where Higress reads them); IngressClasses cluster-wide. Nothing is published before every
//! cache has completed its initial list, so a starting controller never serves a partial configuration.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::{self, store::Writer, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use oxigress_sources::SourceSnapshot;

use crate::builder::Builder;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the cluster source watches.
#[derive(Debug, Clone)]
pub struct ClusterSourceConfig {
    /// Namespaces whose Ingresses, Services, EndpointSlices and Secrets are watched; empty = all.
    pub watch_namespaces: Vec<String>,
    /// The instance's own namespace: WasmPlugins and ConfigMaps.
    pub instance_namespace: String,
    /// Changes arriving within this window are published together.
    pub debounce: Duration,
}

impl ClusterSourceConfig {
    /// Watch `watch_namespaces` (empty = all) for an instance living in `instance_namespace`.
    pub fn new(watch_namespaces: Vec<String>, instance_namespace: impl Into<String>) -> Self {
        Self { watch_namespaces, instance_namespace: instance_namespace.into(), debounce: Duration::from_millis(50) }
    }
}

/// A running cluster source; dropping it stops every watch.
pub struct ClusterSource {
    /// The published snapshots (the first one once every cache is synced).
    pub snapshots: watch::Receiver<Arc<SourceSnapshot>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for ClusterSource {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The local caches, one store per kind and scope.
#[derive(Clone, Default)]
pub(crate) struct Caches {
    pub(crate) ingresses: Vec<Store<Ingress>>,
    pub(crate) ingress_classes: Vec<Store<IngressClass>>,
    pub(crate) services: Vec<Store<Service>>,
    pub(crate) endpoint_slices: Vec<Store<EndpointSlice>>,
    pub(crate) secrets: Vec<Store<Secret>>,
    pub(crate) config_maps: Vec<Store<ConfigMap>>,
    pub(crate) wasm_plugins: Vec<Store<DynamicObject>>,
}

/// The `extensions.higress.io/v1alpha1` WasmPlugin resource, read as a dynamic object.
pub fn wasm_plugin_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("extensions.higress.io", "v1alpha1", "WasmPlugin"), "wasmplugins")
}

/// Starts watching; waits until every cache has completed its initial list, then returns with the
/// first snapshot published. Bound the wait with a timeout: an API server that never answers (or
/// RBAC that forbids a list) keeps it waiting, with the watcher's errors in the log.
pub async fn watch_cluster(client: Client, config: ClusterSourceConfig) -> ClusterSource {
    let (changed_tx, mut changed) = watch::channel(0u64);
    let mut tasks = Vec::new();
    let mut caches = Caches::default();
    let scopes: Vec<Option<String>> = if config.watch_namespaces.is_empty() {
        vec![None]
    } else {
        config.watch_namespaces.iter().cloned().map(Some).collect()
    };
    let own = Some(config.instance_namespace.clone());
    for scope in &scopes {
        caches.ingresses.push(reflect(api(&client, scope), &changed_tx, &mut tasks));
        caches.services.push(reflect(api(&client, scope), &changed_tx, &mut tasks));
        caches.endpoint_slices.push(reflect(api(&client, scope), &changed_tx, &mut tasks));
        caches.secrets.push(reflect(api(&client, scope), &changed_tx, &mut tasks));
    }
    caches.ingress_classes.push(reflect(Api::all(client.clone()), &changed_tx, &mut tasks));
    caches.config_maps.push(reflect(api(&client, &own), &changed_tx, &mut tasks));
    let resource = wasm_plugin_resource();
    let plugins = Api::namespaced_with(client.clone(), &config.instance_namespace, &resource);
    caches.wasm_plugins.push(reflect_dynamic(plugins, resource, &changed_tx, &mut tasks));

    caches.wait_until_ready().await;
    changed.borrow_and_update();
    let mut builder = Builder::default();
    let (tx, snapshots) = watch::channel(Arc::new(builder.build(&caches)));
    let debounce = config.debounce;
    tasks.push(tokio::spawn(async move {
        while changed.changed().await.is_ok() {
            // Let a burst of events (a `kubectl apply -f dir`) settle into one snapshot.
            tokio::time::sleep(debounce).await;
            changed.borrow_and_update();
            let snapshot = builder.build(&caches);
            if tx.send(Arc::new(snapshot)).is_err() {
                return;
            }
        }
    }));
    ClusterSource { snapshots, tasks }
}

fn api<K>(client: &Client, scope: &Option<String>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match scope {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

/// Runs a reflector for `api` in the background; every event bumps `changed`.
fn reflect<K>(api: Api<K>, changed: &watch::Sender<u64>, tasks: &mut Vec<JoinHandle<()>>) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    let (store, writer) = reflector::store();
    tasks.push(drive(api, writer, changed.clone(), type_name::<K>()));
    store
}

/// The last path segment of a type name (`Ingress`), for logs.
fn type_name<K>() -> &'static str {
    let full = std::any::type_name::<K>();
    full.rsplit("::").next().unwrap_or(full)
}

fn reflect_dynamic(
    api: Api<DynamicObject>,
    resource: ApiResource,
    changed: &watch::Sender<u64>,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Store<DynamicObject> {
    let writer = Writer::new(resource);
    let store = writer.as_reader();
    tasks.push(drive(api, writer, changed.clone(), "WasmPlugin"));
    store
}

fn drive<K>(api: Api<K>, writer: Writer<K>, changed: watch::Sender<u64>, kind: &'static str) -> JoinHandle<()>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Send + Sync,
{
    tokio::spawn(async move {
        let stream = watcher(api, watcher::Config::default()).default_backoff().reflect(writer);
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(_) => changed.send_modify(|n| *n += 1),
                // The watcher re-lists after errors (410 Gone included) with backoff.
                Err(e) => tracing::warn!(kind, "watch error: {e}"),
            }
        }
    })
}

impl Caches {
    async fn wait_until_ready(&self) {
        ready(&self.ingresses).await;
        ready(&self.ingress_classes).await;
        ready(&self.services).await;
        ready(&self.endpoint_slices).await;
        ready(&self.secrets).await;
        ready(&self.config_maps).await;
        ready(&self.wasm_plugins).await;
    }
}

async fn ready<K>(stores: &[Store<K>])
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    for store in stores {
        // Err = the writer is gone (the task was aborted): nothing left to wait for.
        let _ = store.wait_until_ready().await;
    }
}
