//! # oxigress (the CLI): step (9), wiring the pipeline into runnable commands.
//!
//! `standalone` = manifest directory → controller → proxy in one process ([`standalone`]);
//! Kubernetes mode splits it: `controller` = API watchers → controller → snapshot stream ([`controller`]),
//! `gateway` = snapshot stream → proxy ([`gateway`]);
//! `translate` prints what an instance would serve, offline; `echo` is a tiny echo backend for examples
//! and tests, `llm-mock` a tiny OpenAI-compatible LLM stand-in for the ai-proxy example. Everything is a value (no globals), so tests run several instances in one process.

pub mod apply;
pub mod args;
pub mod cluster_writes;
pub mod controller;
pub mod controller_admin;
pub mod echo;
pub mod gateway;
pub mod llm_mock;
pub mod logging;
pub mod standalone;
