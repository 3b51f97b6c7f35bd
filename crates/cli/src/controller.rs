//! `oxigress controller`: one instance's control plane in Kubernetes mode:
//! API watchers → controller loop (select + translate, shared with standalone) → snapshot stream to the
//! instance's gateways, plus the admin port. The cluster writes (leader election, Ingress status, Events)
//! are started by [`crate::cluster_writes`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use oxigress_controller::{Controller, ControllerMetrics};
use oxigress_kubernetes::{watch_cluster, ClusterSource, ClusterSourceConfig};
use oxigress_proxy::AppServer;
use oxigress_stream::{ServerStatus, ServerTls, SnapshotServer};
use oxigress_translate::InstanceOptions;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::cluster_writes::{ClusterWrites, ClusterWritesConfig};
use crate::controller_admin::ControllerAdmin;

/// Everything needed to run one instance's controller.
#[derive(Clone)]
pub struct ControllerConfig {
    /// What the instance owns.
    pub instance: InstanceOptions,
    /// Where gateways connect (`--xds-port`).
    pub stream: SocketAddr,
    /// Admin listener (readiness, metrics, debug); `None` = none.
    pub admin: Option<SocketAddr>,
    /// Shared secret gateways must present.
    pub stream_token: Option<String>,
    /// TLS of the stream listener.
    pub stream_tls: Option<ServerTls>,
    /// Leader election, Ingress status and Events.
    pub writes: ClusterWritesConfig,
    /// Longest wait for the first complete list of every watched kind.
    pub sync_timeout: Duration,
}

/// A running controller.
pub struct ControllerProcess {
    /// Bound stream address.
    pub stream_addr: SocketAddr,
    /// Bound admin address.
    pub admin_addr: Option<SocketAddr>,
    /// The published IR snapshots.
    pub snapshots: watch::Receiver<Option<Arc<oxigress_ir::Snapshot>>>,
    /// Connected gateways and what they acknowledged.
    pub gateways: ServerStatus,
    /// The cluster writes (leadership is visible there).
    pub writes: ClusterWrites,
    controller: Controller,
    stop_stream: Option<tokio::sync::oneshot::Sender<()>>,
    stream_task: tokio::task::JoinHandle<()>,
    admin: Option<AppServer>,
    _source: ClusterSource,
}

impl ControllerProcess {
    /// Starts watching with `client`, translating and serving the stream; returns once the first
    /// snapshot (from a complete list of every kind) is published.
    pub async fn start(client: kube::Client, config: ControllerConfig) -> anyhow::Result<Self> {
        let name = config.instance.instance_name.clone();
        let mut registry = Registry::with_labels([("instance".into(), name.clone().into())].into_iter());
        let metrics = ControllerMetrics::register(&mut registry);
        let source_config =
            ClusterSourceConfig::new(config.instance.watch_namespaces.clone(), config.instance.instance_namespace.clone());
        let source = tokio::time::timeout(config.sync_timeout, watch_cluster(client.clone(), source_config))
            .await
            .context("the API server did not answer the initial lists in time (see the watch errors above)")?;
        let controller = Controller::spawn(config.instance.clone(), source.snapshots.clone(), metrics);
        let writes = ClusterWrites::start(
            client,
            &config.instance,
            &config.writes,
            source.snapshots.clone(),
            controller.diagnostics.clone(),
        );

        let mut server = SnapshotServer::new(name.clone(), controller.snapshots.clone());
        if let Some(token) = &config.stream_token {
            server = server.with_token(token.clone());
        }
        if let Some(tls) = &config.stream_tls {
            server = server.with_tls(tls.clone());
        }
        let gateways = server.status();
        let listener = tokio::net::TcpListener::bind(config.stream)
            .await
            .with_context(|| format!("cannot listen for gateways on {}", config.stream))?;
        let stream_addr = listener.local_addr()?;
        let (stop_stream, stopped) = tokio::sync::oneshot::channel::<()>();
        let stream_task = tokio::spawn(async move {
            if let Err(e) = server.serve(listener, async move { drop(stopped.await) }).await {
                tracing::error!("snapshot stream stopped: {e}");
            }
        });

        let admin = match config.admin {
            Some(addr) => Some(AppServer::start(
                addr,
                "oxigress-controller-admin",
                ControllerAdmin::new(
                    controller.snapshots.clone(),
                    controller.diagnostics.clone(),
                    gateways.clone(),
                    writes.is_leader(),
                    Arc::new(registry),
                ),
            )?),
            None => None,
        };
        let admin_addr = admin.as_ref().map(|a| a.addr);
        tracing::info!(
            instance = %name,
            ingress_class = %config.instance.ingress_class,
            watch_namespaces = ?config.instance.watch_namespaces,
            stream = %stream_addr,
            admin = %admin_addr.map_or_else(|| "-".to_string(), |a| a.to_string()),
            "controller started"
        );
        Ok(Self {
            stream_addr,
            admin_addr,
            snapshots: controller.snapshots.clone(),
            gateways,
            writes,
            controller,
            stop_stream: Some(stop_stream),
            stream_task,
            admin,
            _source: source,
        })
    }

    /// Stops serving: releases leadership (so another replica takes over at once), closes the stream
    /// (gateways keep their last snapshot and reconnect elsewhere) and the admin port.
    pub async fn shutdown(mut self) {
        self.writes.shutdown().await;
        if let Some(stop) = self.stop_stream.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.stream_task).await;
        if let Some(admin) = self.admin.take() {
            admin.stop().await;
        }
        self.controller.task.abort();
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        self.stream_task.abort();
        self.controller.task.abort();
    }
}
