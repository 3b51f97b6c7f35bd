//! The gateway's pool of kept-alive upstream connections, end to end (issue 8): requests share one
//! upstream connection, a connection the backend closed while it was idle is never used for a request
//! that then fails, and an idle connection is closed after the ConfigMap's `upstream.idleTimeout`.
//! The backend here counts connections in-process, on an ephemeral port.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::backend::*;
use support::raw::{read_head, ScriptedListener};
use support::*;
use tokio::io::{AsyncWriteExt, BufReader};

/// A keep-alive HTTP/1.1 backend answering `ok` that counts the connections it accepted and records
/// when the gateway closed one (an end of stream between requests). With `close_after_answer` it
/// closes every connection itself right after answering, without saying so in the answer, as a
/// backend whose keep-alive timeout is shorter than the gateway's does.
struct CountingBackend {
    /// Serves and counts the connections (`listener.connections`); stops when dropped.
    listener: ScriptedListener,
    closed_by_gateway: Arc<Mutex<Vec<Instant>>>,
}

impl CountingBackend {
    async fn start(close_after_answer: bool) -> Self {
        let closed_by_gateway = Arc::new(Mutex::new(Vec::new()));
        let closed = closed_by_gateway.clone();
        let listener = ScriptedListener::start(move |stream| {
            let closed = closed.clone();
            async move {
                let mut reader = BufReader::new(stream);
                loop {
                    if read_head(&mut reader).await?.is_none() {
                        closed.lock().unwrap().push(Instant::now());
                        return Ok(());
                    }
                    let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                    reader.get_mut().write_all(answer).await?;
                    if close_after_answer {
                        return Ok(());
                    }
                }
            }
        })
        .await;
        Self { listener, closed_by_gateway }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_requests_share_one_upstream_connection_closed_after_the_idle_timeout() {
    let backend = CountingBackend::start(false).await;
    let (_dir, gw) = higress_instance(&[
        ("config.yaml", config_map("upstream:\n  idleTimeout: 1\n")),
        ("svc.yaml", service_ports("app", &[backend.listener.port])),
        ("ing.yaml", annotated_ingress("app", "app.example.com", "app", &[])),
    ]);
    let http = gw.http_addr().unwrap();
    let mut last_answer = Instant::now();
    for i in 0..10 {
        let r = get_with(http, "app.example.com", "/", &[]).await;
        assert_eq!((r.status, r.body.as_str()), (200, "ok"), "request {i}");
        last_answer = Instant::now();
    }
    assert_eq!(backend.listener.connections.load(Ordering::SeqCst), 1, "every request went over the first connection");
    eventually("the idle upstream connection closed", || !backend.closed_by_gateway.lock().unwrap().is_empty()).await;
    let closed = backend.closed_by_gateway.lock().unwrap()[0];
    let idle = closed.duration_since(last_answer);
    assert!(idle >= Duration::from_millis(900), "closed after {idle:?} idle, before the 1 s idle timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_backend_closed_after_answering_fails_no_request() {
    let backend = CountingBackend::start(true).await;
    let (_dir, gw) = higress_instance(&[
        ("svc.yaml", service_ports("app", &[backend.listener.port])),
        ("ing.yaml", annotated_ingress("app", "app.example.com", "app", &[])),
    ]);
    let http = gw.http_addr().unwrap();
    for i in 0..20 {
        let r = get_with(http, "app.example.com", "/", &[]).await;
        assert_eq!((r.status, r.body.as_str()), (200, "ok"), "request {i}");
    }
    assert!(backend.listener.connections.load(Ordering::SeqCst) >= 20, "a connection the backend closed is never reused");
}
