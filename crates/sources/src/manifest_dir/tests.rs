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

fn service(name: &str, port: u16) -> String {
    format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: ns}}\nspec: {{ports: [{{port: {port}}}]}}\n")
}

#[test]
fn duplicates_are_reported_and_the_last_definition_in_path_order_wins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), service("x", 80)).unwrap();
    std::fs::write(dir.path().join("b.yaml"), format!("{}---\n{}", service("x", 81), service("x", 82))).unwrap();
    let mut manifests = ManifestDir::new(dir.path());
    let snapshot = manifests.reload();
    let key = oxigress_objects::ObjectKey::new("ns", "x");
    assert_eq!(snapshot.resources.services[&key].spec.as_ref().unwrap().ports.as_ref().unwrap()[0].port, 82);
    let messages: Vec<&str> = snapshot.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "also defined in b.yaml; the definition in b.yaml wins",
            "also defined in a.yaml; the definition in b.yaml wins"
        ]
    );
}

/// One step of an edit history: write file `file` with these (name, port) services (port 0 = a document
/// that is not a valid Service), break it, or delete it.
#[derive(Debug, Clone)]
enum Step {
    Write(usize, Vec<(char, u16)>),
    Break(usize),
    Delete(usize),
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    let services = proptest::collection::vec((prop::sample::select(vec!['a', 'b', 'c', 'd']), 0u16..3), 0..4);
    prop_oneof![
        6 => (0usize..4, services).prop_map(|(f, s)| Step::Write(f, s)),
        1 => (0usize..4).prop_map(Step::Break),
        1 => (0usize..4).prop_map(Step::Delete),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Applying only what changed gives exactly what reading everything again gives, whatever the edits.
    #[test]
    fn incremental_apply_equals_a_full_reload(steps in proptest::collection::vec(step(), 1..10)) {
        let dir = tempfile::tempdir().unwrap();
        let mut incremental = ManifestDir::new(dir.path());
        let mut full = ManifestDir::new(dir.path());
        let mut snapshot = incremental.reload();
        full.reload();
        for step in steps {
            let path = |f: usize| dir.path().join(format!("f{f}.yaml"));
            match &step {
                Step::Write(f, services) => {
                    let text: Vec<String> = services
                        .iter()
                        .map(|(name, port)| match port {
                            0 => format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: ns}}\nspec: {{ports: [{{port: bad}}]}}\n"),
                            p => service(&name.to_string(), 80 + p),
                        })
                        .collect();
                    std::fs::write(path(*f), text.join("---\n")).unwrap();
                }
                Step::Break(f) => std::fs::write(path(*f), "kind: [broken").unwrap(),
                Step::Delete(f) => {
                    let _ = std::fs::remove_file(path(*f));
                }
            }
            let (before, revision) = (snapshot.resources.services.clone(), snapshot.revision);
            if incremental.read() {
                incremental.apply(&mut snapshot);
            }
            // The change log names every object that differs now (what incremental translation relies on).
            let logged = snapshot.changes.since(revision).unwrap();
            let after = &snapshot.resources.services;
            for key in before.keys().chain(after.keys()) {
                if before.get(key) != after.get(key) {
                    let reference = ObjectRef::new("Service", &key.namespace, &key.name);
                    proptest::prop_assert!(logged.contains(&reference), "{} changed but is not logged", reference);
                }
            }
            let expected = full.reload();
            proptest::prop_assert_eq!(&snapshot.resources, &expected.resources, "after {:?}", step);
            proptest::prop_assert_eq!(&snapshot.diagnostics, &expected.diagnostics, "after {:?}", step);
        }
    }
}

#[test]
fn only_changes_of_objects_or_diagnostics_count_as_changes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), SERVICE_A).unwrap();
    let mut manifests = ManifestDir::new(dir.path());
    manifests.reload();
    assert!(!manifests.read(), "nothing changed");
    std::fs::write(dir.path().join("b.yaml"), "").unwrap();
    assert!(!manifests.read(), "a file created empty (before it is written) changes nothing");
    std::fs::write(dir.path().join("a.yaml"), format!("# a comment\n{SERVICE_A}")).unwrap();
    assert!(!manifests.read(), "a comment changes nothing");
    std::fs::remove_file(dir.path().join("b.yaml")).unwrap();
    assert!(!manifests.read(), "removing an empty file changes nothing");
    std::fs::write(dir.path().join("b.yaml"), SERVICE_B).unwrap();
    assert!(manifests.read(), "a new object");
    std::fs::write(dir.path().join("b.yaml"), "kind: [broken").unwrap();
    assert!(manifests.read(), "a new diagnostic");
}

#[test]
fn the_change_log_answers_only_as_far_back_as_it_reaches() {
    let mut log = crate::ChangeLog::default();
    assert_eq!(log.since(0), None, "nothing known before start");
    log.start(5);
    assert_eq!(log.since(4), None);
    assert_eq!(log.since(5), Some(BTreeSet::new()));
    log.record(6, [ObjectRef::new("Service", "ns", "a")]);
    log.record(7, [ObjectRef::new("Service", "ns", "b")]);
    assert_eq!(log.since(6), Some(BTreeSet::from([ObjectRef::new("Service", "ns", "b")])));
    assert_eq!(log.since(5).map(|s| s.len()), Some(2));
    log.record(8, (0..20_000).map(|i| ObjectRef::new("Service", "ns", &format!("s{i}"))));
    assert_eq!(log.since(7), None, "entries of revision 8 were dropped");
    assert_eq!(log.since(8), Some(BTreeSet::new()));
}

#[test]
fn files_whose_settled_metadata_is_unchanged_are_not_read_again() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), SERVICE_A).unwrap();
    std::fs::write(dir.path().join("b.yaml"), SERVICE_B).unwrap();
    let mut manifests = ManifestDir::new(dir.path());
    // why: the files were just written; with the real settle time they would be read every time
    // (tested below). Zero trusts the stamps at once.
    manifests.settle = Duration::ZERO;
    let mut snapshot = manifests.reload();
    assert_eq!(manifests.files_read(), 2);
    assert!(!manifests.read());
    assert_eq!(manifests.files_read(), 2, "neither file is read again");

    // Replaced by rename (as ConfigMap volumes and atomic writers do): another inode.
    let temporary = dir.path().join(".a.yaml.tmp");
    std::fs::write(&temporary, SERVICE_A.replace("port: 80", "port: 90")).unwrap();
    std::fs::rename(&temporary, dir.path().join("a.yaml")).unwrap();
    assert!(manifests.read());
    assert_eq!(manifests.files_read(), 3, "only the replaced file is read");
    manifests.apply(&mut snapshot);
    let port = snapshot.resources.services[&oxigress_objects::ObjectKey::new("ns", "a")].spec.as_ref().unwrap().ports
        .as_ref()
        .unwrap()[0]
        .port;
    assert_eq!(port, 90);

    // Rewritten in place with another length.
    std::fs::write(dir.path().join("b.yaml"), format!("{SERVICE_B}# longer\n")).unwrap();
    assert!(!manifests.read(), "a comment changes nothing");
    assert_eq!(manifests.files_read(), 4);

    assert!(!manifests.read_all());
    assert_eq!(manifests.files_read(), 6, "read_all reads every file");
}

#[test]
fn files_changed_within_the_settle_time_are_read_every_time() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), SERVICE_A).unwrap();
    let mut manifests = ManifestDir::new(dir.path());
    manifests.reload();
    assert!(!manifests.read());
    assert!(!manifests.read());
    // A write within the same timestamp tick and of the same length would leave the stamp as it was;
    // a just-written file is therefore compared by its text.
    assert_eq!(manifests.files_read(), 3);
}

#[test]
fn an_unreadable_file_is_read_again_once_readable() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.yaml");
    std::fs::write(&file, SERVICE_A).unwrap();
    let mut manifests = ManifestDir::new(dir.path());
    manifests.settle = Duration::ZERO;
    manifests.reload();
    // Not UTF-8: reading fails (also as root, unlike a permission change); the objects stay.
    std::fs::write(&file, b"\xff\xfe").unwrap();
    let snapshot = manifests.reload();
    assert_eq!(names(&snapshot), ["ns/a"]);
    assert_eq!(snapshot.diagnostics[0].code, "ReadError");
    std::fs::write(&file, SERVICE_A).unwrap();
    let snapshot = manifests.reload();
    assert_eq!(names(&snapshot), ["ns/a"]);
    assert!(snapshot.diagnostics.is_empty(), "{:?}", snapshot.diagnostics);
}

#[test]
fn files_are_listed_in_path_order_across_directories() {
    let dir = tempfile::tempdir().unwrap();
    // Byte order of the whole path would put `a.b.yaml` before `a/…` ('.' < '/'); path order does not.
    for sub in ["a", "a/c", "b-", "b", ".hidden"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    for file in ["a.yaml", "a.b.yaml", "a/z.yml", "a/c/x.json", "a/c.yaml", "b-/k.yaml", "b/k.yaml", "B.yaml", ".x.yaml", ".hidden/y.yaml", "n.txt"] {
        std::fs::write(dir.path().join(file), "").unwrap();
    }
    let listed = manifest_files(dir.path()).unwrap();
    let mut expected: Vec<PathBuf> = ["a.yaml", "a.b.yaml", "a/z.yml", "a/c/x.json", "a/c.yaml", "b-/k.yaml", "b/k.yaml", "B.yaml"]
        .iter()
        .map(|f| dir.path().join(f))
        .collect();
    expected.sort();
    assert_eq!(listed, expected);
}
