//! # oxigress-sources: step (2) of the data flow, where objects come from.
//!
//! A source publishes [`SourceSnapshot`]s (every object it holds, plus the diagnostics of what it could
//! not accept) on a `tokio::sync::watch` channel. Standalone mode reads a manifest directory
//! ([`ManifestDir`], watched by [`watch_dir`]); Kubernetes mode (a later issue) publishes the same type from
//! API watchers, so the controller does not know which one it runs on.

mod manifest_dir;
mod watch;

pub use manifest_dir::ManifestDir;
pub use watch::{watch_dir, DirWatch, WatchError};

use oxigress_objects::{Diagnostic, Resources};

/// Everything a source holds at one moment.
#[derive(Debug, Clone, Default)]
pub struct SourceSnapshot {
    /// The accepted objects (rejected ones are replaced by their last good version, if any).
    pub resources: Resources,
    /// Why input was rejected or ignored.
    pub diagnostics: Vec<Diagnostic>,
    /// Increases with every published snapshot.
    pub revision: u64,
}
