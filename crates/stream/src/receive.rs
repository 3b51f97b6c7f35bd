//! The gateway's judgement of each received snapshot: decode, check the instance, run the validation hook;
//! publish and Ack what passes, Nack the rest and keep serving the previous snapshot.

use std::sync::Arc;

use oxigress_ir::Snapshot;
use tokio::sync::watch;

use crate::proto::gateway_message::Kind;
use crate::proto::{Ack, GatewayMessage, Nack, SnapshotMessage};
use crate::{ClientStatus, Rejection, Validator};

/// The gateway's published state.
pub(crate) struct Receiver {
    pub(crate) instance_name: String,
    pub(crate) validate: Option<Validator>,
    pub(crate) snapshots: watch::Sender<Option<Arc<Snapshot>>>,
    pub(crate) status: watch::Sender<ClientStatus>,
}

impl Receiver {
    /// The version now served ("" for none), for the Hello.
    pub(crate) fn version(&self) -> String {
        self.status.borrow().version.clone().unwrap_or_default()
    }

    /// Handles one snapshot and returns the answer for the controller.
    pub(crate) fn receive(&self, message: SnapshotMessage) -> GatewayMessage {
        let version = message.version.clone();
        match self.accept(&message) {
            Ok(snapshot) => {
                if self.status.borrow().version.as_deref() != Some(&version) {
                    self.snapshots.send_replace(Some(Arc::new(snapshot)));
                    tracing::info!(version, "applied a snapshot from the controller");
                }
                self.status.send_modify(|status| {
                    status.version = Some(version.clone());
                    status.rejected = None;
                });
                GatewayMessage { kind: Some(Kind::Ack(Ack { version })) }
            }
            Err(error) => {
                tracing::warn!(version, error, "rejected a snapshot from the controller; keeping the previous one");
                self.status.send_modify(|status| {
                    status.rejected = Some(Rejection { version: version.clone(), error: error.clone() });
                });
                GatewayMessage { kind: Some(Kind::Nack(Nack { version, error })) }
            }
        }
    }

    fn accept(&self, message: &SnapshotMessage) -> Result<Snapshot, String> {
        let snapshot: Snapshot = serde_json::from_slice(&message.snapshot_json)
            .map_err(|error| format!("undecodable snapshot: {error}"))?;
        if snapshot.instance != self.instance_name || message.instance != self.instance_name {
            return Err(format!(
                "snapshot for instance {:?}, this gateway serves {:?}",
                snapshot.instance, self.instance_name
            ));
        }
        if let Some(validate) = &self.validate {
            validate(&snapshot)?;
        }
        Ok(snapshot)
    }
}
