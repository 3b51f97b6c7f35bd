//! `oxigress standalone`: one gateway instance over a manifest directory, in one process:
//! directory watch → controller (select + translate) → proxy (atomic swap) → listeners.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use oxigress_controller::{Controller, ControllerMetrics};

use crate::apply::{apply_snapshots, show_addr};
use oxigress_proxy::{AdminApp, Gateway, GatewayConfig, ProxyMetrics, ProxyState};
use oxigress_sources::{watch_dir, DirWatch};
use oxigress_translate::InstanceOptions;
use prometheus_client::registry::Registry;

/// Everything needed to run one standalone instance.
#[derive(Debug, Clone)]
pub struct StandaloneConfig {
    /// The manifest directory.
    pub manifests: PathBuf,
    /// What the instance owns.
    pub instance: InstanceOptions,
    /// Listeners.
    pub listen: GatewayConfig,
}

/// A running standalone instance.
pub struct Instance {
    gateway: Gateway,
    controller: Controller,
    apply_task: tokio::task::JoinHandle<()>,
    watch: DirWatch,
}

impl Instance {
    /// Starts the instance on the current tokio runtime. The first configuration is live when this
    /// returns (readiness is green).
    pub fn start(config: StandaloneConfig) -> anyhow::Result<Self> {
        let name = config.instance.instance_name.clone();
        let mut registry = Registry::with_labels([("instance".into(), name.clone().into())].into_iter());
        let controller_metrics = ControllerMetrics::register(&mut registry);
        let proxy_metrics = ProxyMetrics::register(&mut registry);
        let (source, watch) = watch_dir(&config.manifests)?;
        let controller = Controller::spawn(config.instance.clone(), source, controller_metrics);
        let state = ProxyState::new(name, proxy_metrics);
        let apply_task = apply_snapshots(state.clone(), controller.snapshots.clone());
        let diagnostics = controller.diagnostics.clone();
        let admin = AdminApp::new(state.clone(), Arc::new(registry), Arc::new(move || diagnostics.to_json()));
        let gateway = Gateway::start(&config.listen, state, admin)?;
        tracing::info!(
            instance = %config.instance.instance_name,
            ingress_class = %config.instance.ingress_class,
            http = %show_addr(gateway.http_addr),
            https = %show_addr(gateway.https_addr),
            admin = %show_addr(gateway.admin_addr),
            manifests = %config.manifests.display(),
            "instance started"
        );
        Ok(Self { gateway, controller, apply_task, watch })
    }

    /// Bound HTTP address.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.gateway.http_addr
    }

    /// Bound HTTPS address.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.gateway.https_addr
    }

    /// Bound admin address.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.gateway.admin_addr
    }

    /// The proxy state (live runtime, readiness).
    pub fn proxy(&self) -> &Arc<ProxyState> {
        &self.gateway.state
    }

    /// Re-reads the manifest directory now (`SIGHUP`); requests in flight are never interrupted.
    pub fn reload(&self) {
        self.watch.reload();
    }

    /// Stops accepting, drains in-flight requests for at most `drain`, stops the loops. Returns how many
    /// requests were still running.
    pub async fn shutdown(self, drain: Duration) -> usize {
        let left = self.gateway.shutdown(drain).await;
        self.controller.task.abort();
        self.apply_task.abort();
        left
    }
}
