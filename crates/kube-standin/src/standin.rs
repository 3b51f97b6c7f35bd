//! [`StandIn`]: start the fake apiserver, seed and inspect its objects, build kube clients for it.

use crate::error::{ApiError, StandInError};
use crate::kinds::Resource;
use crate::record::RequestRecord;
use crate::server;
use crate::shared::Shared;
use crate::store::{Key, StatusMode};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A Kubernetes API server stand-in on `127.0.0.1:<ephemeral>`, serving plain http until dropped.
///
/// Tests give each controller its own client from [`StandIn::client`]`(name)`, so the request log
/// ([`StandIn::requests`]) tells them apart (`RequestRecord::client`).
#[derive(Debug)]
pub struct StandIn {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl StandIn {
    /// Binds `127.0.0.1:0` and serves in a tokio task (which stops when the `StandIn` is dropped).
    pub async fn start() -> Result<Self, StandInError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(StandInError::Bind)?;
        let addr = listener.local_addr().map_err(StandInError::Bind)?;
        let shared = Arc::new(Shared::new());
        let mut stop = shared.shutdown.subscribe();
        let app = server::router(Arc::clone(&shared));
        tokio::spawn(async move {
            let stopped = async move {
                // An error means the sender is gone: the stand-in was dropped, so stop too.
                let _ = stop.wait_for(|stopped| *stopped).await;
            };
            let _ = axum::serve(listener, app).with_graceful_shutdown(stopped).await;
        });
        Ok(Self { shared, addr })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kube client for this stand-in whose requests carry `x-standin-client: NAME` and
    /// `User-Agent: NAME` (see [`RequestRecord::client`]). Must be called inside a tokio runtime.
    pub fn client(&self, name: &str) -> Result<kube::Client, StandInError> {
        let mut config = kube::Config::new(self.url().parse::<http::Uri>().map_err(http::Error::from)?);
        let value = http::HeaderValue::from_str(name).map_err(http::Error::from)?;
        config.headers.push((http::HeaderName::from_static("x-standin-client"), value.clone()));
        config.headers.push((http::header::USER_AGENT, value));
        Ok(kube::Client::try_from(config)?)
    }

    /// Creates or replaces `obj` (needs `apiVersion`, `kind`, `metadata.name`), status included, as a
    /// normal write (new resourceVersion, watch event). Returns the stored object.
    pub fn apply(&self, obj: Value) -> Result<Value, StandInError> {
        let field = |f: &str| obj.pointer(f).and_then(Value::as_str).filter(|s| !s.is_empty()).map(String::from);
        let (Some(api_version), Some(kind), Some(name)) =
            (field("/apiVersion"), field("/kind"), field("/metadata/name"))
        else {
            return Err(StandInError::Incomplete);
        };
        let res = Resource::new(&api_version, &kind);
        let ns = if res.cluster_scoped() {
            String::new()
        } else {
            field("/metadata/namespace").unwrap_or_else(|| "default".into())
        };
        let key = Key::new(&res, &ns, &name);
        let result =
            self.shared.write(|s| match s.get(&key).and_then(|o| o.pointer("/metadata/resourceVersion")).cloned() {
                Some(rv) => {
                    let mut obj = obj;
                    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                        meta.insert("resourceVersion".into(), rv);
                    }
                    s.replace(&res, &key, obj, StatusMode::Raw)
                }
                None => s.create(&res, &ns, obj, StatusMode::Raw),
            });
        Ok(result?)
    }

    /// [`StandIn::apply`] for every document of a (multi-document) YAML text; `kind: List` is unpacked.
    pub fn apply_yaml(&self, yaml: &str) -> Result<Vec<Value>, StandInError> {
        let mut applied = Vec::new();
        for doc in serde_yaml_ng::Deserializer::from_str(yaml) {
            let value: Value = serde::Deserialize::deserialize(doc)?;
            let items = match value.get("items").and_then(Value::as_array) {
                Some(items) if value.get("kind").and_then(Value::as_str) == Some("List") => items.clone(),
                _ if value.is_null() => continue,
                _ => vec![value],
            };
            for item in items {
                applied.push(self.apply(item)?);
            }
        }
        Ok(applied)
    }

    /// The object `name` of `kind_or_plural` (`Ingress` or `ingresses`) in `namespace` (`None` for
    /// cluster-scoped kinds).
    pub fn get(&self, api_version: &str, kind_or_plural: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let res = Resource::new(api_version, kind_or_plural);
        self.shared.store().get(&Key::new(&res, namespace.unwrap_or(""), name)).cloned()
    }

    /// All objects of `kind_or_plural`, in `namespace` when given.
    pub fn list(&self, api_version: &str, kind_or_plural: &str, namespace: Option<&str>) -> Vec<Value> {
        let res = Resource::new(api_version, kind_or_plural);
        self.shared.store().list(&res, namespace).cloned().collect()
    }

    /// Deletes an object (a DELETED watch event); returns its last state.
    pub fn delete(
        &self,
        api_version: &str,
        kind_or_plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let res = Resource::new(api_version, kind_or_plural);
        self.shared.write(|s| s.delete(&res, &Key::new(&res, namespace.unwrap_or(""), name)))
    }

    /// Drops the watch history and closes every open watch, as an apiserver restart over a compacted
    /// etcd would: clients that re-watch from a resourceVersion they saw get `410 Expired` and must
    /// re-list (kube-rs `watcher` does).
    pub fn expire_watch_history(&self) {
        self.shared.write(|s| s.expire());
    }

    /// The latest resourceVersion handed out.
    pub fn resource_version(&self) -> u64 {
        self.shared.store().rv
    }

    /// Every request answered so far, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.requests()
    }

    /// Waits until `condition(self)` holds, re-checking after every write and request (no polling
    /// interval); [`StandInError::Timeout`] after `timeout`.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut condition: impl FnMut(&Self) -> bool,
    ) -> Result<(), StandInError> {
        let mut tick = self.shared.tick.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            tick.borrow_and_update();
            if condition(self) {
                return Ok(());
            }
            match tokio::time::timeout_at(deadline, tick.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return Err(StandInError::Timeout(timeout)),
            }
        }
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
    }
}
