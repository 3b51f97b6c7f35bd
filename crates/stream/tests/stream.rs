//! Server and client in one process on 127.0.0.1: delivery, updates, acks, refusals, determinism, nacks.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use oxigress_stream::proto::gateway_message::Kind;
use oxigress_stream::proto::snapshot_stream_client::SnapshotStreamClient;
use oxigress_stream::proto::{GatewayMessage, Hello};
use oxigress_stream::{snapshot_version, subscribe, ClientOptions};
use support::{listener, port_of, snapshot, start, wait_for, within};
use tonic::Code;

#[tokio::test]
async fn delivers_the_current_snapshot_then_updates_and_records_acks() {
    let first = snapshot("prod", 1);
    let server = start(listener().await, "prod", first.clone(), |s| s);
    let mut options = ClientOptions::new(server.addr.to_string(), "prod");
    options.gateway_id = "gw-1".into();
    let mut client = subscribe(options).unwrap();

    let got = wait_for(&mut client.snapshots, Option::is_some).await;
    assert_eq!(got.as_deref(), Some(&*first));
    let mut gateways = server.status.watch();
    let acked = wait_for(&mut gateways, |g| g.get("gw-1").is_some_and(|s| s.acked.is_some())).await;
    assert_eq!(acked["gw-1"].acked.as_deref(), Some(snapshot_version(&first).as_str()));
    assert!(client.status.borrow().connected);

    let second = snapshot("prod", 2);
    server.publish.send_replace(Some(second.clone()));
    wait_for(&mut client.snapshots, |s| port_of(s) == Some(2)).await;
    let version = snapshot_version(&second);
    wait_for(&mut gateways, |g| g.get("gw-1").and_then(|s| s.acked.as_deref()) == Some(&version)).await;
    assert_eq!(client.status.borrow().version.as_deref(), Some(version.as_str()));

    drop(client);
    wait_for(&mut gateways, |g| g.is_empty()).await;
    server.stop().await;
}

/// Opens a raw stream with one Hello and returns the server's answer code.
async fn hello(addr: std::net::SocketAddr, instance: &str, token: Option<&str>) -> Code {
    let mut client = within(SnapshotStreamClient::connect(format!("http://{addr}"))).await.unwrap();
    let hello = Hello { instance_name: instance.into(), gateway_id: "raw".into(), last_version: String::new() };
    let mut request = tonic::Request::new(tokio_stream::iter(vec![GatewayMessage { kind: Some(Kind::Hello(hello)) }]));
    if let Some(token) = token {
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    match within(client.subscribe(request)).await {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

#[tokio::test]
async fn refuses_another_instance_and_bad_tokens() {
    let server = start(listener().await, "prod", snapshot("prod", 1), |s| s.with_token("s3cret"));
    assert_eq!(hello(server.addr, "test", Some("s3cret")).await, Code::PermissionDenied);
    assert_eq!(hello(server.addr, "prod", None).await, Code::Unauthenticated);
    assert_eq!(hello(server.addr, "prod", Some("wrong")).await, Code::Unauthenticated);
    assert_eq!(hello(server.addr, "prod", Some("s3cret")).await, Code::Ok);

    let mut options = ClientOptions::new(server.addr.to_string(), "prod");
    options.token = Some("wrong".into());
    let mut refused = subscribe(options).unwrap();
    let status = wait_for(&mut refused.status, |s| s.last_error.is_some()).await;
    assert!(status.last_error.unwrap().contains("token"), "the error names the cause");
    assert!(refused.snapshots.borrow().is_none());

    let mut options = ClientOptions::new(server.addr.to_string(), "prod");
    options.token = Some("s3cret".into());
    let mut accepted = subscribe(options).unwrap();
    wait_for(&mut accepted.snapshots, Option::is_some).await;
    server.stop().await;
}

#[tokio::test]
async fn the_same_input_has_the_same_version_on_two_servers() {
    let one = start(listener().await, "prod", snapshot("prod", 7), |s| s);
    let two = start(listener().await, "prod", snapshot("prod", 7), |s| s);
    let mut versions = Vec::new();
    for server in [&one, &two] {
        let mut client = subscribe(ClientOptions::new(server.addr.to_string(), "prod")).unwrap();
        let status = wait_for(&mut client.status, |s| s.version.is_some()).await;
        versions.push(status.version.unwrap());
    }
    assert_eq!(versions[0], versions[1]);
    assert_eq!(versions[0], snapshot_version(&snapshot("prod", 7)));
    one.stop().await;
    two.stop().await;
}

#[tokio::test]
async fn a_snapshot_the_hook_rejects_is_nacked_and_the_previous_one_kept() {
    let server = start(listener().await, "prod", snapshot("prod", 1), |s| s);
    let mut options = ClientOptions::new(server.addr.to_string(), "prod");
    options.gateway_id = "gw".into();
    options.validate = Some(Arc::new(|s: &oxigress_ir::Snapshot| {
        match s.clusters.values().any(|c| c.endpoints.iter().any(|e| e.port == 666)) {
            true => Err("port 666 is not allowed".to_string()),
            false => Ok(()),
        }
    }));
    let mut client = subscribe(options).unwrap();
    wait_for(&mut client.snapshots, |s| port_of(s) == Some(1)).await;

    let bad = snapshot("prod", 666);
    server.publish.send_replace(Some(bad.clone()));
    let mut gateways = server.status.watch();
    let status = wait_for(&mut gateways, |g| g.get("gw").is_some_and(|s| s.rejected.is_some())).await;
    let rejected = status["gw"].rejected.clone().unwrap();
    assert_eq!(rejected.version, snapshot_version(&bad));
    assert_eq!(rejected.error, "port 666 is not allowed");
    assert_eq!(status["gw"].acked.as_deref(), Some(snapshot_version(&snapshot("prod", 1)).as_str()));
    assert_eq!(port_of(&client.snapshots.borrow()), Some(1), "the previous snapshot stays");
    assert!(client.status.borrow().rejected.is_some());

    // A snapshot for another instance is refused by the gateway itself.
    server.publish.send_replace(Some(snapshot("test", 3)));
    let version = snapshot_version(&snapshot("test", 3));
    let status = wait_for(&mut gateways, |g| g["gw"].rejected.as_ref().is_some_and(|r| r.version == version)).await;
    assert!(status["gw"].rejected.as_ref().unwrap().error.contains("instance"));

    server.publish.send_replace(Some(snapshot("prod", 2)));
    wait_for(&mut client.snapshots, |s| port_of(s) == Some(2)).await;
    let status = wait_for(&mut client.status, |s| s.rejected.is_none()).await;
    assert_eq!(status.version, Some(snapshot_version(&snapshot("prod", 2))));
    server.stop().await;
}
