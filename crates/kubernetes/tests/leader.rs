//! Leader election against the API-server stand-in: one leader per instance, takeover after a crash,
//! immediate handover on release, independent instances.

#![allow(clippy::unwrap_used)]

mod common;

use common::{lease, until_leaders, TIMEOUT};
use k8s_openapi::api::coordination::v1::Lease;
use oxigress_kube_standin::StandIn;
use oxigress_kubernetes::{is_leading, LeaderElector, LeaderHandle, LeaseConfig};
use std::time::Duration;

const NS: &str = "higress-system";

fn spawn(k8s: &StandIn, instance: &str, identity: &str) -> LeaderHandle {
    LeaderElector::spawn(k8s.client(identity).unwrap(), lease(NS, instance, identity))
}

fn lease_of(k8s: &StandIn, instance: &str) -> Lease {
    serde_json::from_value(k8s.get("coordination.k8s.io/v1", "Lease", Some(NS), instance).unwrap()).unwrap()
}

fn holder(k8s: &StandIn, instance: &str) -> Option<String> {
    lease_of(k8s, instance).spec.unwrap().holder_identity
}

/// Lease reads by `client` so far.
fn lease_reads(k8s: &StandIn, client: &str) -> usize {
    k8s.requests()
        .iter()
        .filter(|r| r.client.as_deref() == Some(client) && r.method == "GET" && r.path.contains("/leases/"))
        .count()
}

/// Waits until `client` has read the lease `rounds` more times (its election rounds).
async fn rounds(k8s: &StandIn, client: &str, rounds: usize) {
    let start = lease_reads(k8s, client);
    k8s.wait_for(TIMEOUT, |k| lease_reads(k, client) >= start + rounds).await.unwrap();
}

#[tokio::test]
async fn one_leader_per_instance_and_takeover_after_a_crash() {
    let k8s = StandIn::start().await.unwrap();
    let a = spawn(&k8s, "higress-prod", "prod-0");
    let b = spawn(&k8s, "higress-prod", "prod-1");
    let mut channels = [a.is_leader.clone(), b.is_leader.clone()];
    until_leaders("one leader", &mut channels, |v| v.iter().filter(|l| **l).count() == 1).await;
    let (leader, follower, follower_id) = if is_leading(&a.is_leader) { (a, b, "prod-1") } else { (b, a, "prod-0") };

    // Longer than the 2 s lease: the leader keeps renewing, the follower never takes over.
    rounds(&k8s, follower_id, 25).await;
    assert!(is_leading(&leader.is_leader) && !is_leading(&follower.is_leader));
    let spec = lease_of(&k8s, "higress-prod").spec.unwrap();
    assert_ne!(spec.holder_identity.as_deref(), Some(follower_id));
    assert_eq!(spec.lease_transitions, Some(0));
    assert_eq!(spec.lease_duration_seconds, Some(2));

    // A crash: no release. The follower takes over once the lease expired.
    leader.task.abort();
    let mut channels = [follower.is_leader.clone()];
    until_leaders("takeover", &mut channels, |v| v[0]).await;
    assert_eq!(holder(&k8s, "higress-prod").as_deref(), Some(follower_id));
    assert_eq!(lease_of(&k8s, "higress-prod").spec.unwrap().lease_transitions, Some(1));
    assert!(!is_leading(&leader.is_leader), "a stopped elector does not claim leadership");
}

#[tokio::test]
async fn release_hands_over_at_once() {
    let k8s = StandIn::start().await.unwrap();
    // A lease far longer than the wait: only the release can explain a quick handover.
    let long = |identity: &str| LeaseConfig {
        lease_duration: Duration::from_secs(300),
        renew_deadline: Duration::from_secs(200),
        ..lease(NS, "higress-prod", identity)
    };
    let a = LeaderElector::spawn(k8s.client("prod-0").unwrap(), long("prod-0"));
    let mut first = [a.is_leader.clone()];
    until_leaders("first leader", &mut first, |v| v[0]).await;
    let b = LeaderElector::spawn(k8s.client("prod-1").unwrap(), long("prod-1"));
    rounds(&k8s, "prod-1", 2).await;
    assert!(!is_leading(&b.is_leader));

    let mut watching_a = a.is_leader.clone();
    let started = tokio::time::Instant::now();
    tokio::time::timeout(TIMEOUT, a.release()).await.unwrap();
    assert!(!*watching_a.borrow_and_update(), "stepped down");
    let mut second = [b.is_leader.clone()];
    until_leaders("handover", &mut second, |v| v[0]).await;
    assert!(started.elapsed() < Duration::from_secs(30));
    let spec = lease_of(&k8s, "higress-prod").spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("prod-1"));
    assert_eq!(spec.lease_transitions, Some(1));
}

#[tokio::test]
async fn different_instances_lead_independently() {
    let k8s = StandIn::start().await.unwrap();
    let prod = spawn(&k8s, "higress-prod", "prod-0");
    let test = spawn(&k8s, "higress-test", "test-0");
    let mut channels = [prod.is_leader.clone(), test.is_leader.clone()];
    until_leaders("both lead", &mut channels, |v| v[0] && v[1]).await;
    assert_eq!(holder(&k8s, "higress-prod").as_deref(), Some("prod-0"));
    assert_eq!(holder(&k8s, "higress-test").as_deref(), Some("test-0"));
}

#[tokio::test]
async fn a_leader_whose_lease_was_taken_steps_down() {
    let k8s = StandIn::start().await.unwrap();
    let a = spawn(&k8s, "higress-prod", "prod-0");
    let mut channels = [a.is_leader.clone()];
    until_leaders("leader", &mut channels, |v| v[0]).await;
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    k8s.apply(serde_json::json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "higress-prod", "namespace": NS},
        "spec": {"holderIdentity": "intruder", "leaseDurationSeconds": 300, "renewTime": now, "acquireTime": now},
    }))
    .unwrap();
    until_leaders("stepped down", &mut channels, |v| !v[0]).await;
    assert_eq!(holder(&k8s, "higress-prod").as_deref(), Some("intruder"));
}
