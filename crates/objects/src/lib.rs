//! # oxigress-objects: step (1) of the data flow, the Kubernetes objects.
//!
//! Every source (a manifest directory in standalone mode, the API server in Kubernetes mode) produces the
//! same [`Resources`] bundle of typed objects, so selection and translation never know where an object came
//! from. This crate holds those types, the YAML/JSON [`load`]er that turns manifest text into objects, the
//! apiserver-like [`validate`] checks that decide whether an object is accepted at all, and the
//! [`Diagnostic`] record every stage uses to report bad input instead of failing.

pub mod diagnostic;
pub mod load;
pub mod object;
pub mod resources;
pub mod validate;
pub mod wasm_plugin;

pub use diagnostic::{Diagnostic, Severity};
pub use load::{load_documents, LoadError, LoadedDocument};
pub use object::{KubeObject, ObjectKey, ObjectRef};
pub use resources::Resources;
pub use wasm_plugin::WasmPlugin;

/// Re-exported Kubernetes API types, so downstream crates use exactly the versions this crate parses.
pub use k8s_openapi;
