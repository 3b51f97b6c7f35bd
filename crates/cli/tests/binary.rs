//! The `oxigress` binary as a user runs it: JSON logs, ephemeral ports, readiness, SIGTERM → exit 0.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_serves_then_exits_cleanly_on_sigterm() {
    let backend = echo("web-pod");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app.yaml", &[ingress_class("higress"), service("web", backend.addr), ingress("web", "higress", "web.example.com", &["/"], "web")].join("---\n"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_oxigress"))
        .args(["standalone", "--manifests"])
        .arg(dir.path())
        .args(["--http-port", "0", "--https-port", "0", "--admin-port", "0", "--bind", "127.0.0.1", "--log-format", "json"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The "instance started" log line tells where it listens.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut addrs = None;
    let start = Instant::now();
    while addrs.is_none() {
        let line = rx.recv_timeout(DEADLINE.saturating_sub(start.elapsed())).expect("no 'instance started' log line");
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if event["message"] == "instance started" {
            let parse = |key: &str| event[key].as_str().unwrap().parse::<SocketAddr>().unwrap();
            addrs = Some((parse("http"), parse("admin")));
        }
    }
    let (http, admin) = addrs.unwrap();
    assert_eq!(get_async(admin, "admin", "/healthz/ready").await.unwrap().status, 200);
    let r = get_async(http, "web.example.com", "/").await.unwrap();
    assert_eq!((r.status, r.pod()), (200, "web-pod".to_string()));

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < DEADLINE, "did not exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0));
    assert!(get(http, "web.example.com", "/").is_err(), "the listener is closed after exit");
}
