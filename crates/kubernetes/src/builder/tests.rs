//! The incrementally maintained snapshot against a full rebuild (the builder this one replaced: every
//! object of every stream validated again after every event), and the change log against what changed.

use super::*;
use proptest::prelude::*;

const INGRESSES: usize = 0;
const SERVICES: usize = 1;
const PLUGINS: usize = 2;
const STREAMS: usize = 3;

/// Version `v` of an object of `stream` named `name`: for Ingresses `0` is invalid (no spec), for
/// WasmPlugins `0` is undecodable.
fn object(stream: usize, name: &str, v: u8) -> Observed {
    let json = match stream {
        INGRESSES if v == 0 => serde_json::json!({"metadata": {"name": name, "namespace": "ns"}}),
        INGRESSES => serde_json::json!({
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"rules": [{"host": format!("h{v}.example.com")}]},
        }),
        SERVICES => serde_json::json!({"metadata": {"name": name}, "spec": {"ports": [{"port": 80 + u16::from(v)}]}}),
        PLUGINS if v == 0 => return Observed::Undecodable(ObjectRef::new("WasmPlugin", "ns", name), "cannot decode".into()),
        _ => serde_json::json!({
            "apiVersion": oxigress_objects::wasm_plugin::API_VERSION, "kind": "WasmPlugin",
            "metadata": {"name": name, "namespace": "ns"}, "spec": {"url": format!("oci://p{v}")},
        }),
    };
    let object = match stream {
        INGRESSES => KubeObject::Ingress(serde_json::from_value(json).unwrap()),
        SERVICES => KubeObject::Service(serde_json::from_value(json).unwrap()),
        _ => KubeObject::WasmPlugin(serde_json::from_value(json).unwrap()),
    };
    Observed::object(object)
}

#[derive(Debug, Clone)]
enum Step {
    Apply(usize, &'static str, u8),
    Delete(usize, &'static str),
    /// A re-list holding these objects; `true`: another event of the stream arrives in the middle.
    Relist(usize, Vec<(&'static str, u8)>, bool),
    Publish,
}

fn step() -> impl Strategy<Value = Step> {
    let stream = 0..STREAMS;
    let name = prop::sample::select(vec!["a", "b", "c"]);
    let version = 0u8..3;
    prop_oneof![
        6 => (stream.clone(), name.clone(), version.clone()).prop_map(|(s, n, v)| Step::Apply(s, n, v)),
        2 => (stream.clone(), name.clone()).prop_map(|(s, n)| Step::Delete(s, n)),
        1 => (stream, prop::collection::btree_map(name, version, 0..3), any::<bool>())
            .prop_map(|(s, objects, interleaved)| Step::Relist(s, objects.into_iter().collect(), interleaved)),
        3 => Just(Step::Publish),
    ]
}

/// The events a step produces.
fn events(step: &Step) -> Vec<StreamEvent> {
    let event = |stream, change| StreamEvent { stream, change };
    match step {
        Step::Apply(s, name, v) => vec![event(*s, Change::Apply(object(*s, name, *v)))],
        Step::Delete(s, name) => vec![event(*s, Change::Delete(object(*s, name, 1).reference()))],
        Step::Relist(s, objects, interleaved) => {
            let mut out = vec![event(*s, Change::Init)];
            out.extend(objects.iter().map(|(name, v)| event(*s, Change::InitApply(object(*s, name, *v)))));
            if *interleaved {
                // A watch event the reflector would apply only to the old store; a re-listed object
                // may be deleted again before the list completes.
                out.insert(1, event(*s, Change::Apply(object(*s, "c", 2))));
                out.push(event(*s, Change::Delete(object(*s, "a", 1).reference())));
            }
            out.push(event(*s, Change::InitDone));
            out
        }
        Step::Publish => Vec::new(),
    }
}

/// The objects every stream holds (as the events say) and the full rebuild from them.
#[derive(Default)]
struct FullRebuild {
    streams: BTreeMap<usize, BTreeMap<ObjectRef, Observed>>,
    listed: BTreeMap<usize, BTreeSet<ObjectRef>>,
    last_good: BTreeMap<ObjectRef, KubeObject>,
}

impl FullRebuild {
    fn event(&mut self, event: &StreamEvent) {
        let objects = self.streams.entry(event.stream).or_default();
        match &event.change {
            Change::Apply(o) => {
                objects.insert(o.reference(), o.clone());
            }
            Change::InitApply(o) => {
                self.listed.entry(event.stream).or_default().insert(o.reference());
                objects.insert(o.reference(), o.clone());
            }
            Change::Delete(r) => {
                objects.remove(r);
            }
            Change::Init => {
                self.listed.insert(event.stream, BTreeSet::new());
            }
            Change::InitDone => {
                let listed = self.listed.remove(&event.stream).unwrap_or_default();
                objects.retain(|r, _| listed.contains(r));
            }
        }
    }

    /// Every object validated again, keeping the last good version of invalid ones.
    fn build(&mut self) -> (Resources, Vec<Diagnostic>) {
        let all: BTreeMap<&ObjectRef, &Observed> = self.streams.values().flatten().collect();
        let mut resources = Resources::default();
        let mut diagnostics = Vec::new();
        let mut seen = BTreeSet::new();
        for (reference, observed) in all {
            let problem = match observed {
                Observed::Object(object) => {
                    let problems = validate(object);
                    if problems.is_empty() {
                        self.last_good.insert(reference.clone(), object.clone());
                        seen.insert(reference.clone());
                        resources.insert(object.clone());
                        continue;
                    }
                    problems.join("; ")
                }
                Observed::Undecodable(_, message) => message.clone(),
            };
            let kept = self.last_good.get(reference).cloned();
            let suffix = if kept.is_some() { "; keeping its last good version" } else { "" };
            diagnostics.push(Diagnostic::error("InvalidObject", Some(reference.clone()), format!("{problem}{suffix}")));
            if let Some(kept) = kept {
                seen.insert(reference.clone());
                resources.insert(kept);
            }
        }
        self.last_good.retain(|r, _| seen.contains(r));
        (resources, diagnostics)
    }
}

/// The refs whose entries differ between `a` and `b`.
fn differences(a: &Resources, b: &Resources) -> BTreeSet<ObjectRef> {
    let all = |r: &Resources| -> BTreeMap<ObjectRef, String> {
        let mut out = BTreeMap::new();
        for (k, o) in &r.ingresses {
            out.insert(ObjectRef::new("Ingress", &k.namespace, &k.name), format!("{o:?}"));
        }
        for (k, o) in &r.services {
            out.insert(ObjectRef::new("Service", &k.namespace, &k.name), format!("{o:?}"));
        }
        for (k, o) in &r.wasm_plugins {
            out.insert(ObjectRef::new("WasmPlugin", &k.namespace, &k.name), format!("{o:?}"));
        }
        out
    };
    let (a, b) = (all(a), all(b));
    a.keys().chain(b.keys()).filter(|r| a.get(*r) != b.get(*r)).cloned().collect()
}

/// A builder whose streams all completed an empty first list, and its first snapshot.
fn started() -> (Builder, SourceSnapshot) {
    let mut builder = Builder::new(STREAMS);
    let mut snapshot = SourceSnapshot::default();
    for stream in 0..STREAMS {
        builder.apply(&mut snapshot.resources, StreamEvent { stream, change: Change::Init });
        assert!(!builder.synced());
        builder.apply(&mut snapshot.resources, StreamEvent { stream, change: Change::InitDone });
    }
    assert!(builder.synced());
    builder.publish(&mut snapshot);
    (builder, snapshot)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the events (changes, deletions, invalid versions, re-lists) and however they are
    /// batched, the published snapshot is the full rebuild's, and its change log names every object
    /// that differs from the previous snapshot.
    #[test]
    fn incremental_snapshots_equal_a_full_rebuild(steps in prop::collection::vec(step(), 1..40)) {
        let (mut builder, mut snapshot) = started();
        let mut full = FullRebuild::default();
        let mut expected = full.build();
        // The resources and revision of the last publish.
        let mut published = (snapshot.resources.clone(), snapshot.revision);
        for step in steps.iter().chain([&Step::Publish]) {
            for event in events(step) {
                full.event(&event);
                expected = full.build();
                builder.apply(&mut snapshot.resources, event);
            }
            if !matches!(step, Step::Publish) {
                continue;
            }
            let (before, revision) = std::mem::take(&mut published);
            if builder.pending() {
                builder.publish(&mut snapshot);
            }
            prop_assert_eq!(&snapshot.resources, &expected.0, "after {:?}", steps);
            prop_assert_eq!(&snapshot.diagnostics, &expected.1);
            let logged = snapshot.changes.since(revision);
            prop_assert!(logged.is_some(), "the log reaches back to every revision");
            let logged = logged.unwrap_or_default();
            for reference in differences(&before, &snapshot.resources) {
                prop_assert!(logged.contains(&reference), "{} changed but is not logged", reference);
            }
            published = (snapshot.resources.clone(), snapshot.revision);
        }
    }
}

#[test]
fn one_changed_ingress_is_all_the_log_says() {
    let (mut builder, mut snapshot) = started();
    for name in ["a", "b", "c"] {
        let change = Change::Apply(object(INGRESSES, name, 1));
        builder.apply(&mut snapshot.resources, StreamEvent { stream: INGRESSES, change });
    }
    builder.publish(&mut snapshot);
    let revision = snapshot.revision;
    let change = Change::Apply(object(INGRESSES, "b", 2));
    builder.apply(&mut snapshot.resources, StreamEvent { stream: INGRESSES, change });
    // The same version again (a re-list after 410 Gone) changes nothing.
    let change = Change::Apply(object(INGRESSES, "c", 1));
    builder.apply(&mut snapshot.resources, StreamEvent { stream: INGRESSES, change });
    builder.publish(&mut snapshot);
    assert_eq!(snapshot.changes.since(revision), Some(BTreeSet::from([ObjectRef::new("Ingress", "ns", "b")])));
}

#[test]
fn a_relist_removes_what_it_no_longer_lists_and_nothing_else_changes() {
    let (mut builder, mut snapshot) = started();
    for name in ["a", "b"] {
        let change = Change::Apply(object(SERVICES, name, 1));
        builder.apply(&mut snapshot.resources, StreamEvent { stream: SERVICES, change });
    }
    builder.publish(&mut snapshot);
    let revision = snapshot.revision;
    for change in [Change::Init, Change::InitApply(object(SERVICES, "a", 1)), Change::InitDone] {
        builder.apply(&mut snapshot.resources, StreamEvent { stream: SERVICES, change });
    }
    assert!(builder.pending());
    builder.publish(&mut snapshot);
    assert_eq!(snapshot.changes.since(revision), Some(BTreeSet::from([ObjectRef::new("Service", "default", "b")])));
    assert_eq!(snapshot.resources.services.keys().map(|k| k.to_string()).collect::<Vec<_>>(), ["default/a"]);
    for change in [Change::Init, Change::InitApply(object(SERVICES, "a", 1)), Change::InitDone] {
        builder.apply(&mut snapshot.resources, StreamEvent { stream: SERVICES, change });
    }
    assert!(!builder.pending(), "a re-list that finds everything as it was publishes nothing");
}

#[test]
fn an_invalid_version_keeps_the_last_good_one_until_deleted() {
    let (mut builder, mut snapshot) = started();
    let apply = |v| StreamEvent { stream: INGRESSES, change: Change::Apply(object(INGRESSES, "a", v)) };
    builder.apply(&mut snapshot.resources, apply(1));
    builder.apply(&mut snapshot.resources, apply(0));
    builder.publish(&mut snapshot);
    assert_eq!(snapshot.resources.ingresses.len(), 1, "the last good version stays");
    assert_eq!(snapshot.diagnostics.len(), 1);
    assert!(snapshot.diagnostics[0].message.ends_with("; keeping its last good version"));
    let reference = ObjectRef::new("Ingress", "ns", "a");
    builder.apply(&mut snapshot.resources, StreamEvent { stream: INGRESSES, change: Change::Delete(reference) });
    builder.apply(&mut snapshot.resources, apply(0));
    builder.publish(&mut snapshot);
    assert!(snapshot.resources.ingresses.is_empty(), "a re-created invalid object has no last good version");
    assert!(!snapshot.diagnostics[0].message.ends_with("; keeping its last good version"));
}
