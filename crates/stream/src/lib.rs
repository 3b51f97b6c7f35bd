//! # oxigress-stream: the link between step (6) and the data plane in Kubernetes mode.
//!
//! `oxigress controller` publishes the IR [`Snapshot`]s of its controller loop (`Controller::snapshots`) with a
//! [`SnapshotServer`]; each `oxigress gateway --controller ADDR` receives them with [`subscribe`] and hands
//! the resulting watch channel to its proxy, exactly as the in-process controller does in standalone mode.
//!
//! Protocol (`proto/oxigress/stream/v1/stream.proto`): one bidirectional gRPC stream per gateway. The
//! gateway says Hello (instance, id, the version it already has); the controller sends the current snapshot
//! (unless the gateway has it) and every later one; the gateway answers each with Ack or Nack and keeps
//! serving its last good snapshot when it rejects one or loses the controller. Versions are content hashes
//! ([`snapshot_version`]), so a restarted controller re-serves the same version for the same input.
//! Optional bearer token and TLS (mTLS) on the link; certificates for the data plane travel in the snapshot.
//!
//! [`Snapshot`]: oxigress_ir::Snapshot

mod auth;
mod backoff;
mod client;
mod error;
mod receive;
mod server;
mod session;
mod status;
mod tls;
mod version;

pub use backoff::Backoff;
pub use client::{subscribe, ClientOptions, ClientStatus, Subscription, Validator};
pub use error::StreamError;
pub use server::SnapshotServer;
pub use status::{GatewayStatus, Rejection, ServerStatus};
pub use tls::{ClientTls, ServerTls};
pub use version::snapshot_version;

/// The generated protocol types, client and server (`oxigress.stream.v1`).
#[allow(clippy::all, clippy::pedantic, clippy::unwrap_used, missing_docs)]
pub mod proto {
    tonic::include_proto!("oxigress.stream.v1");
}
