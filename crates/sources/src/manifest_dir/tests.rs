use super::*;

const SERVICE_A: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: ns}\nspec: {ports: [{port: 80}]}\n";
const SERVICE_B: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: b, namespace: ns}\nspec: {ports: [{port: 81}]}\n";

fn names(snapshot: &SourceSnapshot) -> Vec<String> {
    snapshot.resources.services.keys().map(|k| k.to_string()).collect()
}

#[test]
fn reads_files_and_keeps_last_good_on_parse_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), SERVICE_A).unwrap();
    std::fs::write(dir.path().join("b.yml"), SERVICE_B).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let mut manifests = ManifestDir::new(dir.path());
    let first = manifests.reload();
    assert_eq!(names(&first), ["ns/a", "ns/b"]);
    assert!(first.diagnostics.is_empty());

    std::fs::write(dir.path().join("a.yaml"), "kind: [broken").unwrap();
    let second = manifests.reload();
    assert_eq!(names(&second), ["ns/a", "ns/b"], "the broken file keeps its last good objects");
    assert_eq!(second.diagnostics.len(), 1);
    assert_eq!(second.diagnostics[0].code, "ParseError");
    assert_eq!(second.diagnostics[0].file.as_deref(), Some("a.yaml"));

    std::fs::remove_file(dir.path().join("a.yaml")).unwrap();
    let third = manifests.reload();
    assert_eq!(names(&third), ["ns/b"]);
    assert!(third.revision > second.revision);
}

#[test]
fn invalid_document_keeps_previous_version_of_that_object_only() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("all.yaml");
    std::fs::write(&file, format!("{SERVICE_A}---\n{SERVICE_B}")).unwrap();
    let mut manifests = ManifestDir::new(dir.path());
    manifests.reload();
    let broken_a = SERVICE_A.replace("port: 80", "port: eighty");
    let changed_b = SERVICE_B.replace("port: 81", "port: 82");
    std::fs::write(&file, format!("{broken_a}---\n{changed_b}")).unwrap();
    let snapshot = manifests.reload();
    let port = |name: &str| {
        let key = oxigress_objects::ObjectKey::new("ns", name);
        snapshot.resources.services[&key].spec.as_ref().unwrap().ports.as_ref().unwrap()[0].port
    };
    assert_eq!(port("a"), 80, "last good version of a keeps serving");
    assert_eq!(port("b"), 82, "b is updated");
    assert_eq!(snapshot.diagnostics.len(), 1);
    assert_eq!(snapshot.diagnostics[0].code, "InvalidObject");
    assert_eq!(snapshot.diagnostics[0].object.as_ref().unwrap().to_string(), "Service ns/a");
}
