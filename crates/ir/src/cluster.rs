//! Upstream clusters: a Service port and the endpoints behind it.

use serde::{Deserialize, Serialize};

/// `ns/service:port` (the Service port number).
pub type ClusterId = String;

/// One Service port with its ready endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    /// `ns/service:port`.
    pub id: ClusterId,
    /// Ready endpoints, sorted and de-duplicated; empty means requests get 503.
    pub endpoints: Vec<Endpoint>,
}

/// One upstream address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Endpoint {
    /// IP address.
    pub ip: String,
    /// Port.
    pub port: u16,
}
