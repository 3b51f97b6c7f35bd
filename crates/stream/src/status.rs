//! The controller's view of its gateways: per connected gateway, what was sent, acknowledged and rejected.
//! Sessions update it; `/debug` pages, metrics and tests read or watch it.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::watch;

/// A snapshot version a gateway (or this gateway) rejected, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The rejected version.
    pub version: String,
    /// The gateway's error.
    pub error: String,
}

/// One connected gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayStatus {
    /// Which subscription this is (grows with every new stream, so a reconnect shows).
    pub connection: u64,
    /// The last version sent to the gateway.
    pub sent: Option<String>,
    /// The last version it acknowledged (what it serves).
    pub acked: Option<String>,
    /// Its last rejection, cleared when it acknowledges a later version.
    pub rejected: Option<Rejection>,
}

/// Connected gateways by gateway id (a cheap, cloneable handle).
#[derive(Clone)]
pub struct ServerStatus {
    gateways: Arc<watch::Sender<BTreeMap<String, GatewayStatus>>>,
}

impl Default for ServerStatus {
    fn default() -> Self {
        Self { gateways: Arc::new(watch::Sender::new(BTreeMap::new())) }
    }
}

impl ServerStatus {
    /// The connected gateways now.
    pub fn connected(&self) -> BTreeMap<String, GatewayStatus> {
        self.gateways.borrow().clone()
    }

    /// A receiver that sees every change (to wait for an ack).
    pub fn watch(&self) -> watch::Receiver<BTreeMap<String, GatewayStatus>> {
        self.gateways.subscribe()
    }

    /// Starts tracking a new connection of `gateway` (replacing an older one).
    pub(crate) fn register(&self, gateway: &str, connection: u64) {
        self.gateways.send_modify(|gateways| {
            gateways.insert(gateway.to_string(), GatewayStatus { connection, ..GatewayStatus::default() });
        });
    }

    /// Applies `change` to `gateway`'s entry if it still belongs to `connection`.
    pub(crate) fn update(&self, gateway: &str, connection: u64, change: impl FnOnce(&mut GatewayStatus)) {
        self.gateways.send_if_modified(|gateways| match gateways.get_mut(gateway) {
            Some(entry) if entry.connection == connection => {
                change(entry);
                true
            }
            _ => false,
        });
    }

    /// Forgets `gateway` unless a newer connection of it took over.
    pub(crate) fn remove(&self, gateway: &str, connection: u64) {
        self.gateways.send_if_modified(|gateways| {
            let ours = gateways.get(gateway).is_some_and(|entry| entry.connection == connection);
            if ours {
                gateways.remove(gateway);
            }
            ours
        });
    }
}
