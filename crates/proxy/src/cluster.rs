//! Compiled clusters: resolved socket addresses and a round-robin cursor (lock-free).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use oxigress_ir::Cluster;

/// One upstream cluster as the request path uses it.
#[derive(Debug)]
pub struct ClusterRuntime {
    /// `ns/service:port`.
    pub id: String,
    peers: Vec<SocketAddr>,
    next: AtomicUsize,
}

impl ClusterRuntime {
    /// Compiles an IR cluster (endpoints that are not IP:port are skipped; translate never emits them).
    pub fn compile(cluster: &Cluster) -> Self {
        let peers = cluster
            .endpoints
            .iter()
            .filter_map(|e| e.ip.parse().ok().map(|ip| SocketAddr::new(ip, e.port)))
            .collect();
        Self { id: cluster.id.clone(), peers, next: AtomicUsize::new(0) }
    }

    /// Whether the cluster has any endpoint.
    pub fn has_peers(&self) -> bool {
        !self.peers.is_empty()
    }

    /// How many endpoints the cluster has.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// The next endpoint, round robin.
    pub fn pick(&self) -> Option<SocketAddr> {
        if self.peers.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.peers.len();
        Some(self.peers[i])
    }
}
