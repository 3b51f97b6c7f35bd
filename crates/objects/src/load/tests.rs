use super::*;

#[test]
fn multi_document_file_yields_each_object_and_ignores_unknown_kinds() {
    let text = r#"
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
"#;
    let docs = load_documents(text).unwrap();
    assert_eq!(docs.len(), 2);
    match &docs[0] {
        LoadedDocument::Object(object) => assert_eq!(object.object_ref().to_string(), "Service default/web"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(docs[1], LoadedDocument::Ignored { api_version: "example.com/v1".into(), kind: "Widget".into() });
}

#[test]
fn syntax_error_rejects_the_whole_text() {
    assert!(load_documents("kind: [unclosed").is_err());
}

#[test]
fn undecodable_document_is_invalid_but_named() {
    let text = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {ports: [{port: notanumber}]}\n";
    let docs = load_documents(text).unwrap();
    match &docs[0] {
        LoadedDocument::Invalid { object: Some(object), .. } => assert_eq!(object.to_string(), "Service shop/web"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn json_list_is_expanded() {
    let text = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}]}"#;
    let docs = load_documents(text).unwrap();
    assert!(matches!(&docs[0], LoadedDocument::Object(KubeObject::ConfigMap(_))));
}

#[test]
fn hostile_input_never_panics() {
    let deep = "[".repeat(100_000);
    let inputs = [
        "",
        "---\n---\n",
        "\0\u{1}\u{2}",
        "[1, 2",
        "kind: Ingress",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: 5\n",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: x}\nspec: {rules: [{http: {paths: [{path: 7}]}}]}\n",
        "apiVersion: v1\nkind: List\nitems: 5\n",
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 99999999999999999999}]}\n",
        "&a [*a, *a]",
        deep.as_str(),
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: x}\nspec: {rules: [{host: '*.*.x', http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 0}}}}]}}]}\n",
    ];
    for input in inputs {
        // Any outcome is fine except a panic or an accepted invalid object.
        if let Ok(documents) = load_documents(input) {
            for document in documents {
                if let LoadedDocument::Object(object) = document {
                    assert!(crate::validate::validate(&object).is_empty(), "accepted an invalid object from {input:?}");
                }
            }
        }
    }
}

#[test]
fn json_with_characters_yaml_refuses_still_loads() {
    let text = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\"},\"data\":{\"k\":\"\u{7f}\"}}\n{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"b\"}}";
    let docs = load_documents(text).unwrap();
    assert_eq!(docs.len(), 2);
    assert!(matches!(&docs[0], LoadedDocument::Object(KubeObject::ConfigMap(_))));
    // Text that only starts like JSON is YAML.
    assert_eq!(load_documents("{a: 1}\n").unwrap().len(), 1);
}

#[test]
fn deep_nesting_is_refused_quickly() {
    let depth = 100_000;
    let started = std::time::Instant::now();
    let text = format!("spec: {}1{}", "{a: ".repeat(depth), "}".repeat(depth));
    assert!(load_documents(&text).unwrap_err().0.contains("nested deeper"));
    let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(load_documents(&text).is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
    // 100 levels still parse.
    assert!(load_documents(&format!("{}{}", "[".repeat(100), "]".repeat(100))).is_ok());
}
