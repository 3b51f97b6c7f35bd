//! # oxigress (the CLI): step (9), wiring the pipeline into runnable commands.
//!
//! `standalone` = manifest directory → controller → proxy in one process ([`standalone`]);
//! `translate` prints what an instance would serve, offline; `echo` is a tiny echo backend for examples
//! and tests. Everything is a value (no globals), so tests run several instances in one process.

pub mod args;
pub mod echo;
pub mod logging;
pub mod standalone;
