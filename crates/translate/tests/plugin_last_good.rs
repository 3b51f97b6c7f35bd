//! A WasmPlugin whose new configuration is invalid keeps its last good version (given the previous
//! snapshot), while the other plugins follow their new configuration.
#![allow(clippy::unwrap_used)]

use oxigress_objects::{load_documents, LoadedDocument, Resources};
use oxigress_translate::{translate_after, InstanceOptions};

fn resources(block_a: &str, block_b: &str) -> Resources {
    let text = format!(
        "apiVersion: extensions.higress.io/v1alpha1\nkind: WasmPlugin\nmetadata: {{name: a, namespace: higress-system}}\n\
spec: {{url: oci://x/plugins/request-block:1.0.0, defaultConfig: {{block_regexp_urls: [\"{block_a}\"], block_urls: [a]}}}}\n---\n\
apiVersion: extensions.higress.io/v1alpha1\nkind: WasmPlugin\nmetadata: {{name: b, namespace: higress-system}}\n\
spec: {{url: oci://x/plugins/request-block:1.0.0, defaultConfig: {{block_urls: [\"{block_b}\"]}}}}\n"
    );
    let objects = load_documents(&text).unwrap().into_iter().map(|d| match d {
        LoadedDocument::Object(o) => o,
        other => panic!("{other:?}"),
    });
    Resources::from_objects(objects)
}

#[test]
fn invalid_plugin_keeps_its_last_good_version() {
    let options = InstanceOptions::default();
    let first = translate_after(&resources("/old.*", "b1"), &options, None);
    assert!(first.diagnostics.is_empty(), "{:?}", first.diagnostics);
    assert_eq!(first.snapshot.plugins.len(), 2);

    let second = translate_after(&resources("(", "b2"), &options, Some(&first.snapshot));
    let a = second.snapshot.plugins.iter().find(|p| p.id == "higress-system/a").expect("a is kept");
    assert_eq!(a.default_config, first.snapshot.plugins.iter().find(|p| p.id == "higress-system/a").unwrap().default_config);
    let b = second.snapshot.plugins.iter().find(|p| p.id == "higress-system/b").unwrap();
    assert_eq!(b.default_config.as_ref().unwrap()["block_urls"][0], "b2", "the valid plugin follows its new config");
    assert_eq!(second.diagnostics.len(), 1);
    assert!(second.diagnostics[0].message.contains("block_regexp_urls[0]"), "{}", second.diagnostics[0].message);
    assert!(second.diagnostics[0].message.contains("last good version"), "{}", second.diagnostics[0].message);

    // Without a previous snapshot there is nothing to keep: FAIL_CLOSE (the default) keeps the plugin as
    // failed, answering 503 on every route.
    let fresh = translate_after(&resources("(", "b2"), &options, None);
    let a = fresh.snapshot.plugins.iter().find(|p| p.id == "higress-system/a").expect("a fails closed");
    assert!(a.failed.as_deref().is_some_and(|f| f.contains("block_regexp_urls[0]")), "{a:?}");
    assert!(fresh.diagnostics[0].message.contains("FAIL_CLOSE"), "{}", fresh.diagnostics[0].message);

    // A failed version is never taken for a last good one.
    let again = translate_after(&resources("(", "b2"), &options, Some(&fresh.snapshot));
    assert!(again.diagnostics[0].message.contains("FAIL_CLOSE"), "{}", again.diagnostics[0].message);
    let fixed = translate_after(&resources("/ok", "b2"), &options, Some(&again.snapshot));
    assert!(fixed.diagnostics.is_empty(), "{:?}", fixed.diagnostics);
    assert!(fixed.snapshot.plugins.iter().all(|p| p.failed.is_none()));
}
