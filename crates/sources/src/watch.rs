//! [`watch_dir`]: keeps a [`ManifestDir`] current. File events (the `notify` crate) are coalesced over a
//! short quiet period, then the directory is re-read and, when a file changed, the published
//! [`SourceSnapshot`] is updated in place (only the objects of the changed files; the snapshot is copied
//! first only while a reader still holds it). A slow periodic re-read covers file systems whose events get
//! lost.

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::watch;

use crate::{ManifestDir, SourceSnapshot};

/// Quiet time after the last file event before the directory is re-read.
const QUIET: Duration = Duration::from_millis(50);
/// Longest a burst of events can delay a re-read.
const MAX_DELAY: Duration = Duration::from_millis(500);
/// Re-read even without events this often.
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
    events: mpsc::Sender<()>,
}

impl DirWatch {
    /// Re-reads the directory now, as if a file had changed (`SIGHUP`); a new snapshot is published only
    /// when something changed.
    pub fn reload(&self) {
        // A closed channel only means the watch is shutting down.
        let _ = self.events.send(());
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
    let (events_tx, events_rx) = mpsc::channel::<()>();
    let events = events_tx.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            // A closed channel only means the watch is shutting down.
            let _ = events_tx.send(());
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

fn reload_loop(mut manifests: ManifestDir, events: mpsc::Receiver<()>, tx: watch::Sender<Arc<SourceSnapshot>>) {
    loop {
        match events.recv_timeout(RESYNC) {
            Ok(()) => {
                // Coalesce a burst (editors write, rename and chmod in quick succession).
                let deadline = Instant::now() + MAX_DELAY;
                loop {
                    let wait = QUIET.min(deadline.saturating_duration_since(Instant::now()));
                    match events.recv_timeout(wait) {
                        Ok(()) if Instant::now() < deadline => continue,
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                        _ => break,
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        if manifests.read() {
            if tx.is_closed() {
                return;
            }
            tx.send_modify(|current| manifests.apply(Arc::make_mut(current)));
            tracing::debug!(dir = %manifests.root().display(), revision = tx.borrow().revision, "manifests changed");
        }
    }
}
