//! # oxigress-kubernetes: Kubernetes mode around the pure pipeline.
//!
//! Step (2) of the data flow for a cluster: API watchers (kube-rs reflectors) publish the same
//! [`oxigress_sources::SourceSnapshot`] the manifest directory does, so selection and translation are
//! shared with standalone mode. Around it, the writes back to the cluster that only the elected leader
//! of an instance makes: Ingress status and Events.

mod builder;
pub mod source;

pub use source::{watch_cluster, wasm_plugin_resource, ClusterSource, ClusterSourceConfig};
