//! [`watch_cluster`]: the API server as a source. One kube-rs watcher per kind and watched namespace
//! feeds its events into one bounded queue; the `Builder` applies them to the published [`SourceSnapshot`]
//! in place (only the objects the events name; the snapshot is copied first only while a reader still
//! holds it) and records them in its change log. That is exactly the type the manifest directory
//! publishes, so the controller loop, selection and (incremental) translation are shared with
//! standalone mode. The snapshot holds the only copy of the objects (no reflector stores).
//!
//! Scoping (so RBAC can be namespaced): Ingresses, Services, EndpointSlices and Secrets are watched per
//! `--watch-namespace` (cluster-wide when none); WasmPlugins and ConfigMaps only in the instance's own
//! namespace (where Higress reads them); IngressClasses cluster-wide. Nothing is published before every
//! watch has completed its initial list, so a starting controller never serves a partial configuration.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use oxigress_objects::{KubeObject, ObjectRef};
use oxigress_sources::SourceSnapshot;

use crate::builder::{Builder, Change, Observed, StreamEvent};
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch};
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

/// The `extensions.higress.io/v1alpha1` WasmPlugin resource, read as a dynamic object.
pub fn wasm_plugin_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("extensions.higress.io", "v1alpha1", "WasmPlugin"), "wasmplugins")
}

/// Starts watching; waits until every watch has completed its initial list, then returns with the
/// first snapshot published. Bound the wait with a timeout: an API server that never answers (or
/// RBAC that forbids a list) keeps it waiting, with the watcher's errors in the log.
pub async fn watch_cluster(client: Client, config: ClusterSourceConfig) -> ClusterSource {
    let mut watches = Watches { client, events: mpsc::channel(EVENT_QUEUE), tasks: Vec::new() };
    let scopes: Vec<Option<String>> = if config.watch_namespaces.is_empty() {
        vec![None]
    } else {
        // Once each: two streams holding one object would each report its deletion.
        let namespaces: BTreeSet<&String> = config.watch_namespaces.iter().collect();
        namespaces.into_iter().cloned().map(Some).collect()
    };
    for scope in &scopes {
        watches.start(api(&watches.client, scope), |o| Observed::object(KubeObject::Ingress(o)));
        watches.start(api(&watches.client, scope), |o| Observed::object(KubeObject::Service(o)));
        watches.start(api(&watches.client, scope), |o| Observed::object(KubeObject::EndpointSlice(o)));
        watches.start(api(&watches.client, scope), |o| Observed::object(KubeObject::Secret(o)));
    }
    watches.start(Api::all(watches.client.clone()), |o| Observed::object(KubeObject::IngressClass(o)));
    let own = Some(config.instance_namespace.clone());
    watches.start(api(&watches.client, &own), |o| Observed::object(KubeObject::ConfigMap(o)));
    let resource = wasm_plugin_resource();
    let plugins = Api::namespaced_with(watches.client.clone(), &config.instance_namespace, &resource);
    watches.start(plugins, wasm_plugin);

    let Watches { events: (_, mut events), mut tasks, .. } = watches;
    let mut builder = Builder::new(tasks.len());
    let mut first = SourceSnapshot::default();
    while !builder.synced() {
        match events.recv().await {
            Some(event) => builder.apply(&mut first.resources, event),
            // Every watch task ended (they never do on their own): nothing more will come.
            None => break,
        }
    }
    builder.publish(&mut first);
    let (tx, snapshots) = watch::channel(Arc::new(first));
    let debounce = config.debounce;
    tasks.push(tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            // Let a burst of events (a `kubectl apply -f dir`) settle into one snapshot.
            tokio::time::sleep(debounce).await;
            let mut batch = vec![event];
            while let Ok(event) = events.try_recv() {
                batch.push(event);
            }
            if tx.is_closed() {
                return;
            }
            tx.send_if_modified(|current| {
                // Copied first only while a reader still holds the snapshot.
                let snapshot = Arc::make_mut(current);
                for event in batch {
                    builder.apply(&mut snapshot.resources, event);
                }
                let publish = builder.pending();
                if publish {
                    builder.publish(snapshot);
                }
                publish
            });
        }
    }));
    ClusterSource { snapshots, tasks }
}

/// Events queued between the watches and the task applying them: a watch whose events are not taken
/// waits (and so does its API server stream) instead of the queue growing without bound.
const EVENT_QUEUE: usize = 1024;

/// The watch tasks being started, each feeding the one event channel.
struct Watches {
    client: Client,
    events: (mpsc::Sender<StreamEvent>, mpsc::Receiver<StreamEvent>),
    tasks: Vec<JoinHandle<()>>,
}

impl Watches {
    /// Watches `api` in the background; its events, converted by `convert`, become stream number
    /// `tasks.len()` of the builder.
    fn start<K>(&mut self, api: Api<K>, convert: fn(K) -> Observed)
    where
        K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let stream = self.tasks.len();
        let events = self.events.0.clone();
        let kind = type_name::<K>();
        self.tasks.push(tokio::spawn(async move {
            let watch = watcher(api, watcher::Config::default()).default_backoff();
            let mut watch = std::pin::pin!(watch);
            while let Some(event) = watch.next().await {
                let change = match event {
                    Ok(watcher::Event::Apply(object)) => Change::Apply(convert(object)),
                    Ok(watcher::Event::Delete(object)) => Change::Delete(convert(object).reference()),
                    Ok(watcher::Event::Init) => Change::Init,
                    Ok(watcher::Event::InitApply(object)) => Change::InitApply(convert(object)),
                    Ok(watcher::Event::InitDone) => Change::InitDone,
                    // The watcher re-lists after errors (410 Gone included) with backoff.
                    Err(e) => {
                        tracing::warn!(kind, "watch error: {e}");
                        continue;
                    }
                };
                if events.send(StreamEvent { stream, change }).await.is_err() {
                    return;
                }
            }
        }));
    }
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

/// The last path segment of a type name (`Ingress`), for logs.
fn type_name<K>() -> &'static str {
    let full = std::any::type_name::<K>();
    full.rsplit("::").next().unwrap_or(full)
}

/// A dynamic WasmPlugin as the typed object the translator reads.
fn wasm_plugin(dynamic: DynamicObject) -> Observed {
    let reference = ObjectRef::new(
        "WasmPlugin",
        dynamic.metadata.namespace.as_deref().unwrap_or(""),
        dynamic.metadata.name.as_deref().unwrap_or(""),
    );
    let mut value = match serde_json::to_value(dynamic) {
        Ok(value) => value,
        Err(e) => return Observed::Undecodable(reference, e.to_string()),
    };
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".into(), oxigress_objects::wasm_plugin::API_VERSION.into());
        map.insert("kind".into(), "WasmPlugin".into());
    }
    match serde_json::from_value(value) {
        Ok(plugin) => Observed::object(KubeObject::WasmPlugin(plugin)),
        Err(e) => Observed::Undecodable(reference, format!("cannot decode: {e}")),
    }
}
