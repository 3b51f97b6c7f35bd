//! [`ManifestDir`]: a directory of Kubernetes manifests read like an API server that keeps the last good
//! version of everything. A file that does not parse keeps all the objects it had; a document that is
//! invalid keeps the previous version of that object; every other object is unaffected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oxigress_objects::{load_documents, Diagnostic, KubeObject, LoadedDocument, ObjectRef, Resources};

use crate::SourceSnapshot;

/// What one file contributed the last time it was read.
#[derive(Debug, Default)]
struct FileState {
    /// The text last read (to skip re-parsing unchanged files).
    text: String,
    /// Objects this file currently provides (including kept last-good versions).
    objects: Vec<KubeObject>,
    /// Diagnostics of the last read.
    diagnostics: Vec<Diagnostic>,
}

/// A manifest directory and the last good state of every file in it.
#[derive(Debug)]
pub struct ManifestDir {
    root: PathBuf,
    files: BTreeMap<PathBuf, FileState>,
    revision: u64,
}

impl ManifestDir {
    /// A directory that has not been read yet.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into(), files: BTreeMap::new(), revision: 0 }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Re-reads the directory (every `*.yaml`, `*.yml`, `*.json`, recursively, in path order) and returns
    /// the resulting snapshot.
    pub fn reload(&mut self) -> SourceSnapshot {
        let mut diagnostics = Vec::new();
        let paths = match manifest_files(&self.root) {
            Ok(paths) => paths,
            Err(e) => {
                // why: an unreadable directory (e.g. being replaced) must not wipe the config.
                diagnostics.push(
                    Diagnostic::error("ReadError", None, format!("cannot list {}: {e}", self.root.display()))
                        .in_file(self.root.display().to_string()),
                );
                return self.snapshot(diagnostics);
            }
        };
        let mut files = BTreeMap::new();
        for path in paths {
            let previous = self.files.remove(&path);
            files.insert(path.clone(), read_file(&path, self.display(&path), previous));
        }
        self.files = files;
        self.snapshot(diagnostics)
    }

    fn display(&self, path: &Path) -> String {
        path.strip_prefix(&self.root).unwrap_or(path).display().to_string()
    }

    fn snapshot(&mut self, mut diagnostics: Vec<Diagnostic>) -> SourceSnapshot {
        let mut resources = Resources::default();
        let mut origin: BTreeMap<ObjectRef, String> = BTreeMap::new();
        for (path, state) in &self.files {
            diagnostics.extend(state.diagnostics.iter().cloned());
            let file = self.display(path);
            for object in &state.objects {
                let reference = object.object_ref();
                if let Some(first) = origin.insert(reference.clone(), file.clone()) {
                    diagnostics.push(
                        Diagnostic::warning(
                            "DuplicateObject",
                            Some(reference),
                            format!("also defined in {first}; the definition in {file} wins"),
                        )
                        .in_file(file.clone()),
                    );
                }
                resources.insert(object.clone());
            }
        }
        self.revision += 1;
        SourceSnapshot { resources, diagnostics, revision: self.revision }
    }
}

/// Reads one file, keeping last-good objects from `previous` where the new content is bad.
fn read_file(path: &Path, file: String, previous: Option<FileState>) -> FileState {
    let previous = previous.unwrap_or_default();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            let diagnostic = Diagnostic::error("ReadError", None, e.to_string()).in_file(file);
            return FileState { diagnostics: vec![diagnostic], ..previous };
        }
    };
    if text == previous.text && !previous.text.is_empty() {
        return previous;
    }
    let documents = match load_documents(&text) {
        Ok(documents) => documents,
        Err(e) => {
            let kept = if previous.objects.is_empty() { String::new() } else { "; keeping its last good objects".into() };
            let diagnostic = Diagnostic::error("ParseError", None, format!("{e}{kept}")).in_file(file);
            // Keep the previous text too, so fixing the file back to it is noticed as a change.
            return FileState { text, objects: previous.objects, diagnostics: vec![diagnostic] };
        }
    };
    let mut objects = Vec::new();
    let mut diagnostics = Vec::new();
    for document in documents {
        match document {
            LoadedDocument::Object(object) => objects.push(object),
            LoadedDocument::Ignored { api_version, kind } => {
                tracing::debug!(file = %file, %api_version, %kind, "ignoring object of a kind oxigress does not read");
            }
            LoadedDocument::Invalid { object, message } => {
                let kept = object.as_ref().and_then(|r| previous.objects.iter().find(|o| &o.object_ref() == r));
                let suffix = if kept.is_some() { "; its last good version keeps serving" } else { "" };
                diagnostics.push(
                    Diagnostic::error("InvalidObject", object.clone(), format!("{message}{suffix}"))
                        .in_file(file.clone()),
                );
                objects.extend(kept.cloned());
            }
        }
    }
    FileState { text, objects, diagnostics }
}

/// Every manifest file under `root`, sorted; hidden files and directories (editor swap files,
/// Kubernetes ConfigMap `..data` links) are skipped.
fn manifest_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if hidden {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests;
