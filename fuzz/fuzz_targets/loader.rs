//! Manifest text → loader → translate: never panics, whatever the bytes. Seed corpus: the golden inputs
//! (`crates/translate/tests/golden/*/input.yaml`), see fuzz/README.md.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxigress_objects::{load_documents, LoadedDocument, Resources};
use oxigress_translate::{translate, InstanceOptions};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(documents) = load_documents(&text) else { return };
    let objects = documents.into_iter().filter_map(|d| match d {
        LoadedDocument::Object(o) => Some(o),
        _ => None,
    });
    let resources = Resources::from_objects(objects);
    for class in ["", "higress", "nginx"] {
        let options = InstanceOptions { ingress_class: class.to_string(), ..InstanceOptions::default() };
        let translation = translate(&resources, &options);
        assert!(translation.snapshot.validate().is_empty(), "{:?}", translation.snapshot.validate());
    }
});
