use super::*;
use oxigress_ir::{Endpoint, UpstreamPolicy};

fn cluster(n: u16, lb: LoadBalance) -> Cluster {
    Cluster {
        id: "ns/svc:80".into(),
        endpoints: (0..n).map(|i| Endpoint { ip: "127.0.0.1".into(), port: 1000 + i }).collect(),
        upstream: UpstreamPolicy { load_balance: lb, ..UpstreamPolicy::default() },
    }
}

fn compile(c: &Cluster) -> ClusterRuntime {
    ClusterRuntime::compile(c, None, UpstreamConnect::default())
}

#[test]
fn round_robin_visits_every_endpoint() {
    let c = compile(&cluster(3, LoadBalance::RoundRobin));
    let mut seen = [0; 3];
    for _ in 0..9 {
        seen[c.pick(PickHint::default()).unwrap()] += 1;
    }
    assert_eq!(seen, [3, 3, 3]);
}

#[test]
fn five_failures_eject_and_the_picker_skips_the_endpoint() {
    let c = compile(&cluster(3, LoadBalance::RoundRobin));
    for _ in 0..EJECT_AFTER - 1 {
        assert!(!c.report_failure(1));
    }
    assert!(c.report_failure(1), "the fifth consecutive failure ejects");
    for _ in 0..30 {
        assert_ne!(c.pick(PickHint::default()), Some(1));
    }
}

#[test]
fn a_success_ends_the_streak() {
    let c = compile(&cluster(2, LoadBalance::RoundRobin));
    for _ in 0..EJECT_AFTER - 1 {
        c.report_failure(0);
    }
    c.report_success(0);
    assert!(!c.report_failure(0));
}

#[test]
fn the_last_endpoint_serving_is_never_ejected() {
    let c = compile(&cluster(2, LoadBalance::RoundRobin));
    for _ in 0..EJECT_AFTER {
        c.report_failure(0);
    }
    assert!(c.endpoint(0).unwrap().health.is_ejected());
    for _ in 0..EJECT_AFTER * 3 {
        assert!(!c.report_failure(1));
    }
    assert!(!c.endpoint(1).unwrap().health.is_ejected());
    // Everything unusable: still an answer, never None.
    assert_eq!(c.pick(PickHint { hash: None, tried: 0b10 }), Some(0));
}

#[test]
fn health_survives_a_new_snapshot_of_the_same_cluster() {
    let ir = cluster(2, LoadBalance::RoundRobin);
    let old = compile(&ir);
    for _ in 0..EJECT_AFTER {
        old.report_failure(1);
    }
    let new = ClusterRuntime::compile(&ir, Some(&old), UpstreamConnect::default());
    assert!(new.endpoint(1).unwrap().health.is_ejected());
    assert!(!new.endpoint(0).unwrap().health.is_ejected());
}

#[test]
fn retries_avoid_endpoints_already_tried() {
    let c = compile(&cluster(3, LoadBalance::RoundRobin));
    let first = c.pick(PickHint::default()).unwrap();
    let second = c.pick(PickHint { hash: None, tried: 1 << first }).unwrap();
    assert_ne!(first, second);
    let third = c.pick(PickHint { hash: None, tried: (1 << first) | (1 << second) }).unwrap();
    assert!(third != first && third != second);
}

#[test]
fn least_conn_prefers_the_idle_endpoint() {
    let c = compile(&cluster(3, LoadBalance::LeastConn));
    let _a = c.start_request(0);
    let _b = c.start_request(1);
    let _c = c.start_request(1);
    for _ in 0..5 {
        assert_eq!(c.pick(PickHint::default()), Some(2));
    }
    drop(_b);
    drop(_c);
    let picks: Vec<_> = (0..4).map(|_| c.pick(PickHint::default()).unwrap()).collect();
    assert!(!picks.contains(&0), "{picks:?}");
}

#[test]
fn random_spreads() {
    let c = compile(&cluster(4, LoadBalance::Random));
    let mut seen = [0; 4];
    for _ in 0..400 {
        seen[c.pick(PickHint::default()).unwrap()] += 1;
    }
    assert!(seen.iter().all(|&n| n > 40), "{seen:?}");
}

#[test]
fn hashing_is_sticky_and_spreads_keys() {
    let c = compile(&cluster(4, LoadBalance::Hash { key: HashKey::Header("x-user".into()) }));
    let mut used = std::collections::BTreeSet::new();
    for user in 0..64u32 {
        let hash = Some(hash_bytes(format!("user-{user}").as_bytes()));
        let first = c.pick(PickHint { hash, tried: 0 });
        for _ in 0..3 {
            assert_eq!(c.pick(PickHint { hash, tried: 0 }), first);
        }
        used.insert(first);
    }
    assert!(used.len() >= 3, "{used:?}");
    // An ejected endpoint's keys move, the others stay.
    let hash = Some(hash_bytes(b"user-1"));
    let home = c.pick(PickHint { hash, tried: 0 }).unwrap();
    for _ in 0..EJECT_AFTER {
        c.report_failure(home);
    }
    assert_ne!(c.pick(PickHint { hash, tried: 0 }), Some(home));
}
