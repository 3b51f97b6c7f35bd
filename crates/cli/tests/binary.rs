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
    let mut child = spawn_standalone(dir.path());

    // The "instance started" log line tells where it listens.
    let event = started(&mut child, "instance started");
    let (http, admin) = (addr(&event, "http"), addr(&event, "admin"));
    assert_eq!(get_async(admin, "admin", "/healthz/ready").await.unwrap().status, 200);
    let r = get_async(http, "web.example.com", "/").await.unwrap();
    assert_eq!((r.status, r.pod()), (200, "web-pod".to_string()));

    assert_eq!(terminate(&mut child).await, Some(0));
    assert!(get(http, "web.example.com", "/").is_err(), "the listener is closed after exit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_and_gateway_binaries_serve_a_cluster_through_a_kubeconfig() {
    let k8s = oxigress_kube_standin::StandIn::start().await.unwrap();
    let backend = echo("web-pod");
    k8s.apply_yaml(&[ingress_class("web"), service("web", backend.addr), ingress("web", "web", "web.example.com", &["/"], "web")].join("---\n"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: standin, cluster: {{server: \"{}\"}}}}]\n\
users: [{{name: test, user: {{}}}}]\ncontexts: [{{name: test, context: {{cluster: standin, user: test}}}}]\ncurrent-context: test\n",
            k8s.url()
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("token"), "s3cret\n").unwrap();
    let mut controller = Command::new(env!("CARGO_BIN_EXE_oxigress"))
        .args(["controller", "--kubeconfig"])
        .arg(&kubeconfig)
        .args(["--ingress-class", "web", "--instance-name", "web", "--instance-namespace", "higress-system"])
        .args(["--xds-port", "0", "--xds-bind", "127.0.0.1", "--admin-port", "0", "--identity", "controller-0"])
        .arg("--stream-token-file")
        .arg(dir.path().join("token"))
        .args(["--log-format", "json"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let event = started(&mut controller, "controller started");
    let (stream, controller_admin) = (addr(&event, "stream"), addr(&event, "admin"));
    assert_eq!(get_async(controller_admin, "admin", "/healthz/ready").await.unwrap().status, 200);

    let mut gateway = Command::new(env!("CARGO_BIN_EXE_oxigress"))
        .args(["gateway", "--controller", &stream.to_string(), "--instance-name", "web"])
        .args(["--http-port", "0", "--https-port", "0", "--admin-port", "0", "--bind", "127.0.0.1"])
        .arg("--stream-token-file")
        .arg(dir.path().join("token"))
        .args(["--log-format", "json"])
        .env_remove("POD_NAME")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let event = started(&mut gateway, "gateway started");
    let (http, admin) = (addr(&event, "http"), addr(&event, "admin"));
    eventually_async("the gateway has its first snapshot", || async move {
        get_async(admin, "admin", "/healthz/ready").await.is_ok_and(|r| r.status == 200)
    })
    .await;
    let r = get_async(http, "web.example.com", "/").await.unwrap();
    assert_eq!((r.status, r.pod()), (200, "web-pod".to_string()));
    let leader = get_async(controller_admin, "admin", "/debug/leader").await.unwrap();
    assert!(leader.body.contains("true"), "the only replica leads: {}", leader.body);

    assert_eq!(terminate(&mut gateway).await, Some(0));
    assert_eq!(terminate(&mut controller).await, Some(0));
}

/// Reads the child's JSON log lines until the one whose message is `message`.
fn started(child: &mut std::process::Child, message: &str) -> serde_json::Value {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let start = Instant::now();
    loop {
        let line = rx.recv_timeout(DEADLINE.saturating_sub(start.elapsed())).unwrap_or_else(|_| panic!("no '{message}' log line"));
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if event["message"] == message {
            return event;
        }
    }
}

fn addr(event: &serde_json::Value, key: &str) -> SocketAddr {
    event[key].as_str().unwrap_or_default().parse().unwrap_or_else(|_| panic!("{key} in {event}"))
}

/// SIGTERM, then the exit code (bounded wait).
async fn terminate(child: &mut std::process::Child) -> Option<i32> {
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(start.elapsed() < DEADLINE, "did not exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls an async check until it holds; panics after [`DEADLINE`].
async fn eventually_async<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// SIGHUP (nginx users' reload reflex) re-reads the manifests and never interrupts a streaming response;
/// before, it killed the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_without_interrupting_a_stream() {
    use support::raw::{stream_request, RawBackend};

    let backend = RawBackend::start("raw", Duration::ZERO, 10).await;
    let dir = tempfile::tempdir().unwrap();
    let manifests = |path: &str| {
        [ingress_class("higress"), service("raw", backend.addr), ingress("raw", "higress", "raw.example.com", &["/stream", path], "raw")]
            .join("---\n")
    };
    write(dir.path(), "app.yaml", &manifests("/before"));
    let mut child = spawn_standalone(dir.path());
    let http = addr(&started(&mut child, "instance started"), "http");

    let client = stream_request(http).await;

    assert!(Command::new("kill").args(["-HUP", &child.id().to_string()]).status().unwrap().success());
    write(dir.path(), "app.yaml", &manifests("/after"));
    let start = Instant::now();
    while get_async(http, "raw.example.com", "/after").await.map(|r| r.status).unwrap_or(0) != 200 {
        assert!(start.elapsed() < DEADLINE, "the change after SIGHUP was never served");
        assert!(child.try_wait().unwrap().is_none(), "the process died");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    backend.gate.add_permits(1);
    let (status, body) = tokio::time::timeout(DEADLINE, client).await.unwrap().unwrap().unwrap();
    let expected: String = (0..10).map(|i| format!("chunk-{i}\n")).collect();
    assert_eq!((status, String::from_utf8_lossy(&body).into_owned()), (200, expected));
    assert!(child.try_wait().unwrap().is_none(), "still running after SIGHUP");
    assert_eq!(terminate(&mut child).await, Some(0));
}

/// The binary in standalone mode over `manifests` on ephemeral ports, logging JSON to a pipe.
fn spawn_standalone(manifests: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_oxigress"))
        .args(["standalone", "--manifests"])
        .arg(manifests)
        .args(["--http-port", "0", "--https-port", "0", "--admin-port", "0", "--bind", "127.0.0.1", "--log-format", "json"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}
