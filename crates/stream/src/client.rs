//! The gateway end: keeps one subscription to the controller alive (reconnecting with backoff) and
//! publishes the received snapshots on a watch channel for the proxy, the last good one all the time.

use std::sync::Arc;
use std::time::Duration;

use oxigress_ir::Snapshot;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Endpoint;
use tonic::Request;

use crate::backoff::Delays;
use crate::proto::gateway_message::Kind;
use crate::proto::snapshot_stream_client::SnapshotStreamClient;
use crate::proto::{GatewayMessage, Hello};
use crate::receive::Receiver;
use crate::{auth, Backoff, ClientTls, Rejection, StreamError};

/// How long the controller may take to accept or refuse a Hello.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// A check the gateway runs before accepting a snapshot (e.g. "does the proxy compile it?"); an `Err` is
/// sent back as a Nack and the previous snapshot stays.
pub type Validator = Arc<dyn Fn(&Snapshot) -> Result<(), String> + Send + Sync>;

/// How to reach the controller.
#[derive(Clone)]
pub struct ClientOptions {
    /// `HOST:PORT` (scheme from `tls`) or `http://…` / `https://…`.
    pub controller: String,
    /// The instance this gateway serves (`--instance-name`); the controller must serve the same.
    pub instance_name: String,
    /// This gateway's id in the controller's status (e.g. the pod name).
    pub gateway_id: String,
    /// The shared bearer token, if the controller requires one.
    pub token: Option<String>,
    /// TLS to the controller (`https`).
    pub tls: Option<ClientTls>,
    /// The validation hook.
    pub validate: Option<Validator>,
    /// Reconnect delays.
    pub backoff: Backoff,
}

impl ClientOptions {
    /// Options with no token, TLS or hook, the default backoff and a random gateway id.
    pub fn new(controller: impl Into<String>, instance_name: impl Into<String>) -> Self {
        let instance_name = instance_name.into();
        let gateway_id = format!("{instance_name}-{:08x}", fastrand::Rng::new().u32(..));
        Self {
            controller: controller.into(),
            instance_name,
            gateway_id,
            token: None,
            tls: None,
            validate: None,
            backoff: Backoff::default(),
        }
    }
}

/// The gateway's link state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientStatus {
    /// A stream to the controller is open.
    pub connected: bool,
    /// The version published now.
    pub version: Option<String>,
    /// The last rejected snapshot, cleared when a later one is accepted.
    pub rejected: Option<Rejection>,
    /// Why the last stream ended or could not start (cleared on connect).
    pub last_error: Option<String>,
}

/// A running subscription; dropping it stops the task (the receivers then see no more changes).
pub struct Subscription {
    /// The published snapshots (`None` until the first one is accepted); hand it to the proxy.
    pub snapshots: watch::Receiver<Option<Arc<Snapshot>>>,
    /// The link state, for readiness and tests.
    pub status: watch::Receiver<ClientStatus>,
    task: JoinHandle<()>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts subscribing (inside a tokio runtime). Fails only on invalid options; an unreachable
/// controller is retried for as long as the [`Subscription`] lives.
pub fn subscribe(options: ClientOptions) -> Result<Subscription, StreamError> {
    let endpoint = endpoint(&options)?;
    let bearer = options.token.as_deref().map(auth::bearer).transpose()?;
    let (snapshots_tx, snapshots) = watch::channel(None);
    let (status_tx, status) = watch::channel(ClientStatus::default());
    let link = Link {
        endpoint,
        bearer,
        gateway_id: options.gateway_id,
        delays: Delays::new(options.backoff),
        receiver: Receiver {
            instance_name: options.instance_name,
            validate: options.validate,
            snapshots: snapshots_tx,
            status: status_tx,
        },
    };
    Ok(Subscription { snapshots, status, task: tokio::spawn(link.run()) })
}

fn endpoint(options: &ClientOptions) -> Result<Endpoint, StreamError> {
    let uri = if options.controller.contains("://") {
        options.controller.clone()
    } else {
        let scheme = if options.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", options.controller)
    };
    let invalid = |reason: String| StreamError::Address { address: options.controller.clone(), reason };
    let mut endpoint = Endpoint::from_shared(uri)
        .map_err(|error| invalid(error.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true);
    if let Some(tls) = &options.tls {
        endpoint = endpoint.tls_config(tls.config())?;
    }
    Ok(endpoint)
}

struct Link {
    endpoint: Endpoint,
    bearer: Option<AsciiMetadataValue>,
    gateway_id: String,
    delays: Delays,
    receiver: Receiver,
}

impl Link {
    async fn run(mut self) {
        let controller = self.endpoint.uri().to_string();
        loop {
            let result = self.stream().await;
            let error = result.err().map(|error| error.to_string());
            let was_connected = self.receiver.status.borrow().connected;
            match &error {
                Some(error) if was_connected => tracing::warn!(controller, error, "lost the controller"),
                Some(error) => tracing::warn!(controller, error, "cannot reach the controller"),
                None => tracing::info!(controller, "the controller closed the stream"),
            }
            self.receiver.status.send_modify(|status| {
                status.connected = false;
                status.last_error = error;
            });
            tokio::time::sleep(self.delays.next_delay()).await;
        }
    }

    /// One stream, from connect to its end.
    async fn stream(&mut self) -> Result<(), StreamError> {
        let channel = self.endpoint.connect().await?;
        let (outbound, outbound_rx) = mpsc::unbounded_channel();
        let hello = Hello {
            instance_name: self.receiver.instance_name.clone(),
            gateway_id: self.gateway_id.clone(),
            last_version: self.receiver.version(),
        };
        // The receiving half is alive until the request ends, so sends cannot fail before that.
        let _ = outbound.send(GatewayMessage { kind: Some(Kind::Hello(hello)) });
        let mut request = Request::new(UnboundedReceiverStream::new(outbound_rx));
        if let Some(bearer) = &self.bearer {
            request.metadata_mut().insert("authorization", bearer.clone());
        }
        let answer = tokio::time::timeout(ANSWER_TIMEOUT, SnapshotStreamClient::new(channel).subscribe(request)).await;
        let answer = answer.map_err(|_| tonic::Status::deadline_exceeded("the controller did not answer the Hello"))?;
        let mut inbound = answer?.into_inner();
        self.delays.reset();
        self.receiver.status.send_modify(|status| {
            status.connected = true;
            status.last_error = None;
        });
        tracing::info!(controller = %self.endpoint.uri(), "subscribed to the controller");
        while let Some(message) = inbound.message().await? {
            if outbound.send(self.receiver.receive(message)).is_err() {
                break;
            }
        }
        Ok(())
    }
}
