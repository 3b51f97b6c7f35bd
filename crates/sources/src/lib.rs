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

use std::collections::{BTreeSet, VecDeque};

use oxigress_objects::{Diagnostic, ObjectRef, Resources};

/// Everything a source holds at one moment.
#[derive(Debug, Clone, Default)]
pub struct SourceSnapshot {
    /// The accepted objects (rejected ones are replaced by their last good version, if any).
    pub resources: Resources,
    /// Why input was rejected or ignored.
    pub diagnostics: Vec<Diagnostic>,
    /// Increases with every published snapshot.
    pub revision: u64,
    /// Which objects the last snapshots changed (a source that does not know leaves it empty).
    pub changes: ChangeLog,
}

/// The objects recent revisions changed, so a consumer that translated revision `r` can tell which
/// objects may differ now ([`ChangeLog::since`]) and redo only their work. Bounded: older entries are
/// dropped, and then `since` answers "unknown" for revisions before them.
#[derive(Debug, Clone, Default)]
pub struct ChangeLog {
    /// Every change after this revision is in `entries`; `None`: nothing is known.
    complete_after: Option<u64>,
    /// `(revision, object)`: the object was added, changed or removed by that revision.
    entries: VecDeque<(u64, ObjectRef)>,
}

impl ChangeLog {
    /// Entries kept at most.
    const CAPACITY: usize = 16_384;

    /// Starts the log at `revision` (a snapshot built from scratch): changes after it are recorded.
    pub fn start(&mut self, revision: u64) {
        self.entries.clear();
        self.complete_after = Some(revision);
    }

    /// Records that `revision` changed `objects`.
    pub fn record(&mut self, revision: u64, objects: impl IntoIterator<Item = ObjectRef>) {
        self.entries.extend(objects.into_iter().map(|o| (revision, o)));
        while self.entries.len() > Self::CAPACITY {
            if let Some((dropped, _)) = self.entries.pop_front() {
                self.complete_after = self.complete_after.map(|after| after.max(dropped));
            }
        }
    }

    /// The objects changed after `revision`, or `None` when the log does not reach back that far.
    pub fn since(&self, revision: u64) -> Option<BTreeSet<ObjectRef>> {
        let after = self.complete_after?;
        if revision < after {
            return None;
        }
        let newer = self.entries.iter().rev().take_while(|(r, _)| *r > revision);
        Some(newer.map(|(_, o)| o.clone()).collect())
    }
}
