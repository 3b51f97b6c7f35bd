//! Upstream clusters: a Service port, the endpoints behind it, and how the gateway talks to them (load
//! balancing, protocol, upstream TLS — Higress puts these on a DestinationRule per Service port).

use serde::{Deserialize, Serialize};

use crate::tls::CertificateId;

/// `ns/service:port` (the Service port number).
pub type ClusterId = String;

/// One Service port with its ready endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    /// `ns/service:port`.
    pub id: ClusterId,
    /// Ready endpoints, sorted and de-duplicated; empty means requests get 503.
    pub endpoints: Vec<Endpoint>,
    /// Load balancing, protocol and TLS towards the endpoints (annotations of the oldest Ingress that sets
    /// any of them for this Service port); the default is round robin over plain HTTP/1.1.
    #[serde(default, skip_serializing_if = "UpstreamPolicy::is_default")]
    pub upstream: UpstreamPolicy,
}

/// One upstream address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Endpoint {
    /// IP address.
    pub ip: String,
    /// Port.
    pub port: u16,
}

/// How requests reach a cluster's endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamPolicy {
    /// Which endpoint a request goes to (`load-balance`, `upstream-hash-by`, `affinity`).
    #[serde(default, skip_serializing_if = "LoadBalance::is_default")]
    pub load_balance: LoadBalance,
    /// The HTTP version spoken upstream (`backend-protocol`).
    #[serde(default, skip_serializing_if = "UpstreamProtocol::is_default")]
    pub protocol: UpstreamProtocol,
    /// TLS towards the endpoints (`backend-protocol: HTTPS|GRPCS`, `proxy-ssl-*`); `None` = plain TCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<UpstreamTls>,
}

impl UpstreamPolicy {
    /// Whether this is the default (round robin, HTTP/1.1, no TLS).
    pub fn is_default(&self) -> bool {
        self == &Self::default()
    }
}

/// The load-balancing policy of a cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum LoadBalance {
    /// Each endpoint in turn.
    #[default]
    RoundRobin,
    /// The endpoint with the fewest requests in flight (Envoy LEAST_REQUEST).
    LeastConn,
    /// A random endpoint.
    Random,
    /// Consistent hashing (a ring over the endpoints) of a request property (`upstream-hash-by`).
    Hash {
        /// What is hashed.
        key: HashKey,
    },
    /// Consistent hashing of a cookie; a client without it gets one (`affinity: cookie`).
    Cookie(CookieAffinity),
}

impl LoadBalance {
    /// Whether this is round robin.
    pub fn is_default(&self) -> bool {
        self == &Self::RoundRobin
    }
}

/// The request property a consistent hash uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "from", content = "name")]
pub enum HashKey {
    /// A request header (lower case); `:path` is the path with query (`$request_uri`), `:authority` the
    /// host (`$host`).
    Header(String),
    /// A query parameter (`$arg_<name>`).
    Query(String),
    /// The client's address (`$remote_addr`).
    SourceIp,
}

/// Cookie-based session affinity (Envoy's hash policy with cookie generation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CookieAffinity {
    /// Cookie name (`session-cookie-name`, default `INGRESSCOOKIE`).
    pub name: String,
    /// Cookie path (`session-cookie-path`, default `/`).
    pub path: String,
    /// `Max-Age` of a generated cookie in seconds (`session-cookie-max-age` / `-expires`); 0 = a session
    /// cookie.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_age: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The HTTP version spoken to the endpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamProtocol {
    /// HTTP/1.1.
    #[default]
    Http1,
    /// HTTP/2 (prior knowledge over plain TCP, ALPN `h2` over TLS): `backend-protocol` GRPC, GRPCS, HTTP2.
    Http2,
}

impl UpstreamProtocol {
    /// Whether this is HTTP/1.1.
    pub fn is_default(&self) -> bool {
        *self == Self::Http1
    }
}

/// TLS towards a cluster's endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamTls {
    /// SNI sent (`proxy-ssl-name` with `proxy-ssl-server-name: on`); `None` = no SNI, except that the
    /// request's host is sent when `ca_pem` must verify the endpoint (pingora verifies nothing without SNI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// PEM CA bundle the endpoint's certificate chain must verify against (`ca.crt` of
    /// `proxy-ssl-secret`); `None` = not verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// Client certificate presented (`proxy-ssl-secret` `tls.crt`/`tls.key`), an entry of
    /// `Snapshot::certificates`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<CertificateId>,
}
