//! The Ingress status writer: the leader's write-back of the gateway addresses into
//! `Ingress.status.loadBalancer` (Higress `--enableStatus`).
//!
//! A pass runs on every new source snapshot, when leadership is gained, and every `resync` (which also
//! picks up gateway Service changes: its addresses are fetched afresh each pass). While the replica is
//! not the leader nothing is fetched or written. Each pass fetches the addresses
//! ([`fetch_gateway_addresses`]), plans the writes ([`plan_status`]) and makes them as merge patches on
//! the `/status` subresource, conditional on the resourceVersion the plan saw: a 409 means the Ingress
//! changed meanwhile, and the snapshot that brings the change triggers the next pass.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use oxigress_sources::SourceSnapshot;
use oxigress_translate::InstanceOptions;
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::addresses::{address_key, fetch_gateway_addresses, AddressError, AddressKey};
use crate::leader::is_leading;
use crate::status_plan::{plan_status, StatusUpdate};

/// What the status writer needs to know about its instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusConfig {
    /// The instance: its selection rules and namespace (where the gateway Service lives).
    pub options: InstanceOptions,
    /// Name of the gateway Service in the instance namespace (`--gateway-service`).
    pub gateway_service: String,
    /// Re-run a pass this often even when nothing else triggers one (Higress: 10 s).
    pub resync: Duration,
}

impl StatusConfig {
    /// The config for `options` and its gateway Service, with a 10 s resync.
    pub fn new(options: InstanceOptions, gateway_service: impl Into<String>) -> Self {
        Self { options, gateway_service: gateway_service.into(), resync: Duration::from_secs(10) }
    }
}

/// Why a status pass could not run.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The gateway's addresses could not be read.
    #[error(transparent)]
    Addresses(#[from] AddressError),
}

/// Writes Ingress status for one instance replica, only while it leads.
pub struct StatusWriter {
    client: Client,
    config: StatusConfig,
    is_leader: watch::Receiver<bool>,
    source: watch::Receiver<Arc<SourceSnapshot>>,
    /// Every address this writer has published: stale ones are removed when the address changes.
    published: BTreeSet<AddressKey>,
}

impl StatusWriter {
    /// A writer over `source` (the objects the instance's source holds), gated by `is_leader` (from
    /// [`crate::LeaderHandle`]).
    pub fn new(
        client: Client,
        config: StatusConfig,
        is_leader: watch::Receiver<bool>,
        source: watch::Receiver<Arc<SourceSnapshot>>,
    ) -> Self {
        Self { client, config, is_leader, source, published: BTreeSet::new() }
    }

    /// Runs passes until the source or the elector stops (an aborted elector stops its writer).
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(mut self) {
        loop {
            if let Err(e) = self.sync().await {
                tracing::warn!(instance = %self.config.options.instance_name, error = %e, "Ingress status pass failed");
            }
            tokio::select! {
                changed = self.source.changed() => if changed.is_err() { break },
                changed = self.is_leader.changed() => if changed.is_err() { break },
                _ = tokio::time::sleep(self.config.resync) => {}
            }
        }
        tracing::debug!(instance = %self.config.options.instance_name, "Ingress status writer stopped");
    }

    /// One pass, if this replica leads: returns how many Ingresses were written.
    pub async fn sync(&mut self) -> Result<usize, StatusError> {
        self.is_leader.borrow_and_update();
        if !is_leading(&self.is_leader) {
            return Ok(0);
        }
        let options = &self.config.options;
        let addresses =
            fetch_gateway_addresses(&self.client, &options.instance_namespace, &self.config.gateway_service).await?;
        let snapshot = Arc::clone(&self.source.borrow_and_update());
        let plan = plan_status(&snapshot.resources, options, &addresses, &self.published);
        self.published.extend(addresses.iter().map(address_key));
        for (ingress, why) in &plan.skipped {
            tracing::debug!(instance = %options.instance_name, %ingress, reason = ?why, "Ingress status unchanged");
        }
        let mut written = 0;
        for update in &plan.updates {
            if !is_leading(&self.is_leader) {
                tracing::debug!(instance = %options.instance_name, "lost leadership; pass abandoned");
                break;
            }
            written += usize::from(self.write(update).await);
        }
        Ok(written)
    }

    /// Makes one write; `true` when it succeeded.
    async fn write(&self, update: &StatusUpdate) -> bool {
        let key = &update.ingress;
        let api: Api<Ingress> = Api::namespaced(self.client.clone(), &key.namespace);
        let entries = if update.entries.is_empty() { json!(null) } else { json!(update.entries) };
        let mut body = json!({"status": {"loadBalancer": {"ingress": entries}}});
        if let Some(rv) = &update.resource_version {
            body["metadata"] = json!({"resourceVersion": rv});
        }
        let addresses: Vec<String> = update.entries.iter().map(display).collect();
        let instance = &self.config.options.instance_name;
        match api.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&body)).await {
            Ok(_) => {
                tracing::info!(%instance, ingress = %key, owned = update.owned, ?addresses, "updated Ingress status");
                true
            }
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => {
                tracing::debug!(%instance, ingress = %key, code = s.code, "Ingress changed meanwhile; next pass");
                false
            }
            Err(e) => {
                tracing::warn!(%instance, ingress = %key, error = %e, "cannot update Ingress status");
                false
            }
        }
    }
}

/// `ip`, `hostname` or `ip/hostname` for logs.
fn display(entry: &k8s_openapi::api::networking::v1::IngressLoadBalancerIngress) -> String {
    match (&entry.ip, &entry.hostname) {
        (Some(ip), Some(host)) => format!("{ip}/{host}"),
        (Some(s), None) | (None, Some(s)) => s.clone(),
        (None, None) => String::new(),
    }
}
