//! The controller disappears and comes back on the same address: the gateway keeps serving its last
//! snapshot, reports the link down, reconnects and converges on the new controller's snapshot.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use oxigress_stream::{snapshot_version, subscribe, Backoff, ClientOptions};
use support::{listener, port_of, snapshot, start, wait_for};
use tokio::net::TcpListener;

#[tokio::test]
async fn the_gateway_survives_a_controller_restart() {
    let first = start(listener().await, "prod", snapshot("prod", 1), |s| s);
    let addr = first.addr;
    let mut options = ClientOptions::new(addr.to_string(), "prod");
    options.gateway_id = "gw".into();
    options.backoff = Backoff { initial: Duration::from_millis(10), max: Duration::from_millis(100) };
    let mut client = subscribe(options).unwrap();
    wait_for(&mut client.snapshots, |s| port_of(s) == Some(1)).await;
    wait_for(&mut client.status, |s| s.connected).await;

    first.stop().await;
    let status = wait_for(&mut client.status, |s| !s.connected).await;
    assert_eq!(status.version, Some(snapshot_version(&snapshot("prod", 1))));
    assert_eq!(port_of(&client.snapshots.borrow()), Some(1), "the last snapshot stays published");

    let second = start(TcpListener::bind(addr).await.unwrap(), "prod", snapshot("prod", 2), |s| s);
    wait_for(&mut client.snapshots, |s| port_of(s) == Some(2)).await;
    wait_for(&mut client.status, |s| s.connected).await;
    let version = snapshot_version(&snapshot("prod", 2));
    let mut gateways = second.status.watch();
    wait_for(&mut gateways, |g| g.get("gw").and_then(|s| s.acked.as_deref()) == Some(&version)).await;
    second.stop().await;
}

#[tokio::test]
async fn a_restarted_controller_with_the_same_input_sends_nothing_new() {
    let first = start(listener().await, "prod", snapshot("prod", 1), |s| s);
    let addr = first.addr;
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let mut options = ClientOptions::new(addr.to_string(), "prod");
    options.gateway_id = "gw".into();
    options.backoff = Backoff { initial: Duration::from_millis(10), max: Duration::from_millis(100) };
    options.validate = Some(Arc::new(move |_: &oxigress_ir::Snapshot| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }));
    let mut client = subscribe(options).unwrap();
    wait_for(&mut client.status, |s| s.connected && s.version.is_some()).await;
    first.stop().await;
    wait_for(&mut client.status, |s| !s.connected).await;

    let second = start(TcpListener::bind(addr).await.unwrap(), "prod", snapshot("prod", 1), |s| s);
    wait_for(&mut client.status, |s| s.connected).await;
    second.publish.send_replace(Some(snapshot("prod", 2)));
    wait_for(&mut client.snapshots, |s| port_of(s) == Some(2)).await;
    // The Hello carried the version the gateway had, so the new controller only sent the newer one.
    assert_eq!(received.load(Ordering::SeqCst), 2);
    second.stop().await;
}
