//! Graceful shutdown and configuration swaps never cut a request short: shutdown stops accepting at once
//! and drains a slow in-flight request to its 200; file changes applied while a response streams leave
//! the stream intact (the SIGHUP case runs the binary, in `binary.rs`).
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use support::raw::{stream_request, RawBackend};
use support::*;
use tokio::net::TcpStream;

fn manifests(raw: std::net::SocketAddr, extra_path: &str) -> String {
    [ingress_class("higress"), service("raw", raw), ingress("raw", "higress", "raw.example.com", &["/", extra_path], "raw")].join("---\n")
}

/// Polls until `check` holds (bounded by [`DEADLINE`]).
async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_in_flight_and_refuses_new_connections() {
    let backend = RawBackend::start("raw", Duration::from_secs(2), 0).await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app.yaml", &manifests(backend.addr, "/unused"));
    let gw = instance(dir.path(), "drain", "higress");
    let http = gw.http_addr().unwrap();
    let state = gw.proxy().clone();

    let slow = tokio::spawn(get_async(http, "raw.example.com", "/slow"));
    until("the slow request is in flight", async || state.in_flight() == 1).await;
    let started = Instant::now();
    let shutdown = tokio::spawn(gw.shutdown(Duration::from_secs(10)));

    // New connections are refused while the slow request still runs.
    until("the listener is closed", async || TcpStream::connect(http).await.is_err()).await;
    assert!(!slow.is_finished(), "the slow request ended before the listener closed");

    let answer = tokio::time::timeout(DEADLINE, slow).await.unwrap().unwrap().unwrap();
    assert_eq!((answer.status, answer.body.as_str()), (200, "slow"), "the in-flight request completes");
    let left = tokio::time::timeout(DEADLINE, shutdown).await.unwrap().unwrap();
    assert_eq!(left, 0, "nothing left running");
    assert!(started.elapsed() >= Duration::from_secs(1), "shutdown waited for the request: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_changes_never_interrupt_a_streaming_response() {
    let backend = RawBackend::start("raw", Duration::ZERO, 10).await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app.yaml", &manifests(backend.addr, "/v0"));
    let gw = instance(dir.path(), "stream", "higress");
    let http = gw.http_addr().unwrap();

    let client = stream_request(http).await;

    // Swap the configuration while the first chunk is out and the rest is held back by the backend...
    for change in 1..=3 {
        write(dir.path(), "app.yaml", &manifests(backend.addr, &format!("/v{change}")));
        until(&format!("change {change} served"), async || {
            let routes = get_async(gw.admin_addr().unwrap(), "admin", "/debug/config").await.unwrap().body;
            routes.contains(&format!("\"/v{change}\"")) && !routes.contains(&format!("\"/v{}\"", change - 1))
        })
        .await;
    }
    // ...then release it: its remaining chunks arrive paced over ~1 s, while the config keeps changing.
    backend.gate.add_permits(1);
    for change in 4..=8 {
        write(dir.path(), "app.yaml", &manifests(backend.addr, &format!("/v{change}")));
        until(&format!("change {change} served"), async || {
            let routes = get_async(gw.admin_addr().unwrap(), "admin", "/debug/config").await.unwrap().body;
            routes.contains(&format!("\"/v{change}\""))
        })
        .await;
    }
    let (status, body) = tokio::time::timeout(DEADLINE, client).await.unwrap().unwrap().unwrap();
    let expected: String = (0..10).map(|i| format!("chunk-{i}\n")).collect();
    assert_eq!((status, String::from_utf8_lossy(&body).into_owned()), (200, expected), "the stream is whole");
    gw.shutdown(Duration::from_secs(5)).await;
}
