//! The last step before the proxy, shared by `standalone` and `gateway`: every snapshot published on a
//! watch channel (by the in-process controller or by the stream from a remote one) is applied to the
//! proxy state with one atomic swap.

use std::net::SocketAddr;
use std::sync::Arc;

use oxigress_ir::Snapshot;
use oxigress_proxy::ProxyState;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Applies the snapshot `snapshots` holds now (before returning, so a present one is live at once), then
/// every later one, until the sender is gone.
pub fn apply_snapshots(state: Arc<ProxyState>, mut snapshots: watch::Receiver<Option<Arc<Snapshot>>>) -> JoinHandle<()> {
    if let Some(first) = snapshots.borrow_and_update().clone() {
        state.apply(first);
    }
    tokio::spawn(async move {
        while snapshots.changed().await.is_ok() {
            let next = snapshots.borrow_and_update().clone();
            if let Some(snapshot) = next {
                state.apply(snapshot);
            }
        }
    })
}

/// A bound address for the `started` log lines (`-` when the listener is off).
pub fn show_addr(addr: Option<SocketAddr>) -> String {
    addr.map_or_else(|| "-".to_string(), |a| a.to_string())
}
