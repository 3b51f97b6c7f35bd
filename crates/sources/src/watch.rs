//! [`watch_dir`]: keeps a [`ManifestDir`] current. File events (the `notify` crate) are coalesced over a
//! short quiet period (10 ms; 50 ms while changes keep coming, so a stream of writes becomes a few
//! re-reads), then the directory is re-read and, when a file changed, the published
//! [`SourceSnapshot`] is updated in place (only the objects of the changed files; the snapshot is copied
//! first only while a reader still holds it). Re-reads after file events skip files whose metadata shows
//! no change ([`ManifestDir::read`]); a slow periodic re-read, which compares the text of every file
//! ([`ManifestDir::read_all`]), covers file systems whose events get lost or whose metadata misleads, and
//! so does [`DirWatch::reload`] (SIGHUP).

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::watch;

use crate::{ManifestDir, SourceSnapshot};

/// Quiet time after the last file event before the directory is re-read.
///
/// why short: files are meant to be replaced atomically (written under a temporary name, then renamed,
/// as Kubernetes ConfigMap volumes do; README), so the quiet time does not guard against half-written
/// files; it only gathers the events of one write (create, write, rename) into one re-read.
const QUIET: Duration = Duration::from_millis(10);
/// Quiet time when the previous re-read was less than [`BUSY_WINDOW`] ago: bulk changes (a directory
/// copied file by file, a generator writing many files) are re-read, translated and compiled a few times,
/// not once per file.
const BUSY_QUIET: Duration = Duration::from_millis(50);
/// See [`BUSY_QUIET`].
const BUSY_WINDOW: Duration = Duration::from_millis(50);
/// Longest a burst of events can delay a re-read.
const MAX_DELAY: Duration = Duration::from_millis(500);
/// Re-read even without events this often, comparing the text of every file.
const RESYNC: Duration = Duration::from_secs(30);

/// Why the directory cannot be watched.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The path is not a readable directory.
    #[error("manifest directory {0}: {1}")]
    NotADirectory(PathBuf, String),
    /// The file watcher could not be set up.
    #[error("cannot watch {0}: {1}")]
    Notify(PathBuf, #[source] notify::Error),
}

/// A running directory watch; dropping it stops the watch.
pub struct DirWatch {
    _watcher: RecommendedWatcher,
    events: mpsc::Sender<Reread>,
}

/// Why the directory is re-read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reread {
    /// A file event: files whose metadata did not change are skipped.
    Changed,
    /// Asked for ([`DirWatch::reload`]): every file's text is compared.
    All,
}

impl DirWatch {
    /// Re-reads the directory now, comparing the text of every file (`SIGHUP`); a new snapshot is
    /// published only when something changed.
    pub fn reload(&self) {
        // A closed channel only means the watch is shutting down.
        let _ = self.events.send(Reread::All);
    }
}

/// Reads `dir` once (the first snapshot is available immediately), then keeps publishing new snapshots
/// on the returned channel as files change.
pub fn watch_dir(dir: impl Into<PathBuf>) -> Result<(watch::Receiver<Arc<SourceSnapshot>>, DirWatch), WatchError> {
    let dir = dir.into();
    if !dir.is_dir() {
        return Err(WatchError::NotADirectory(dir, "not found or not a directory".into()));
    }
    let mut manifests = ManifestDir::new(&dir);
    let first = manifests.reload();
    let (tx, rx) = watch::channel(Arc::new(first));
    let (events_tx, events_rx) = mpsc::channel::<Reread>();
    let events = events_tx.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| calls_for_reread(&e)) {
            // A closed channel only means the watch is shutting down.
            let _ = events_tx.send(Reread::Changed);
        }
    })
    .map_err(|e| WatchError::Notify(dir.clone(), e))?;
    watcher.watch(&dir, RecursiveMode::Recursive).map_err(|e| WatchError::Notify(dir.clone(), e))?;
    let spawned = std::thread::Builder::new()
        .name("oxigress-manifests".into())
        .spawn(move || reload_loop(manifests, events_rx, tx));
    if let Err(e) = spawned {
        return Err(WatchError::NotADirectory(dir, format!("cannot start the watch thread: {e}")));
    }
    Ok((rx, DirWatch { _watcher: watcher, events }))
}

/// Whether a file event may mean changed manifests.
///
/// why: notify reports opens and reads too (`Access`); the re-read itself opens and reads every file, so
/// counting those would make every re-read trigger the next one, forever. A file closed after writing
/// still counts.
fn calls_for_reread(event: &notify::Event) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// How long to wait for quiet after an event, given when the directory was last re-read for events.
fn quiet_period(last_read: Option<Instant>, now: Instant) -> Duration {
    match last_read {
        Some(at) if now.saturating_duration_since(at) < BUSY_WINDOW => BUSY_QUIET,
        _ => QUIET,
    }
}

fn reload_loop(mut manifests: ManifestDir, events: mpsc::Receiver<Reread>, tx: watch::Sender<Arc<SourceSnapshot>>) {
    let mut last_read: Option<Instant> = None;
    loop {
        let reread = match events.recv_timeout(RESYNC) {
            Ok(first) => {
                // Coalesce a burst (editors write, rename and chmod in quick succession).
                let mut reread = first;
                let now = Instant::now();
                let quiet = quiet_period(last_read, now);
                let deadline = now + MAX_DELAY;
                loop {
                    let wait = quiet.min(deadline.saturating_duration_since(Instant::now()));
                    match events.recv_timeout(wait) {
                        Ok(next) => {
                            if next == Reread::All {
                                reread = Reread::All;
                            }
                            if Instant::now() >= deadline {
                                break;
                            }
                        }
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                        Err(mpsc::RecvTimeoutError::Timeout) => break,
                    }
                }
                last_read = Some(Instant::now());
                reread
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Reread::All,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        let changed = match reread {
            Reread::Changed => manifests.read(),
            Reread::All => manifests.read_all(),
        };
        if changed {
            if tx.is_closed() {
                return;
            }
            tx.send_modify(|current| manifests.apply(Arc::make_mut(current)));
            tracing::debug!(dir = %manifests.root().display(), revision = tx.borrow().revision, "manifests changed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_and_reading_files_does_not_call_for_a_reread() {
        use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind, RenameMode};
        let event = |kind| notify::Event::new(kind);
        assert!(!calls_for_reread(&event(EventKind::Access(AccessKind::Open(AccessMode::Any)))));
        assert!(!calls_for_reread(&event(EventKind::Access(AccessKind::Close(AccessMode::Read)))));
        assert!(calls_for_reread(&event(EventKind::Create(CreateKind::File))));
        assert!(calls_for_reread(&event(EventKind::Modify(ModifyKind::Name(RenameMode::To)))));
        assert!(calls_for_reread(&event(EventKind::Access(AccessKind::Close(AccessMode::Write)))));
        assert!(calls_for_reread(&event(EventKind::Remove(notify::event::RemoveKind::File))));
        assert!(calls_for_reread(&event(EventKind::Any)));
    }

    #[test]
    fn the_quiet_period_is_short_unless_changes_keep_coming() {
        let now = Instant::now();
        assert_eq!(quiet_period(None, now), QUIET);
        assert_eq!(quiet_period(Some(now), now + BUSY_WINDOW + Duration::from_millis(1)), QUIET);
        assert_eq!(quiet_period(Some(now), now + Duration::from_millis(5)), BUSY_QUIET);
        assert!(QUIET < BUSY_QUIET && BUSY_QUIET < MAX_DELAY);
    }
}
