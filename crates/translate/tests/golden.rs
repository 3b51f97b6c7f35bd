//! Golden tests of the translation: `tests/golden/<case>/input.yaml` (plain multi-document Kubernetes
//! YAML, exactly what standalone mode loads) plus an optional `options.yaml` (InstanceOptions) →
//! `ir.json` (the Snapshot) and `diagnostics.json`. Run with `UPDATE_GOLDEN=1` to rewrite the expectations
//! after a deliberate change, then review the diff.

// why: clippy's allow-unwrap-in-tests does not reach the helpers of an integration test; a panic is the
// failure report here.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use oxigress_objects::{load_documents, Diagnostic, LoadedDocument, Resources};
use oxigress_translate::{translate, InstanceOptions};

fn cases() -> Vec<PathBuf> {
    // The crate directory as cargo gives it to the running test (a test binary in a shared target
    // dir may have been compiled in another checkout).
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")), std::path::PathBuf::from);
    let root = crate_dir.join("tests/golden");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("input.yaml").exists())
        .collect();
    dirs.sort();
    dirs
}

/// Loads a case's input like standalone mode: rejected documents become diagnostics.
fn load(dir: &Path) -> (Resources, Vec<Diagnostic>) {
    let text = std::fs::read_to_string(dir.join("input.yaml")).unwrap();
    let mut resources = Resources::default();
    let mut diagnostics = Vec::new();
    match load_documents(&text) {
        Ok(documents) => {
            for document in documents {
                match document {
                    LoadedDocument::Object(object) => {
                        resources.insert(object);
                    }
                    LoadedDocument::Invalid { object, message } => {
                        diagnostics.push(Diagnostic::error("InvalidObject", object, message).in_file("input.yaml"))
                    }
                    LoadedDocument::Ignored { .. } => {}
                }
            }
        }
        Err(e) => diagnostics.push(Diagnostic::error("ParseError", None, e.to_string()).in_file("input.yaml")),
    }
    (resources, diagnostics)
}

fn options(dir: &Path) -> InstanceOptions {
    match std::fs::read_to_string(dir.join("options.yaml")) {
        Ok(text) => serde_yaml_ng::from_str(&text).unwrap(),
        Err(_) => InstanceOptions::default(),
    }
}

fn check(path: &Path, actual: &str, update: bool, failures: &mut Vec<String>) {
    if update {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected != actual {
        failures.push(format!("{} differs:\n--- expected\n{expected}\n--- actual\n{actual}", path.display()));
    }
}

#[test]
fn golden_cases() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    let cases = cases();
    assert!(!cases.is_empty(), "no golden cases found");
    for dir in cases {
        let (resources, mut diagnostics) = load(&dir);
        let translation = translate(&resources, &options(&dir));
        assert_eq!(translation.snapshot.validate(), Vec::<String>::new(), "{}: invalid IR", dir.display());
        // Deterministic: the same input translates to the same output.
        assert_eq!(translation, translate(&resources, &options(&dir)), "{}: not deterministic", dir.display());
        diagnostics.extend(translation.diagnostics);
        let ir = format!("{}\n", translation.snapshot.to_json());
        let diags = format!("{}\n", serde_json::to_string_pretty(&diagnostics).unwrap());
        check(&dir.join("ir.json"), &ir, update, &mut failures);
        check(&dir.join("diagnostics.json"), &diags, update, &mut failures);
    }
    assert!(failures.is_empty(), "{} golden mismatch(es); rerun with UPDATE_GOLDEN=1 if intended:\n{}", failures.len(), failures.join("\n"));
}
