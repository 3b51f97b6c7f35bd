//! Unit tests of [`plan_status`].

#![allow(clippy::unwrap_used)]

use super::*;
use oxigress_objects::KubeObject;
use serde_json::json;

fn ingress(ns: &str, name: &str, class: &str, ips: &[&str]) -> KubeObject {
    let entries: Vec<_> = ips.iter().map(|ip| json!({"ip": ip})).collect();
    let ing: Ingress = serde_json::from_value(json!({
        "metadata": {"namespace": ns, "name": name, "resourceVersion": "7"},
        "spec": {"ingressClassName": class},
        "status": {"loadBalancer": {"ingress": entries}},
    }))
    .unwrap();
    KubeObject::Ingress(ing)
}

fn options(class: &str, watch: &[&str]) -> InstanceOptions {
    InstanceOptions {
        instance_name: class.into(),
        ingress_class: class.into(),
        watch_namespaces: watch.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn addr(ip: &str) -> IngressLoadBalancerIngress {
    IngressLoadBalancerIngress { ip: Some(ip.into()), ..Default::default() }
}

fn ips(update: &StatusUpdate) -> Vec<&str> {
    update.entries.iter().filter_map(|e| e.ip.as_deref()).collect()
}

fn skip_of(plan: &StatusPlan, name: &str) -> Option<Skip> {
    plan.skipped.iter().find(|(k, _)| k.name == name).map(|(_, s)| *s)
}

#[test]
fn owned_get_ours_others_lose_ours() {
    let resources = Resources::from_objects([
        ingress("a", "fresh", "prod", &[]),
        ingress("a", "shared", "prod", &["10.0.0.2"]),
        ingress("a", "done", "prod", &["10.0.0.1"]),
        ingress("a", "moved", "test", &["10.0.0.1", "10.0.0.2"]),
        ingress("a", "foreign", "test", &["10.0.0.2"]),
    ]);
    let plan = plan_status(&resources, &options("prod", &[]), &[addr("10.0.0.1")], &BTreeSet::new());
    let by_name = |n: &str| plan.updates.iter().find(|u| u.ingress.name == n);
    assert_eq!(ips(by_name("fresh").unwrap()), ["10.0.0.1"]);
    assert_eq!(ips(by_name("shared").unwrap()), ["10.0.0.1", "10.0.0.2"], "another gateway's entry is kept");
    assert_eq!(ips(by_name("moved").unwrap()), ["10.0.0.2"], "exactly ours removed");
    assert!(!by_name("moved").unwrap().owned);
    assert_eq!(by_name("fresh").unwrap().resource_version.as_deref(), Some("7"));
    assert_eq!(skip_of(&plan, "done"), Some(Skip::UpToDate));
    assert_eq!(skip_of(&plan, "foreign"), Some(Skip::NotOwned));
    assert_eq!(plan.updates.len(), 3);
}

#[test]
fn previous_addresses_are_replaced_and_cleared() {
    let resources = Resources::from_objects([
        ingress("a", "mine", "prod", &["10.0.0.9"]),
        ingress("a", "gone", "test", &["10.0.0.9"]),
    ]);
    let previous: BTreeSet<AddressKey> = [address_key(&addr("10.0.0.9"))].into();
    let plan = plan_status(&resources, &options("prod", &[]), &[addr("10.0.0.1")], &previous);
    let by_name = |n: &str| plan.updates.iter().find(|u| u.ingress.name == n).unwrap();
    assert_eq!(ips(by_name("mine")), ["10.0.0.1"]);
    assert!(by_name("gone").entries.is_empty());
}

#[test]
fn no_addresses_no_owned_writes_but_stale_ours_cleared() {
    let resources =
        Resources::from_objects([ingress("a", "mine", "prod", &[]), ingress("a", "gone", "test", &["10.0.0.9"])]);
    let previous: BTreeSet<AddressKey> = [address_key(&addr("10.0.0.9"))].into();
    let plan = plan_status(&resources, &options("prod", &[]), &[], &previous);
    assert_eq!(skip_of(&plan, "mine"), Some(Skip::NoAddresses));
    assert_eq!(plan.updates.len(), 1);
    assert_eq!(plan.updates[0].ingress.name, "gone");
}

#[test]
fn unwatched_namespaces_are_never_written() {
    let resources =
        Resources::from_objects([ingress("b", "mine", "prod", &[]), ingress("b", "moved", "test", &["10.0.0.1"])]);
    let plan = plan_status(&resources, &options("prod", &["a"]), &[addr("10.0.0.1")], &BTreeSet::new());
    assert!(plan.updates.is_empty());
    assert_eq!(skip_of(&plan, "mine"), Some(Skip::NamespaceNotWatched));
    assert_eq!(skip_of(&plan, "moved"), Some(Skip::NamespaceNotWatched));
}
