//! Compiled clusters: resolved endpoints, the load balancer (round robin, least requests, random,
//! consistent hash over a ketama ring) and each endpoint's passive health (outlier detection). Everything
//! the request path touches is atomics: no lock, no allocation.
//!
//! Passive health follows Envoy's outlier detection defaults (`consecutive_5xx: 5`, `base_ejection_time:
//! 30s`, ejection time growing with each ejection up to `max_ejection_time: 300s`): an endpoint with
//! [`EJECT_AFTER`] consecutive failures (connect errors, resets, 5xx answers) is skipped by the picker
//! until its ejection ends. The last endpoint not ejected is never ejected. Health is kept per
//! `(cluster, address)` across snapshots ([`ClusterRuntime::compile`] takes the previous runtime's).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxigress_ir::{Cluster, CookieAffinity, HashKey, LoadBalance};
use pingora_ketama::{Bucket, Continuum};

use crate::upstream::UpstreamConnect;

/// Consecutive failures that eject an endpoint (Envoy `consecutive_5xx` default).
pub const EJECT_AFTER: u32 = 5;
/// First ejection time (Envoy `base_ejection_time` default); the n-th ejection in a row lasts n times this.
pub const BASE_EJECTION: Duration = Duration::from_secs(30);
/// Longest ejection (Envoy `max_ejection_time` default).
const MAX_EJECTION: Duration = Duration::from_secs(300);
/// Ring positions tried before a hash pick falls back to scanning.
const RING_PROBES: usize = 64;

/// Passive health and load of one endpoint; shared by every snapshot that has the endpoint.
#[derive(Debug)]
pub struct EndpointHealth {
    epoch: Instant,
    consecutive_failures: AtomicU32,
    /// Milliseconds since `epoch` until which the endpoint is ejected; 0 = not ejected.
    ejected_until: AtomicU64,
    ejections: AtomicU32,
    /// Requests in flight (least-request balancing).
    active: AtomicUsize,
}

impl EndpointHealth {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            consecutive_failures: AtomicU32::new(0),
            ejected_until: AtomicU64::new(0),
            ejections: AtomicU32::new(0),
            active: AtomicUsize::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether the endpoint is ejected right now (reads the clock only while an ejection is recorded).
    pub fn is_ejected(&self) -> bool {
        let until = self.ejected_until.load(Ordering::Relaxed);
        until != 0 && self.now_ms() < until
    }
}

/// One endpoint of a cluster.
#[derive(Debug)]
pub struct EndpointRuntime {
    /// Address.
    pub addr: SocketAddr,
    /// Passive health and load.
    pub health: Arc<EndpointHealth>,
}

enum Balancer {
    RoundRobin,
    LeastConn,
    Random,
    Hash { key: HashSource, ring: Continuum, index: HashMap<SocketAddr, usize> },
    Cookie { affinity: CookieAffinity, ring: Continuum, index: HashMap<SocketAddr, usize> },
}

/// What a consistent-hash balancer hashes ([`HashKey`], with header names parsed once per snapshot).
pub enum HashSource {
    /// The path with query (`:path`, `$request_uri`).
    Path,
    /// The host (`:authority`, `$host`).
    Authority,
    /// A request header; `None` when the name is not a valid header name (no request has it).
    Header(Option<http::HeaderName>),
    /// A query parameter.
    Query(String),
    /// The client's address.
    SourceIp,
}

impl HashSource {
    fn new(key: &HashKey) -> Self {
        match key {
            HashKey::Header(name) if name == ":path" => Self::Path,
            HashKey::Header(name) if name == ":authority" => Self::Authority,
            HashKey::Header(name) => Self::Header(http::HeaderName::from_bytes(name.as_bytes()).ok()),
            HashKey::Query(name) => Self::Query(name.clone()),
            HashKey::SourceIp => Self::SourceIp,
        }
    }
}

/// One upstream cluster as the request path uses it.
pub struct ClusterRuntime {
    /// `ns/service:port`.
    pub id: String,
    endpoints: Vec<EndpointRuntime>,
    balancer: Balancer,
    /// Round-robin cursor, and the state of the random generator.
    next: AtomicUsize,
    random: AtomicU64,
    /// How to connect (protocol, TLS).
    pub connect: UpstreamConnect,
}

/// What a pick may use from the request.
#[derive(Debug, Default, Clone, Copy)]
pub struct PickHint {
    /// The request's hash (consistent-hash balancers); `None` = no key, balanced as round robin.
    pub hash: Option<u64>,
    /// Endpoint indexes (mod 128) already tried by this request.
    pub tried: u128,
}

impl ClusterRuntime {
    /// Compiles an IR cluster (endpoints that are not IP:port are skipped; translate never emits them),
    /// keeping the health of endpoints `previous` (the same cluster in the last runtime) already had.
    pub fn compile(cluster: &Cluster, previous: Option<&ClusterRuntime>, connect: UpstreamConnect) -> Self {
        let known: HashMap<SocketAddr, &Arc<EndpointHealth>> =
            previous.map(|p| p.endpoints.iter().map(|e| (e.addr, &e.health)).collect()).unwrap_or_default();
        let endpoints: Vec<EndpointRuntime> = cluster
            .endpoints
            .iter()
            .filter_map(|e| e.ip.parse().ok().map(|ip| SocketAddr::new(ip, e.port)))
            .map(|addr| {
                let health = known.get(&addr).map_or_else(|| Arc::new(EndpointHealth::new()), |&h| h.clone());
                EndpointRuntime { addr, health }
            })
            .collect();
        let ring = || {
            let buckets: Vec<Bucket> = endpoints.iter().map(|e| Bucket::new(e.addr, 1)).collect();
            let index = endpoints.iter().enumerate().map(|(i, e)| (e.addr, i)).collect();
            (Continuum::new(&buckets), index)
        };
        let balancer = match &cluster.upstream.load_balance {
            LoadBalance::RoundRobin => Balancer::RoundRobin,
            LoadBalance::LeastConn => Balancer::LeastConn,
            LoadBalance::Random => Balancer::Random,
            LoadBalance::Hash { key } => {
                let (ring, index) = ring();
                Balancer::Hash { key: HashSource::new(key), ring, index }
            }
            LoadBalance::Cookie(affinity) => {
                let (ring, index) = ring();
                Balancer::Cookie { affinity: affinity.clone(), ring, index }
            }
        };
        let seed = cluster.id.bytes().fold(0x9e37_79b9_7f4a_7c15_u64, |h, b| h.rotate_left(5) ^ u64::from(b));
        Self {
            id: cluster.id.clone(),
            endpoints,
            balancer,
            next: AtomicUsize::new(0),
            random: AtomicU64::new(seed),
            connect,
        }
    }

    /// Whether the cluster has any endpoint.
    pub fn has_peers(&self) -> bool {
        !self.endpoints.is_empty()
    }

    /// How many endpoints the cluster has.
    pub fn peer_count(&self) -> usize {
        self.endpoints.len()
    }

    /// The endpoint at `index`.
    pub fn endpoint(&self, index: usize) -> Option<&EndpointRuntime> {
        self.endpoints.get(index)
    }

    /// The hash key of a consistent-hash balancer.
    pub fn hash_key(&self) -> Option<&HashSource> {
        match &self.balancer {
            Balancer::Hash { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The cookie of a cookie-affinity balancer.
    pub fn affinity(&self) -> Option<&CookieAffinity> {
        match &self.balancer {
            Balancer::Cookie { affinity, .. } => Some(affinity),
            _ => None,
        }
    }

    /// Picks an endpoint: one neither ejected nor already tried by this request if there is one, else one
    /// not tried, else any. Returns its index.
    pub fn pick(&self, hint: PickHint) -> Option<usize> {
        let n = self.endpoints.len();
        if n == 0 {
            return None;
        }
        let usable = |i: usize| hint.tried & (1u128 << (i % 128)) == 0 && !self.endpoints[i].health.is_ejected();
        let chosen = match &self.balancer {
            Balancer::RoundRobin => self.scan(self.next.fetch_add(1, Ordering::Relaxed), &usable),
            Balancer::Random => self.scan(self.random_u64() as usize, &usable),
            Balancer::LeastConn => self.least_conn(&usable),
            Balancer::Hash { ring, index, .. } | Balancer::Cookie { ring, index, .. } => match hint.hash {
                Some(hash) => ring
                    .node_iter(&hash.to_le_bytes())
                    .take(RING_PROBES)
                    .filter_map(|addr| index.get(addr).copied())
                    .find(|&i| usable(i))
                    .or_else(|| self.scan(hash as usize, &usable)),
                None => self.scan(self.next.fetch_add(1, Ordering::Relaxed), &usable),
            },
        };
        chosen.or_else(|| {
            // Everything is ejected or tried: prefer an endpoint this request has not tried.
            let start = self.next.fetch_add(1, Ordering::Relaxed);
            (0..n).map(|k| (start + k) % n).find(|&i| hint.tried & (1u128 << (i % 128)) == 0).or(Some(start % n))
        })
    }

    /// The address of a picked endpoint (mirroring: no request to hash, nothing tried).
    pub fn pick_addr(&self) -> Option<SocketAddr> {
        self.pick(PickHint::default()).and_then(|i| self.endpoint(i)).map(|e| e.addr)
    }

    fn scan(&self, start: usize, usable: &impl Fn(usize) -> bool) -> Option<usize> {
        let n = self.endpoints.len();
        (0..n).map(|k| (start.wrapping_add(k)) % n).find(|&i| usable(i))
    }

    fn least_conn(&self, usable: &impl Fn(usize) -> bool) -> Option<usize> {
        let n = self.endpoints.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut best: Option<(usize, usize)> = None;
        for k in 0..n {
            let i = (start + k) % n;
            if !usable(i) {
                continue;
            }
            let active = self.endpoints[i].health.active.load(Ordering::Relaxed);
            if best.is_none_or(|(_, a)| active < a) {
                best = Some((i, active));
            }
        }
        best.map(|(i, _)| i)
    }

    fn random_u64(&self) -> u64 {
        // splitmix64 over an atomic counter: lock-free, no global state.
        let mut z = self.random.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Counts a request on `index` as in flight until the returned guard is dropped.
    pub fn start_request(&self, index: usize) -> Option<ActiveRequest> {
        let health = self.endpoints.get(index)?.health.clone();
        health.active.fetch_add(1, Ordering::Relaxed);
        Some(ActiveRequest(health))
    }

    /// Records a success of `index`: its failure streak ends.
    pub fn report_success(&self, index: usize) {
        if let Some(e) = self.endpoints.get(index) {
            if e.health.consecutive_failures.load(Ordering::Relaxed) != 0 {
                e.health.consecutive_failures.store(0, Ordering::Relaxed);
            }
            if e.health.ejections.load(Ordering::Relaxed) != 0 && !e.health.is_ejected() {
                e.health.ejections.store(0, Ordering::Relaxed);
            }
        }
    }

    /// Records a failure of `index` (connect error, reset, 5xx); the [`EJECT_AFTER`]th in a row ejects it
    /// unless every other endpoint is ejected already. Returns whether it was ejected now.
    pub fn report_failure(&self, index: usize) -> bool {
        let Some(endpoint) = self.endpoints.get(index) else { return false };
        let health = &endpoint.health;
        let streak = health.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if streak < EJECT_AFTER || health.is_ejected() {
            return false;
        }
        let others_serving = self.endpoints.iter().enumerate().any(|(i, e)| i != index && !e.health.is_ejected());
        if !others_serving {
            return false;
        }
        let times = health.ejections.fetch_add(1, Ordering::Relaxed) + 1;
        let ejection = BASE_EJECTION.saturating_mul(times).min(MAX_EJECTION);
        let until = health.now_ms().saturating_add(u64::try_from(ejection.as_millis()).unwrap_or(u64::MAX));
        health.ejected_until.store(until.max(1), Ordering::Relaxed);
        health.consecutive_failures.store(0, Ordering::Relaxed);
        tracing::warn!(cluster = %self.id, endpoint = %endpoint.addr, seconds = ejection.as_secs(), "endpoint ejected after {EJECT_AFTER} consecutive failures");
        true
    }
}

/// A request in flight on an endpoint (least-request balancing); dropping it ends the request.
#[derive(Debug)]
pub struct ActiveRequest(Arc<EndpointHealth>);

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A stable 64-bit hash of `bytes` (request hash keys, affinity cookies).
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests;
