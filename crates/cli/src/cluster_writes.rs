//! What an instance's controller writes back to the cluster, only while it is the elected leader of its
//! instance (a Lease named after the instance): Ingress status (`--enable-status`) and Events for
//! objects with problems.

use std::sync::Arc;
use std::time::Duration;

use oxigress_controller::DiagnosticsView;
use oxigress_kubernetes::{EventPublisher, LeaderElector, LeaderHandle, LeaseConfig, StatusConfig, StatusWriter};
use oxigress_sources::SourceSnapshot;
use oxigress_translate::InstanceOptions;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Settings of the cluster writes.
#[derive(Debug, Clone)]
pub struct ClusterWritesConfig {
    /// Write `status.loadBalancer` of owned Ingresses.
    pub enable_status: bool,
    /// The gateway Service whose addresses go into Ingress status (in the instance namespace).
    pub gateway_service: String,
    /// This replica's identity in the Lease (pod name; unique per replica).
    pub identity: String,
    /// How long a lease is valid after its last renewal (client-go LeaseDuration).
    pub lease_duration: Duration,
    /// The leader steps down when it could not renew for this long (client-go RenewDeadline).
    pub renew_deadline: Duration,
    /// How often the leader renews and the others try to acquire (client-go RetryPeriod).
    pub retry_period: Duration,
    /// Status is recomputed at least this often.
    pub status_resync: Duration,
}

impl ClusterWritesConfig {
    /// Production timings (15 s lease, 10 s renew deadline, 2 s retry, 10 s status resync).
    pub fn new(enable_status: bool, gateway_service: impl Into<String>, identity: impl Into<String>) -> Self {
        Self {
            enable_status,
            gateway_service: gateway_service.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            status_resync: Duration::from_secs(10),
        }
    }
}

/// The running writers.
pub struct ClusterWrites {
    leader: Option<LeaderHandle>,
    is_leader: watch::Receiver<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl ClusterWrites {
    /// Starts leader election and, under it, the status writer and the event publisher.
    pub fn start(
        client: kube::Client,
        instance: &InstanceOptions,
        config: &ClusterWritesConfig,
        source: watch::Receiver<Arc<SourceSnapshot>>,
        diagnostics: Arc<DiagnosticsView>,
    ) -> Self {
        let mut lease =
            LeaseConfig::new(instance.instance_namespace.clone(), instance.instance_name.clone(), config.identity.clone());
        lease.lease_duration = config.lease_duration;
        lease.renew_deadline = config.renew_deadline;
        lease.retry_period = config.retry_period;
        let leader = LeaderElector::spawn(client.clone(), lease);
        let is_leader = leader.is_leader.clone();
        let mut tasks = Vec::new();
        if config.enable_status {
            let mut status = StatusConfig::new(instance.clone(), config.gateway_service.clone());
            status.resync = config.status_resync;
            tasks.push(StatusWriter::new(client.clone(), status, is_leader.clone(), source.clone()).spawn());
        }
        let events = EventPublisher::new(client, &instance.instance_name, &config.identity, is_leader.clone());
        tasks.push(events.spawn(diagnostics.subscribe(), source));
        Self { leader: Some(leader), is_leader, tasks }
    }

    /// Whether this replica leads its instance.
    pub fn is_leader(&self) -> watch::Receiver<bool> {
        self.is_leader.clone()
    }

    /// Stops writing and releases the lease, so another replica takes over at once (bounded: a
    /// release the API server does not answer is given up after 5 s; the lease then expires).
    pub async fn shutdown(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Some(leader) = self.leader.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), leader.release()).await;
        }
    }
}

impl Drop for ClusterWrites {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
