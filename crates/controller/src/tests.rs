use oxigress_objects::{load_documents, LoadedDocument, ObjectRef, Resources};

use super::*;

fn mk_source(annotations: &str, revision: u64) -> Arc<SourceSnapshot> {
    let text = format!(
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {{name: higress}}\nspec: {{controller: higress.io/higress-controller}}\n---\n\
apiVersion: v1\nkind: Service\nmetadata: {{name: svc, namespace: apps}}\nspec: {{ports: [{{port: 80}}]}}\n---\n\
apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: shop\n  namespace: apps\n  annotations:\n{annotations}\
spec:\n  ingressClassName: higress\n  rules:\n  - host: shop.com\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend: {{service: {{name: svc, port: {{number: 80}}}}}}\n"
    );
    let objects = load_documents(&text).unwrap().into_iter().filter_map(|d| match d {
        LoadedDocument::Object(o) => Some(o),
        _ => None,
    });
    Arc::new(SourceSnapshot { resources: Resources::from_objects(objects), diagnostics: Vec::new(), revision, changes: Default::default() })
}

/// `source` with a change log as the manifest source writes it: every object changed by every earlier
/// revision, and only `last` by `source`'s own revision.
fn logged(source: Arc<SourceSnapshot>, last: &[(&str, &str, &str)]) -> Arc<SourceSnapshot> {
    let mut source = (*source).clone();
    let all = [("IngressClass", "", "higress"), ("Service", "apps", "svc"), ("Ingress", "apps", "shop")];
    let refs = |list: &[(&str, &str, &str)]| list.iter().map(|(k, ns, n)| ObjectRef::new(k, ns, n)).collect::<Vec<_>>();
    source.changes.start(0);
    for revision in 1..source.revision {
        source.changes.record(revision, refs(&all));
    }
    source.changes.record(source.revision, refs(last));
    Arc::new(source)
}

fn rewrite(snapshot: &Snapshot) -> Option<String> {
    snapshot.virtual_hosts.iter().flat_map(|v| &v.routes).find_map(|r| r.policy.path_rewrite.as_ref()).map(|p| p.substitution.clone())
}

fn invalid(controller: &Controller) -> Vec<Diagnostic> {
    controller.diagnostics.current().iter().filter(|d| d.code == INVALID_ANNOTATION).cloned().collect()
}

async fn next(controller: &mut Controller) -> Arc<Snapshot> {
    tokio::time::timeout(std::time::Duration::from_secs(10), controller.snapshots.changed()).await.unwrap().unwrap();
    controller.snapshots.borrow_and_update().clone().unwrap()
}

#[tokio::test]
async fn an_invalid_annotation_keeps_the_ingress_last_good_version() {
    let valid = "    nginx.ingress.kubernetes.io/rewrite-target: /v1\n";
    let (tx, rx) = watch::channel(mk_source(valid, 1));
    let mut controller = Controller::spawn(InstanceOptions::default(), rx, ControllerMetrics::default());
    let first = controller.snapshots.borrow_and_update().clone().unwrap();
    assert_eq!(rewrite(&first).as_deref(), Some("/v1"));

    // Edited: a new rewrite, and an invalid timeout: the old form stays, the diagnostic says so.
    let broken = "    nginx.ingress.kubernetes.io/rewrite-target: /v2\n    higress.io/timeout: soon\n";
    tx.send(mk_source(broken, 2)).unwrap();
    tokio::task::yield_now().await;
    let diagnostics = {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let found = invalid(&controller);
            if !found.is_empty() || std::time::Instant::now() > deadline {
                break found;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert!(diagnostics[0].message.contains("higress.io/timeout") && diagnostics[0].message.contains("last good"));
    assert_eq!(rewrite(&controller.snapshots.borrow().clone().unwrap()).as_deref(), Some("/v1"));

    // Fixed: the new version serves.
    let fixed = "    nginx.ingress.kubernetes.io/rewrite-target: /v2\n    higress.io/timeout: \"5\"\n";
    tx.send(mk_source(fixed, 3)).unwrap();
    let snapshot = next(&mut controller).await;
    assert_eq!(rewrite(&snapshot).as_deref(), Some("/v2"));
    assert!(invalid(&controller).is_empty());
}

/// The same with the change log of a manifest source (incremental translation): a later change that
/// does not touch the Ingress keeps its last good version too.
#[tokio::test]
async fn an_invalid_annotation_keeps_the_last_good_version_across_incremental_translations() {
    let ingress = [("Ingress", "apps", "shop")];
    let valid = "    nginx.ingress.kubernetes.io/rewrite-target: /v1\n";
    let (tx, rx) = watch::channel(logged(mk_source(valid, 1), &ingress));
    let metrics = ControllerMetrics::default();
    let mut controller = Controller::spawn(InstanceOptions::default(), rx, metrics.clone());
    let first = controller.snapshots.borrow_and_update().clone().unwrap();
    assert_eq!(rewrite(&first).as_deref(), Some("/v1"));

    let broken = "    nginx.ingress.kubernetes.io/rewrite-target: /v2\n    higress.io/timeout: soon\n";
    for (revision, changed) in [(2, &ingress[..]), (3, &[("Service", "apps", "svc")][..]), (4, &[][..])] {
        tx.send(logged(mk_source(broken, revision), changed)).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while metrics.reloads() < revision {
            assert!(std::time::Instant::now() < deadline, "revision {revision} not translated");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let diagnostics = invalid(&controller);
        assert!(diagnostics[0].message.contains("last good"), "revision {revision}: {diagnostics:?}");
        assert_eq!(rewrite(&controller.snapshots.borrow().clone().unwrap()).as_deref(), Some("/v1"), "revision {revision}");
    }

    let fixed = "    nginx.ingress.kubernetes.io/rewrite-target: /v2\n    higress.io/timeout: \"5\"\n";
    tx.send(logged(mk_source(fixed, 5), &ingress)).unwrap();
    let snapshot = next(&mut controller).await;
    assert_eq!(rewrite(&snapshot).as_deref(), Some("/v2"));
    assert!(invalid(&controller).is_empty());
}

#[tokio::test]
async fn a_new_ingress_with_an_invalid_annotation_only_loses_that_annotation() {
    let broken = "    nginx.ingress.kubernetes.io/rewrite-target: /v2\n    higress.io/timeout: soon\n";
    let (_tx, rx) = watch::channel(mk_source(broken, 1));
    let controller = Controller::spawn(InstanceOptions::default(), rx, ControllerMetrics::default());
    let snapshot = controller.snapshots.borrow().clone().unwrap();
    assert_eq!(rewrite(&snapshot).as_deref(), Some("/v2"));
    let diagnostics = invalid(&controller);
    assert_eq!(diagnostics.len(), 1);
    assert!(!diagnostics[0].message.contains("last good"));
}

fn error_statuses(snapshot: &Snapshot) -> Option<Vec<u16>> {
    snapshot.virtual_hosts.iter().flat_map(|v| &v.routes).find_map(|r| {
        let oxigress_ir::RouteAction::Forward(forward) = &r.action;
        forward.error_fallback.as_ref().map(|f| f.statuses.clone())
    })
}

#[tokio::test]
async fn an_invalid_custom_http_error_keeps_the_last_good_fallback_codes() {
    let codes = |list: &str| format!("    nginx.ingress.kubernetes.io/default-backend: svc\n    nginx.ingress.kubernetes.io/custom-http-errors: \"{list}\"\n");
    let (tx, rx) = watch::channel(mk_source(&codes("404"), 1));
    let mut controller = Controller::spawn(InstanceOptions::default(), rx, ControllerMetrics::default());
    let first = controller.snapshots.borrow_and_update().clone().unwrap();
    assert_eq!(error_statuses(&first), Some(vec![404]));

    tx.send(mk_source(&codes("502,abc"), 2)).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while invalid(&controller).is_empty() {
        assert!(std::time::Instant::now() < deadline, "no diagnostic for the invalid code");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let diagnostics = invalid(&controller);
    assert!(diagnostics[0].message.contains("custom-http-errors") && diagnostics[0].message.contains("last good"), "{diagnostics:?}");
    assert_eq!(error_statuses(&controller.snapshots.borrow().clone().unwrap()), Some(vec![404]), "the last good codes stay");

    tx.send(mk_source(&codes("502"), 3)).unwrap();
    let snapshot = next(&mut controller).await;
    assert_eq!(error_statuses(&snapshot), Some(vec![502]));
    assert!(invalid(&controller).is_empty());
}
