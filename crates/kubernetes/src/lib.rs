//! # oxigress-kubernetes: Kubernetes mode around the pure pipeline.
//!
//! Step (2) of the data flow for a cluster: API watchers (kube-rs reflectors) publish the same
//! [`oxigress_sources::SourceSnapshot`] the manifest directory does, so selection and translation are
//! shared with standalone mode. Around it, the writes back to the cluster that only the elected leader
//! of an instance makes: Ingress status and Events.

mod addresses;
mod builder;
mod events;
mod leader;
pub mod source;
mod status;
mod status_plan;

pub use addresses::{address_key, fetch_gateway_addresses, gateway_addresses, AddressError, AddressKey};
pub use events::{event_for, EventPublisher, EVENT_ACTION};
pub use leader::{is_leading, LeaderElector, LeaderHandle, LeaseConfig};
pub use source::{wasm_plugin_resource, watch_cluster, ClusterSource, ClusterSourceConfig};
pub use status::{StatusConfig, StatusError, StatusWriter};
pub use status_plan::{plan_status, status_entries, Skip, StatusPlan, StatusUpdate};
