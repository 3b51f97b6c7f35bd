//! Start-up and per-change translation time with many Ingresses, as `bench/propagation.sh` measures them
//! end to end: N Ingresses, each with its own Service, EndpointSlice and host (the objects
//! `bench/gen_manifests.py manifests` writes), translated once in full, then C changes that each add one
//! more Ingress (`gen_manifests.py ingress I`) through a [`TranslateMemo`] told what changed.
//!
//! `cargo run -p oxigress-translate --profile profiling --example full_translate -- [N] [CHANGES] [FULL_RUNS]`
//! (defaults 10000, 40, 5). Prints the median and the minimum (least disturbed by other
//! processes) of the full translations and of the changes.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use oxigress_objects::{load_documents, LoadedDocument, ObjectRef, Resources};
use oxigress_translate::{translate_after, translate_with_memo, InstanceOptions, TranslateMemo};

// The allocator of the oxigress binary (crates/cli/src/main.rs): allocation-heavy code times differently
// with glibc's malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HEADER: &str = "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: higress}\n";
const BACKEND_PORT: u16 = 18080;

/// One app, the text `gen_manifests.py`'s `app()` writes.
fn app(name: &str, host: &str) -> String {
    format!(
        r#"---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: bench}}
spec: {{ports: [{{port: 80}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: {name}-1, namespace: bench, labels: {{kubernetes.io/service-name: {name}}}}}
addressType: IPv4
ports: [{{name: "", port: {BACKEND_PORT}}}]
endpoints: [{{addresses: ["127.0.0.1"]}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: {name}, namespace: bench}}
spec:
  ingressClassName: higress
  rules:
  - host: {host}
    http: {{paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: {name}, port: {{number: 80}}}}}}}}]}}
"#
    )
}

/// Loads `text` into `resources`; returns the references of what it loaded.
fn load(resources: &mut Resources, text: &str) -> BTreeSet<ObjectRef> {
    let mut loaded = BTreeSet::new();
    for document in load_documents(text).unwrap() {
        if let LoadedDocument::Object(mut object) = document {
            object.normalize_namespace();
            loaded.insert(object.object_ref());
            resources.insert(object);
        }
    }
    loaded
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    let ingresses = args.first().copied().unwrap_or(10_000);
    let changes = args.get(1).copied().unwrap_or(40);
    let full_runs = args.get(2).copied().unwrap_or(5).max(1);

    let mut resources = Resources::default();
    load(&mut resources, HEADER);
    for start in (0..ingresses).step_by(100) {
        let text: String = (start..ingresses.min(start + 100)).map(|i| app(&format!("app-{i}"), &format!("app-{i}.bench.local"))).collect();
        load(&mut resources, &text);
    }
    let options = InstanceOptions::default();

    let mut full = Vec::new();
    for _ in 0..full_runs {
        let started = Instant::now();
        let translation = translate_after(&resources, &options, None);
        full.push(started.elapsed());
        assert_eq!(translation.snapshot.virtual_hosts.len(), ingresses);
    }

    let mut memo = TranslateMemo::default();
    let started = Instant::now();
    let mut last = translate_with_memo(&mut memo, &resources, &options, None, None);
    let first_memo = started.elapsed();
    let mut per_change = Vec::new();
    for i in 0..changes {
        let name = format!("change-{i}");
        let changed = load(&mut resources, &app(&name, &format!("{name}.bench.local")));
        let started = Instant::now();
        let translation = translate_with_memo(&mut memo, &resources, &options, Some(&last.snapshot), Some(&changed));
        per_change.push(started.elapsed());
        assert_eq!(translation.snapshot.virtual_hosts.len(), ingresses + i + 1);
        last = translation;
    }
    let full_median = median(full.clone());
    println!("ingresses: {ingresses}");
    let full_min = full.iter().min().copied().unwrap_or_default();
    println!("full translate (translate_after), median of {full_runs}: {:.1} ms, min {:.1} ms", ms(full_median), ms(full_min));
    println!("full translate through a fresh memo: {:.1} ms", ms(first_memo));
    if !per_change.is_empty() {
        let min = per_change.iter().min().copied().unwrap_or_default();
        println!("per change (one new Ingress), median of {changes}: {:.2} ms, min {:.2} ms", ms(median(per_change)), ms(min));
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
