//! # oxigress-proxy: step (8) of the data flow, the data plane.
//!
//! An IR [`oxigress_ir::Snapshot`] is compiled into a [`Runtime`] (host index, matchers, clusters,
//! certificates, plugin chains) and swapped in with one atomic store ([`ProxyState::apply`]). Each request
//! reads the current runtime once, matches a route, runs the route's plugin chain and goes upstream, so it
//! never mixes two snapshots. Served by pingora with BoringSSL. Depends on the IR, never on Kubernetes.

mod admin;
mod basic_auth;
mod cluster;
mod compression;
pub mod header_deadline;
mod live_h2;
mod metrics;
mod mirror;
mod path_normalize;
mod rate_limit;
mod route_policy;
pub mod router;
mod runtime;
mod server;
mod settings;
mod service;
mod state;
mod tls;
mod upstream;

pub use admin::AdminApp;
pub use metrics::ProxyMetrics;
pub use runtime::Runtime;
pub use admin::DiagnosticsJson;
pub use server::{AppServer, Gateway, GatewayConfig, StartError};
pub use state::ProxyState;
