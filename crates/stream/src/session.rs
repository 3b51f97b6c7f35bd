//! One gateway's subscription on the controller: check the token and the Hello, then send the current
//! snapshot and every new one while recording the gateway's acks and nacks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use oxigress_ir::Snapshot;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::proto::gateway_message::Kind;
use crate::proto::snapshot_stream_server::SnapshotStream;
use crate::proto::{GatewayMessage, Hello, SnapshotMessage};
use crate::version::Encoder;
use crate::{auth, Rejection, ServerStatus};

/// How long a new stream may take to say Hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// What every session of one server shares.
pub(crate) struct Shared {
    pub(crate) instance_name: String,
    pub(crate) token: Option<String>,
    pub(crate) snapshots: watch::Receiver<Option<Arc<Snapshot>>>,
    pub(crate) encoder: Encoder,
    pub(crate) status: ServerStatus,
    /// Becomes `true` when the server shuts down.
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) connections: AtomicU64,
}

/// The gRPC service: one session per `Subscribe` call.
pub(crate) struct Sessions {
    shared: Arc<Shared>,
}

impl Sessions {
    pub(crate) fn new(shared: Shared) -> Self {
        Self { shared: Arc::new(shared) }
    }
}

#[tonic::async_trait]
impl SnapshotStream for Sessions {
    type SubscribeStream = ReceiverStream<Result<SnapshotMessage, Status>>;

    async fn subscribe(
        &self,
        request: Request<Streaming<GatewayMessage>>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        auth::check(self.shared.token.as_deref(), request.metadata())?;
        let mut inbound = request.into_inner();
        let hello = match tokio::time::timeout(HELLO_TIMEOUT, inbound.message()).await {
            Err(_) => return Err(Status::deadline_exceeded("no Hello received")),
            Ok(Err(status)) => return Err(status),
            Ok(Ok(Some(GatewayMessage { kind: Some(Kind::Hello(hello)) }))) => hello,
            Ok(Ok(_)) => return Err(Status::invalid_argument("the first message must be a Hello")),
        };
        if hello.instance_name != self.shared.instance_name {
            return Err(Status::permission_denied(format!(
                "this controller serves instance {:?}, not {:?}",
                self.shared.instance_name, hello.instance_name
            )));
        }
        let connection = self.shared.connections.fetch_add(1, Ordering::Relaxed) + 1;
        let gateway = if hello.gateway_id.is_empty() { format!("anonymous-{connection}") } else { hello.gateway_id.clone() };
        tracing::info!(gateway, last_version = hello.last_version, "gateway subscribed");
        self.shared.status.register(&gateway, connection);
        let (tx, rx) = mpsc::channel(4);
        let session = Session { shared: self.shared.clone(), gateway, connection, tx };
        tokio::spawn(session.run(inbound, hello));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

struct Session {
    shared: Arc<Shared>,
    gateway: String,
    connection: u64,
    tx: mpsc::Sender<Result<SnapshotMessage, Status>>,
}

impl Session {
    async fn run(self, mut inbound: Streaming<GatewayMessage>, hello: Hello) {
        let mut snapshots = self.shared.snapshots.clone();
        let mut stop = self.shared.stop.clone();
        let mut sent = hello.last_version;
        let mut source_open = true;
        loop {
            let current = snapshots.borrow_and_update().clone();
            if let Some(snapshot) = current {
                if !self.send_if_new(&snapshot, &mut sent, &mut stop).await {
                    break;
                }
            }
            tokio::select! {
                changed = snapshots.changed(), if source_open => source_open = changed.is_ok(),
                message = inbound.message() => match message {
                    Ok(Some(message)) => self.record(message),
                    Ok(None) => break,
                    Err(status) => {
                        tracing::debug!(gateway = self.gateway, %status, "gateway stream failed");
                        break;
                    }
                },
                _ = stop.wait_for(|stop| *stop) => {
                    let _ = self.tx.try_send(Err(Status::unavailable("the controller is shutting down")));
                    break;
                }
                () = self.tx.closed() => break,
            }
        }
        tracing::info!(gateway = self.gateway, "gateway unsubscribed");
        self.shared.status.remove(&self.gateway, self.connection);
    }

    /// Sends `snapshot` unless it is version `sent`; false when the session is over.
    async fn send_if_new(&self, snapshot: &Arc<Snapshot>, sent: &mut String, stop: &mut watch::Receiver<bool>) -> bool {
        let message = match self.shared.encoder.encode(snapshot) {
            Ok(message) => message,
            Err(error) => {
                tracing::error!(%error, "cannot encode the snapshot; not sending it");
                return true;
            }
        };
        if message.version == *sent {
            return true;
        }
        let version = message.version.clone();
        tokio::select! {
            result = self.tx.send(Ok(message)) => if result.is_err() { return false },
            _ = stop.wait_for(|stop| *stop) => return false,
        }
        tracing::debug!(gateway = self.gateway, version, "sent snapshot");
        self.shared.status.update(&self.gateway, self.connection, |status| status.sent = Some(version.clone()));
        *sent = version;
        true
    }

    fn record(&self, message: GatewayMessage) {
        match message.kind {
            Some(Kind::Ack(ack)) => self.shared.status.update(&self.gateway, self.connection, |status| {
                if status.rejected.as_ref().is_some_and(|rejected| rejected.version != ack.version) {
                    status.rejected = None;
                }
                status.acked = Some(ack.version);
            }),
            Some(Kind::Nack(nack)) => {
                tracing::warn!(gateway = self.gateway, version = nack.version, error = nack.error, "gateway rejected a snapshot");
                let rejected = Rejection { version: nack.version, error: nack.error };
                self.shared.status.update(&self.gateway, self.connection, |status| status.rejected = Some(rejected));
            }
            Some(Kind::Hello(_)) | None => {
                tracing::debug!(gateway = self.gateway, "ignoring an unexpected message");
            }
        }
    }
}
