//! [`ManifestDir`]: a directory of Kubernetes manifests read like an API server that keeps the last good
//! version of everything. A file that does not parse keeps all the objects it had; a document that is
//! invalid keeps the previous version of that object; every other object is unaffected.
//!
//! Re-reading is incremental: a file whose metadata (inode, length, modification and change times) is
//! what it was at the last read, and settled then, is not read at all ([`ManifestDir::read`]); only
//! files whose text changed are parsed again; and [`ManifestDir::apply`] touches only the objects those
//! files define or defined, so a change to one file among thousands costs about that file, not the
//! directory. [`ManifestDir::read_all`] compares the text of every file (the periodic resync, SIGHUP).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use oxigress_objects::{load_documents, Diagnostic, KubeObject, LoadedDocument, ObjectRef, Resources};

use crate::SourceSnapshot;

/// What one file contributed the last time it was read.
#[derive(Debug, Default)]
struct FileState {
    /// The text last read (to skip re-parsing unchanged files).
    text: String,
    /// The file's metadata when `text` was read, if it had settled then (see [`Stamp`]); `None`: read
    /// the file again next time.
    stamp: Option<Stamp>,
    /// Objects this file currently provides (including kept last-good versions), in file order.
    objects: Vec<(ObjectRef, KubeObject)>,
    /// Diagnostics of the last read.
    diagnostics: Vec<Diagnostic>,
}

/// A manifest directory and the last good state of every file in it.
#[derive(Debug)]
pub struct ManifestDir {
    root: PathBuf,
    files: BTreeMap<PathBuf, FileState>,
    /// The files defining each object, in path order: the last one's definition wins.
    owners: BTreeMap<ObjectRef, Vec<PathBuf>>,
    /// Objects whose definition may have changed since the last [`ManifestDir::apply`].
    dirty: BTreeSet<ObjectRef>,
    /// Why the directory could not be listed at the last read.
    listing: Option<Diagnostic>,
    revision: u64,
    /// How long after its last change a file's metadata is trusted to reveal the next change.
    settle: Duration,
    /// Files read so far (tests check that unchanged files are not).
    files_read: u64,
}

/// What a write to a file changes without fail, so an unchanged stamp means unchanged text: the inode
/// (a file replaced by rename, as ConfigMap volumes and atomic writers do), the length, and the
/// modification and change times (nanoseconds). The times tick coarsely (a kernel timer tick, a second
/// on some file systems), so two writes within one tick and of one length could share a stamp: a stamp
/// is only trusted when the file had not changed for [`SETTLE`] before it was taken (git's "racily
/// clean" rule); a recently written file is read and compared again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    device: u64,
    inode: u64,
    length: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

/// See [`Stamp`]: longer than the coarsest timestamp granularity of common file systems (1 s; 2 s for
/// FAT's modification time).
const SETTLE: Duration = Duration::from_secs(3);

impl Stamp {
    fn of(metadata: &std::fs::Metadata) -> Self {
        Self {
            device: metadata.dev(),
            inode: metadata.ino(),
            length: metadata.len(),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }

    /// Whether the file's last change was at least `settle` before `now`.
    fn settled(&self, now: SystemTime, settle: Duration) -> bool {
        let Some(limit) = now.checked_sub(settle).and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()) else {
            return false;
        };
        let before = |(seconds, nanos): (i64, i64)| {
            let (Ok(seconds), Ok(nanos)) = (u64::try_from(seconds), u32::try_from(nanos)) else { return true };
            Duration::new(seconds, nanos) <= limit
        };
        before(self.modified) && before(self.changed)
    }
}

/// How [`read_file`] decides whether to read a file.
#[derive(Debug, Clone, Copy)]
struct ReadMode {
    /// Read and compare the text even when the stamp is unchanged.
    all: bool,
    /// When the read started.
    now: SystemTime,
    settle: Duration,
}

impl ManifestDir {
    /// A directory that has not been read yet.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            files: BTreeMap::new(),
            owners: BTreeMap::new(),
            dirty: BTreeSet::new(),
            listing: None,
            revision: 0,
            settle: SETTLE,
            files_read: 0,
        }
    }

    /// How many files were read so far (a file whose metadata shows no change is not read).
    pub fn files_read(&self) -> u64 {
        self.files_read
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Re-reads the directory (every `*.yaml`, `*.yml`, `*.json`, recursively, in path order) and returns
    /// the resulting snapshot, built from scratch.
    pub fn reload(&mut self) -> SourceSnapshot {
        self.read_all();
        self.dirty.clear();
        let mut resources = Resources::default();
        for reference in self.owners.keys() {
            self.place(reference, &mut resources);
        }
        self.revision += 1;
        let mut changes = crate::ChangeLog::default();
        changes.start(self.revision);
        SourceSnapshot { resources, diagnostics: self.diagnostics(), revision: self.revision, changes }
    }

    /// Re-reads the directory; returns whether anything changed (then [`ManifestDir::apply`] brings a
    /// snapshot up to date). Files whose metadata did not change are not read (see [`Stamp`]); files
    /// read with unchanged text are compared, not parsed.
    pub fn read(&mut self) -> bool {
        self.read_with(false)
    }

    /// [`ManifestDir::read`], but every file is read and its text compared, whatever its metadata says
    /// (for file systems whose metadata cannot be trusted, e.g. network mounts).
    pub fn read_all(&mut self) -> bool {
        self.read_with(true)
    }

    fn read_with(&mut self, all: bool) -> bool {
        let mode = ReadMode { all, now: SystemTime::now(), settle: self.settle };
        let paths = match manifest_files(&self.root) {
            Ok(paths) => paths,
            Err(e) => {
                // why: an unreadable directory (e.g. being replaced) must not wipe the config.
                let diagnostic = Diagnostic::error("ReadError", None, format!("cannot list {}: {e}", self.root.display()))
                    .in_file(self.root.display().to_string());
                let changed = self.listing.as_ref() != Some(&diagnostic);
                self.listing = Some(diagnostic);
                return changed;
            }
        };
        let mut changed = self.listing.take().is_some();
        // Both in path order: walked side by side (no lookups; path comparisons are costly).
        let mut old = std::mem::take(&mut self.files).into_iter().peekable();
        let mut gone = Vec::new();
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            while let Some(entry) = old.next_if(|(p, _)| *p < path) {
                gone.push(entry);
            }
            let previous = old.next_if(|(p, _)| *p == path).map(|(_, state)| state);
            let root = &self.root;
            let name = || display(root, &path);
            let (state, before) = read_file(&path, name, previous, mode, &mut self.files_read);
            // A new text with the same objects and diagnostics (a file created empty, then written; an
            // edit of a comment) changes nothing.
            if let Some((objects, _)) = before.filter(|(o, d)| *o != state.objects || *d != state.diagnostics) {
                changed = true;
                self.note_objects(&path, objects.into_iter().map(|(r, _)| r).collect(), &state.objects);
            }
            files.push((path, state));
        }
        // Files that are gone.
        for (path, state) in gone.into_iter().chain(old) {
            changed |= !state.objects.is_empty() || !state.diagnostics.is_empty();
            self.note_objects(&path, state.objects.into_iter().map(|(r, _)| r).collect(), &[]);
        }
        self.files = files.into_iter().collect();
        changed
    }

    /// Brings `snapshot` (built by [`ManifestDir::reload`] and kept current with this method) up to date
    /// with the last [`ManifestDir::read`]: only objects of changed files are replaced or removed.
    pub fn apply(&mut self, snapshot: &mut SourceSnapshot) {
        let dirty = std::mem::take(&mut self.dirty);
        for reference in &dirty {
            self.place(reference, &mut snapshot.resources);
        }
        self.revision += 1;
        snapshot.changes.record(self.revision, dirty);
        snapshot.diagnostics = self.diagnostics();
        snapshot.revision = self.revision;
    }

    /// Records that `path` now defines `new` instead of `old`; all of them may have a new winner.
    fn note_objects(&mut self, path: &Path, old: Vec<ObjectRef>, new: &[(ObjectRef, KubeObject)]) {
        for reference in old {
            if let Some(files) = self.owners.get_mut(&reference) {
                files.retain(|f| f != path);
                if files.is_empty() {
                    self.owners.remove(&reference);
                }
            }
            self.dirty.insert(reference);
        }
        for (reference, _) in new {
            let files = self.owners.entry(reference.clone()).or_default();
            if let Err(at) = files.binary_search_by(|f| f.as_path().cmp(path)) {
                files.insert(at, path.to_path_buf());
            }
            self.dirty.insert(reference.clone());
        }
    }

    /// Puts in `resources` the definition of `reference` that wins (the last one in path order, and in
    /// file order), or removes the object when no file defines it any more.
    fn place(&self, reference: &ObjectRef, resources: &mut Resources) {
        match self.winner(reference) {
            Some(object) => {
                resources.insert(object.clone());
            }
            None => {
                resources.remove(reference);
            }
        }
    }

    /// The definition that wins for `reference`: the last one in path order (and in file order).
    fn winner(&self, reference: &ObjectRef) -> Option<&KubeObject> {
        let file = self.owners.get(reference)?.last()?;
        self.files.get(file)?.objects.iter().rev().find(|(r, _)| r == reference).map(|(_, o)| o)
    }

    /// The diagnostics of the current state: the listing, each file's in path order, then objects
    /// defined more than once (each later definition wins, and says so).
    fn diagnostics(&self) -> Vec<Diagnostic> {
        let mut diagnostics: Vec<Diagnostic> = self.listing.iter().cloned().collect();
        let mut duplicates = Vec::new();
        for (reference, files) in self.owners.iter().filter(|(_, files)| files.len() > 1) {
            for pair in files.windows(2) {
                let position = self.files[&pair[1]].objects.iter().position(|(r, _)| r == reference).unwrap_or(0);
                duplicates.push((pair[1].clone(), position, reference.clone(), self.display(&pair[0])));
            }
        }
        duplicates.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        let mut duplicates = duplicates.into_iter().peekable();
        for (path, state) in &self.files {
            diagnostics.extend(state.diagnostics.iter().cloned());
            while let Some((_, _, reference, first)) = duplicates.next_if(|d| &d.0 == path) {
                let file = self.display(path);
                diagnostics.push(
                    Diagnostic::warning(
                        "DuplicateObject",
                        Some(reference),
                        format!("also defined in {first}; the definition in {file} wins"),
                    )
                    .in_file(file),
                );
            }
        }
        diagnostics
    }

    fn display(&self, path: &Path) -> String {
        display(&self.root, path)
    }
}

/// How diagnostics name `path`: relative to `root`.
fn display(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

/// The objects and diagnostics a file had before it was read again.
type Before = (Vec<(ObjectRef, KubeObject)>, Vec<Diagnostic>);

/// Reads one file, keeping last-good objects from `previous` where the new content is bad. When the
/// file was parsed (new, other text, or a read error), also returns what it had before. A file whose
/// settled stamp is unchanged is not read, unless `mode.all`; `files_read` counts the files read.
fn read_file(
    path: &Path,
    file: impl FnOnce() -> String,
    previous: Option<FileState>,
    mode: ReadMode,
    files_read: &mut u64,
) -> (FileState, Option<Before>) {
    let previous = previous.unwrap_or_default();
    let read = std::fs::File::open(path).and_then(|mut opened| {
        let stamp = Stamp::of(&opened.metadata()?);
        if !mode.all && previous.stamp == Some(stamp) {
            return Ok(None);
        }
        *files_read += 1;
        let mut text = String::new();
        opened.read_to_string(&mut text)?;
        Ok(Some((text, stamp.settled(mode.now, mode.settle).then_some(stamp))))
    });
    let Some(read) = read.transpose() else { return (previous, None) };
    // Named only for diagnostics, so only once the file is read.
    let file = file();
    let (text, stamp) = match read {
        Ok(read) => read,
        Err(e) => {
            let diagnostic = Diagnostic::error("ReadError", None, e.to_string()).in_file(file);
            let before = Some((previous.objects.clone(), previous.diagnostics.clone()));
            // No text and no stamp: the file is read and parsed again once it can be read.
            let state = FileState { text: String::new(), stamp: None, diagnostics: vec![diagnostic], ..previous };
            return (state, before);
        }
    };
    if text == previous.text && !previous.text.is_empty() {
        return (FileState { stamp, ..previous }, None);
    }
    let documents = match load_documents(&text) {
        Ok(documents) => documents,
        Err(e) => {
            let kept = if previous.objects.is_empty() { String::new() } else { "; keeping its last good objects".into() };
            let diagnostic = Diagnostic::error("ParseError", None, format!("{e}{kept}")).in_file(file);
            // Keep the previous text too, so fixing the file back to it is noticed as a change.
            let state = FileState { text, stamp, objects: previous.objects.clone(), diagnostics: vec![diagnostic] };
            return (state, Some((previous.objects, previous.diagnostics)));
        }
    };
    let mut objects = Vec::new();
    let mut diagnostics = Vec::new();
    for document in documents {
        match document {
            LoadedDocument::Object(object) => objects.push((object.object_ref(), object)),
            LoadedDocument::Ignored { api_version, kind } => {
                tracing::debug!(file = %file, %api_version, %kind, "ignoring object of a kind oxigress does not read");
            }
            LoadedDocument::Invalid { object, message } => {
                let kept = object.as_ref().and_then(|r| previous.objects.iter().find(|(o, _)| o == r));
                let suffix = if kept.is_some() { "; its last good version keeps serving" } else { "" };
                diagnostics.push(
                    Diagnostic::error("InvalidObject", object.clone(), format!("{message}{suffix}"))
                        .in_file(file.clone()),
                );
                objects.extend(kept.cloned());
            }
        }
    }
    // An object defined twice in one file: the later definition wins, as across files.
    let mut seen = BTreeSet::new();
    for (reference, _) in &objects {
        if !seen.insert(reference) {
            diagnostics.push(
                Diagnostic::warning(
                    "DuplicateObject",
                    Some(reference.clone()),
                    format!("also defined in {file}; the definition in {file} wins"),
                )
                .in_file(file.clone()),
            );
        }
    }
    (FileState { text, stamp, objects, diagnostics }, Some((previous.objects, previous.diagnostics)))
}
/// Every manifest file under `root`, in path order; hidden files and directories (editor swap files,
/// Kubernetes ConfigMap `..data` links) are skipped.
///
/// why per directory: path order compares component by component, so listing each directory's entries
/// sorted by name and descending into subdirectories in place gives path order while comparing names
/// only (comparing whole paths costs about a microsecond each, thousands per listing).
fn manifest_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    list_dir(root, &mut out)?;
    Ok(out)
}

fn list_dir(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        let kind = entry.file_type()?;
        // A symbolic link counts as what it points to.
        let is_dir = if kind.is_symlink() { entry.path().is_dir() } else { kind.is_dir() };
        entries.push((name, is_dir));
    }
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (name, is_dir) in entries {
        let path = dir.join(&name);
        if is_dir {
            list_dir(&path, out)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")) {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
