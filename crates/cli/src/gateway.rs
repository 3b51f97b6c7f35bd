//! `oxigress gateway`: one instance's data plane in Kubernetes mode: snapshot stream from the instance's
//! controller → proxy (atomic swap) → listeners. It holds no Kubernetes credentials: everything it
//! serves, certificates included, arrives in the snapshots. While the controller is away it keeps
//! serving the last snapshot it accepted and reconnects with backoff.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use oxigress_proxy::{AdminApp, Gateway, GatewayConfig, ProxyMetrics, ProxyState};
use oxigress_stream::{subscribe, ClientOptions, ClientStatus, Subscription};
use prometheus_client::registry::Registry;
use tokio::sync::watch;

/// Everything needed to run one gateway.
#[derive(Clone)]
pub struct GatewayProcessConfig {
    /// How to reach the controller (address, instance, token, TLS).
    pub stream: ClientOptions,
    /// Listeners.
    pub listen: GatewayConfig,
}

/// A running gateway.
pub struct GatewayProcess {
    gateway: Gateway,
    subscription: Subscription,
    apply_task: tokio::task::JoinHandle<()>,
}

impl GatewayProcess {
    /// Connects to the controller (in the background) and starts the listeners. Readiness turns green
    /// with the first snapshot; until then requests get 404.
    pub fn start(mut config: GatewayProcessConfig) -> anyhow::Result<Self> {
        let name = config.stream.instance_name.clone();
        let mut registry = Registry::with_labels([("instance".into(), name.clone().into())].into_iter());
        let metrics = ProxyMetrics::register(&mut registry);
        let state = ProxyState::new(name.clone(), metrics);
        if config.stream.validate.is_none() {
            // Refuse (nack) snapshots whose references do not resolve; keep serving the previous one.
            config.stream.validate = Some(Arc::new(|snapshot: &oxigress_ir::Snapshot| {
                let problems = snapshot.validate();
                if problems.is_empty() {
                    Ok(())
                } else {
                    Err(problems.join("; "))
                }
            }));
        }
        let controller = config.stream.controller.clone();
        let subscription = subscribe(config.stream)?;
        let mut snapshots = subscription.snapshots.clone();
        let applier = state.clone();
        let apply_task = tokio::spawn(async move {
            loop {
                let next = snapshots.borrow_and_update().clone();
                if let Some(snapshot) = next {
                    applier.apply(snapshot);
                }
                if snapshots.changed().await.is_err() {
                    return;
                }
            }
        });
        let status = subscription.status.clone();
        let diagnostics = Arc::new(move || link_json(&status.borrow()));
        let admin = AdminApp::new(state.clone(), Arc::new(registry), diagnostics);
        let gateway = Gateway::start(&config.listen, state, admin)?;
        tracing::info!(
            instance = %name,
            controller = %controller,
            http = %show(gateway.http_addr),
            https = %show(gateway.https_addr),
            admin = %show(gateway.admin_addr),
            "gateway started"
        );
        Ok(Self { gateway, subscription, apply_task })
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

    /// The link to the controller.
    pub fn link(&self) -> watch::Receiver<ClientStatus> {
        self.subscription.status.clone()
    }

    /// Stops accepting, drains in-flight requests for at most `drain`, disconnects. Returns how many
    /// requests were still running.
    pub async fn shutdown(self, drain: Duration) -> usize {
        let left = self.gateway.shutdown(drain).await;
        self.apply_task.abort();
        drop(self.subscription);
        left
    }
}

fn show(addr: Option<SocketAddr>) -> String {
    addr.map_or_else(|| "-".to_string(), |a| a.to_string())
}

/// The link state as the one "diagnostic" a gateway has: shown by `/debug/diagnostics`.
fn link_json(status: &ClientStatus) -> serde_json::Value {
    let mut out = Vec::new();
    if !status.connected {
        out.push(serde_json::json!({
            "severity": "warning",
            "code": "ControllerUnreachable",
            "message": status.last_error.clone().unwrap_or_else(|| "not connected to the controller".into()),
        }));
    }
    if let Some(rejected) = &status.rejected {
        out.push(serde_json::json!({
            "severity": "error",
            "code": "SnapshotRejected",
            "message": format!("version {}: {}", rejected.version, rejected.error),
        }));
    }
    serde_json::Value::Array(out)
}
