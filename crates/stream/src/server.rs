//! The controller end: serves the instance's published snapshots to every subscribed gateway.

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use oxigress_ir::Snapshot;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;

use crate::proto::snapshot_stream_server::SnapshotStreamServer;
use crate::session::{Sessions, Shared};
use crate::version::Encoder;
use crate::{ServerStatus, ServerTls, StreamError};

/// The snapshot stream server of one instance (`oxigress controller`).
pub struct SnapshotServer {
    instance_name: String,
    snapshots: watch::Receiver<Option<Arc<Snapshot>>>,
    token: Option<String>,
    tls: Option<ServerTls>,
    status: ServerStatus,
}

impl SnapshotServer {
    /// A server for the gateways of `instance_name`, serving what `snapshots` publishes
    /// (`Controller::snapshots`).
    pub fn new(instance_name: impl Into<String>, snapshots: watch::Receiver<Option<Arc<Snapshot>>>) -> Self {
        Self { instance_name: instance_name.into(), snapshots, token: None, tls: None, status: ServerStatus::default() }
    }

    /// Requires `authorization: Bearer <token>` from gateways.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Serves over TLS (mTLS when `tls.client_ca_pem` is set).
    pub fn with_tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The connected gateways (valid before, during and after [`serve`](Self::serve)).
    pub fn status(&self) -> ServerStatus {
        self.status.clone()
    }

    /// Serves on `listener` until `shutdown` completes; then ends every subscription (the gateways keep
    /// their snapshots and reconnect) and returns.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), StreamError> {
        let (stop_tx, stop) = watch::channel(false);
        let sessions = Sessions::new(Shared {
            instance_name: self.instance_name,
            token: self.token,
            snapshots: self.snapshots,
            encoder: Encoder::default(),
            status: self.status,
            stop,
            connections: AtomicU64::new(0),
        });
        let mut builder = tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(Duration::from_secs(20)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)));
        if let Some(tls) = &self.tls {
            builder = builder.tls_config(tls.config())?;
        }
        let shutdown = async move {
            shutdown.await;
            stop_tx.send_replace(true);
        };
        builder
            .add_service(SnapshotStreamServer::new(sessions))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
            .await?;
        Ok(())
    }
}
