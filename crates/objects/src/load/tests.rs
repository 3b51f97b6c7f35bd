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
