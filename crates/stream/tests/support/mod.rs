//! Shared test helpers: snapshots, a controller-side server on 127.0.0.1, bounded waits on watch channels.
#![allow(dead_code, clippy::unwrap_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use oxigress_ir::{Cluster, Endpoint, Snapshot};
use oxigress_stream::{ServerStatus, SnapshotServer, StreamError};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// Every wait in these tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(10);

/// A snapshot of `instance` with one cluster whose endpoint port is `port` (so versions differ by port).
pub fn snapshot(instance: &str, port: u16) -> Arc<Snapshot> {
    let mut snapshot = Snapshot { instance: instance.to_string(), ..Snapshot::default() };
    let cluster = Cluster { id: "default/web:80".into(), endpoints: vec![Endpoint { ip: "127.0.0.1".into(), port }], upstream: Default::default() };
    snapshot.clusters.insert(cluster.id.clone(), std::sync::Arc::new(cluster));
    Arc::new(snapshot)
}

/// The port of the snapshot built by [`snapshot`].
pub fn port_of(snapshot: &Option<Arc<Snapshot>>) -> Option<u16> {
    snapshot.as_ref().and_then(|s| s.clusters.values().next()).map(|c| c.endpoints[0].port)
}

/// A running server with its publishing side.
pub struct Running {
    pub addr: SocketAddr,
    pub status: ServerStatus,
    pub publish: watch::Sender<Option<Arc<Snapshot>>>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), StreamError>>,
}

/// Starts a server for `instance` on `listener`, configured by `configure`, serving `first`.
pub fn start(
    listener: TcpListener,
    instance: &str,
    first: Arc<Snapshot>,
    configure: impl FnOnce(SnapshotServer) -> SnapshotServer,
) -> Running {
    let addr = listener.local_addr().unwrap();
    let (publish, snapshots) = watch::channel(Some(first));
    let server = configure(SnapshotServer::new(instance, snapshots));
    let status = server.status();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));
    Running { addr, status, publish, stop, task }
}

/// Binds 127.0.0.1 on an ephemeral port.
pub async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

impl Running {
    /// Shuts the server down and waits (bounded) until `serve` returned.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        within(self.task).await.unwrap().unwrap();
    }
}

/// `future`, failing the test if it takes longer than [`WAIT`].
pub async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(WAIT, future).await.expect("timed out")
}

/// Waits (bounded) until `rx` holds a value satisfying `condition`, and returns it.
pub async fn wait_for<T: Clone>(rx: &mut watch::Receiver<T>, condition: impl FnMut(&T) -> bool) -> T {
    within(rx.wait_for(condition)).await.expect("sender dropped").clone()
}
