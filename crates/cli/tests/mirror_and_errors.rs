//! `custom-http-errors` (with `default-backend`) and request mirroring (`mirror-target-fqdn`,
//! `mirror-percentage`, mirrored bodies) end to end (issue 7). Every backend is in-process on an
//! ephemeral port; mirrored copies are awaited with bounded polls, and "never mirrored" is checked after a
//! later marker copy arrived.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::atomic::Ordering;

use support::backend::*;
use support::*;

/// The value of header `name` in a raw request head (case-insensitive name).
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The request line of a raw head: (method, target).
fn request_line(head: &str) -> (String, String) {
    let mut parts = head.lines().next().unwrap_or("").split_whitespace();
    (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn custom_http_errors_send_only_the_listed_statuses_to_the_default_backend() {
    let primary = Backend::start("primary").await;
    let errors = Backend::start("errors").await;
    let (_dir, gw) = higress_instance(&[
        ("svc.yaml", [service_ports("app", &[primary.addr.port()]), service_ports("errors", &[errors.addr.port()])].join("---\n")),
        (
            "ing.yaml",
            annotated_ingress(
                "app",
                "app.example.com",
                "app",
                &[
                    ("nginx.ingress.kubernetes.io/default-backend", "errors"),
                    ("nginx.ingress.kubernetes.io/custom-http-errors", "404,502"),
                ],
            ),
        ),
    ]);
    let http = gw.http_addr().unwrap();

    // A listed status: the request goes to the default backend, which answers the client.
    primary.control.status.store(404, Ordering::SeqCst);
    let r = request(http, "POST", "app.example.com", "/orders/7?debug=1", &[("x-client", "c1")], "{\"n\":1}").await.unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "errors"), "404 is listed: the default backend answers");
    assert_eq!(primary.hits(), 1);
    let seen = errors.seen();
    assert_eq!(seen.len(), 1, "exactly one fallback request");
    let (head, body) = &seen[0];
    assert_eq!(request_line(head), ("POST".to_string(), "/".to_string()), "same method, path `/`, query dropped: {head}");
    assert_eq!(header(head, "host"), Some("app.example.com"), "the original host");
    assert_eq!(header(head, "x-client"), Some("c1"), "the client's headers");
    assert_eq!(header(head, "x-envoy-route-name"), Some("apps/app-fallback"));
    assert_eq!(header(head, "x-envoy-fallback-service"), Some("apps/errors"));
    assert_eq!(body.as_slice(), b"{\"n\":1}", "the body is sent again");

    primary.control.status.store(502, Ordering::SeqCst);
    let r = get_with(http, "app.example.com", "/", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "errors"), "502 is listed too");

    // Statuses that are not listed reach the client unchanged, and the default backend is not asked.
    let before = errors.hits();
    for status in [500, 403, 200] {
        primary.control.status.store(status, Ordering::SeqCst);
        let r = get_with(http, "app.example.com", "/", &[]).await;
        assert_eq!((r.status, r.body.as_str()), (status, "primary"), "{status} is not listed");
    }
    assert_eq!(errors.hits(), before, "unlisted statuses never reach the default backend");

    // The default backend's own error is what the client gets (one redirect at most).
    primary.control.status.store(404, Ordering::SeqCst);
    errors.control.status.store(404, Ordering::SeqCst);
    let r = get_with(http, "app.example.com", "/", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (404, "errors"));
    assert_eq!(errors.hits(), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mirrors_follow_the_percentage_reach_fqdn_targets_and_carry_bodies() {
    let app = Backend::start("app").await;
    let shadow = Backend::start("shadow").await;
    let port = shadow.addr.port().to_string();
    let fqdn = |host: &'static str, percent: Option<&'static str>| {
        let mut annotations = vec![
            ("higress.io/mirror-target-fqdn", host.to_string()),
            ("higress.io/mirror-target-fqdn-port", port.clone()),
        ];
        if let Some(p) = percent {
            annotations.push(("nginx.ingress.kubernetes.io/mirror-percentage", p.to_string()));
        }
        annotations
    };
    let ingress = |name: &str, annotations: Vec<(&str, String)>| {
        let refs: Vec<(&str, &str)> = annotations.iter().map(|(k, v)| (*k, v.as_str())).collect();
        annotated_ingress(name, &format!("{name}.example.com"), "app", &refs)
    };
    let (_dir, gw) = higress_instance(&[
        ("svc.yaml", service_ports("app", &[app.addr.port()])),
        (
            "ing.yaml",
            [
                ingress("all", fqdn("localhost", None)),
                ingress("full", fqdn("127.0.0.1", Some("100"))),
                ingress("half", fqdn("127.0.0.1", Some("50"))),
                ingress("none", fqdn("127.0.0.1", Some("0"))),
            ]
            .join("---\n"),
        ),
    ]);
    let http = gw.http_addr().unwrap();
    let copies = |host: &str| {
        let shadow_host = format!("{host}-shadow");
        shadow.seen().iter().filter(|(head, _)| header(head, "host") == Some(shadow_host.as_str())).count()
    };

    // A POST body arrives at the mirror (a DNS name: `localhost`), with the method, path and headers.
    let body = "{\"order\":42,\"items\":[\"a\",\"b\"]}";
    let r = request(http, "POST", "all.example.com", "/orders?x=1", &[("x-trace", "t1")], body).await.unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "app"), "the real request is answered by the app");
    eventually("the mirrored POST", || copies("all.example.com") == 1).await;
    let (head, mirrored) = shadow.seen().into_iter().find(|(h, _)| header(h, "host") == Some("all.example.com-shadow")).unwrap();
    assert_eq!(request_line(&head), ("POST".to_string(), "/orders?x=1".to_string()));
    assert_eq!(header(&head, "x-trace"), Some("t1"));
    assert_eq!(String::from_utf8_lossy(&mirrored), body, "the mirrored body is the client's");
    assert_eq!(app.seen()[0].1, body.as_bytes(), "the app got the body too");

    // Absent and 100%: every request; 50%: exactly half (the share is spread deterministically);
    // 0%: none.
    for _ in 0..10 {
        assert_eq!(get_with(http, "all.example.com", "/", &[]).await.status, 200);
        assert_eq!(get_with(http, "full.example.com", "/", &[]).await.status, 200);
    }
    for _ in 0..100 {
        assert_eq!(get_with(http, "half.example.com", "/", &[]).await.status, 200);
        assert_eq!(get_with(http, "none.example.com", "/", &[]).await.status, 200);
    }
    eventually("11 copies of `all`", || copies("all.example.com") == 11).await;
    eventually("10 copies of `full`", || copies("full.example.com") == 10).await;
    eventually("50 copies of `half`", || copies("half.example.com") == 50).await;
    // A marker sent after everything else: once it arrived, late copies would have had their chance.
    assert_eq!(get_with(http, "full.example.com", "/marker", &[]).await.status, 200);
    eventually("the marker copy", || copies("full.example.com") == 11).await;
    assert_eq!(copies("none.example.com"), 0, "mirror-percentage 0 never mirrors");
    assert_eq!(copies("half.example.com"), 50, "mirror-percentage 50 mirrors half of 100 requests");
    assert_eq!(app.hits(), 1 + 20 + 200 + 1, "every real request reached the app once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_or_slow_mirror_never_delays_or_fails_the_request() {
    let app = Backend::start("app").await;
    let slow = Backend::start("slow").await;
    slow.control.hold.store(true, Ordering::SeqCst);
    let dead = closed_port().await;
    let (_dir, gw) = higress_instance(&[
        ("svc.yaml", service_ports("app", &[app.addr.port()])),
        (
            "ing.yaml",
            [
                annotated_ingress(
                    "dead",
                    "dead.example.com",
                    "app",
                    &[("higress.io/mirror-target-fqdn", "127.0.0.1"), ("higress.io/mirror-target-fqdn-port", &dead.to_string())],
                ),
                annotated_ingress(
                    "slow",
                    "slow.example.com",
                    "app",
                    &[("higress.io/mirror-target-fqdn", "127.0.0.1"), ("higress.io/mirror-target-fqdn-port", &slow.addr.port().to_string())],
                ),
                annotated_ingress(
                    "nowhere",
                    "nowhere.example.com",
                    "app",
                    &[("higress.io/mirror-target-fqdn", "no-such-host.invalid")],
                ),
            ]
            .join("---\n"),
        ),
    ]);
    let http = gw.http_addr().unwrap();
    for host in ["dead.example.com", "slow.example.com", "nowhere.example.com"] {
        for _ in 0..3 {
            let r = tokio::time::timeout(std::time::Duration::from_secs(3), request(http, "POST", host, "/", &[], "body"))
                .await
                .unwrap_or_else(|_| panic!("{host}: the request waited for its mirror"))
                .unwrap();
            assert_eq!((r.status, r.body.as_str()), (200, "app"), "{host}");
        }
    }
    eventually("the held mirror copies", || slow.control.held.load(Ordering::SeqCst) == 3).await;
    slow.release();
}
