use super::*;

/// Sets a header, then panics in every hook.
struct Panicking;

impl Plugin for Panicking {
    fn name(&self) -> &str {
        "panicking"
    }

    fn on_request_headers(&self, _request: &RequestView<'_>, edits: &mut RequestEdits) -> Decision {
        edits.headers.set.push(("x-half-done".into(), "1".into()));
        panic!("bug in a plugin");
    }

    fn on_response_headers(&self, _request: &RequestView<'_>, _response: &ResponseView<'_>, edits: &mut ResponseEdits) {
        edits.headers.set.push(("x-half-done".into(), "1".into()));
        panic!("bug in a plugin");
    }

    fn on_response_body(&self, _request: &RequestView<'_>, _response: &ResponseView<'_>, _body: &[u8]) -> Option<Bytes> {
        panic!("bug in a plugin");
    }
}

fn request_decision(plugin: &dyn Plugin) -> (Decision, RequestEdits) {
    let (parts, _) = http::Request::builder().uri("/x").body(()).unwrap().into_parts();
    let view = RequestView { parts: &parts, host: "foo.com", scheme: "http", client_ip: None };
    let mut edits = RequestEdits::default();
    let decision = plugin.on_request_headers(&view, &mut edits);
    (decision, edits)
}

fn response_edits(plugin: &dyn Plugin) -> (ResponseEdits, Option<Bytes>) {
    let (parts, _) = http::Request::builder().uri("/x").body(()).unwrap().into_parts();
    let view = RequestView { parts: &parts, host: "foo.com", scheme: "http", client_ip: None };
    let headers = http::HeaderMap::new();
    let response = ResponseView { status: 200, headers: &headers };
    let mut edits = ResponseEdits::default();
    plugin.on_response_headers(&view, &response, &mut edits);
    let body = plugin.on_response_body(&view, &response, b"body");
    (edits, body)
}

#[test]
fn fail_open_bypasses_a_panicking_plugin_and_drops_its_edits() {
    let plugin = Guarded::wrap(Arc::new(Panicking), "higress-system/p", true);
    let (decision, edits) = request_decision(plugin.as_ref());
    assert_eq!(decision, Decision::Continue);
    assert_eq!(edits, RequestEdits::default());
    let (edits, body) = response_edits(plugin.as_ref());
    assert_eq!(edits, ResponseEdits::default());
    assert_eq!(body, None, "the body passes unchanged");
}

#[test]
fn fail_close_answers_503_for_a_panicking_plugin() {
    let plugin = Guarded::wrap(Arc::new(Panicking), "higress-system/p", false);
    let (decision, edits) = request_decision(plugin.as_ref());
    assert_eq!(decision, Decision::Respond(DirectResponse { status: 503, headers: Vec::new(), body: Bytes::new() }));
    assert_eq!(edits, RequestEdits::default(), "half-done edits are dropped");
    let (edits, _) = response_edits(plugin.as_ref());
    assert_eq!(edits.status, Some(503));
    assert!(edits.headers.is_empty());
}

#[test]
fn a_guarded_plugin_that_works_is_unchanged() {
    struct Blocks;
    impl Plugin for Blocks {
        fn name(&self) -> &str {
            "blocks"
        }
        fn on_request_headers(&self, _request: &RequestView<'_>, _edits: &mut RequestEdits) -> Decision {
            Decision::Respond(DirectResponse { status: 403, headers: Vec::new(), body: Bytes::from_static(b"no") })
        }
    }
    let plugin = Guarded::wrap(Arc::new(Blocks), "higress-system/b", false);
    assert_eq!(plugin.name(), "blocks");
    let (decision, _) = request_decision(plugin.as_ref());
    assert!(matches!(decision, Decision::Respond(r) if r.status == 403));
}

#[test]
fn a_failed_configuration_answers_503_or_is_bypassed() {
    let (decision, _) = request_decision(failed("key-auth", false).as_ref());
    assert!(matches!(decision, Decision::Respond(r) if r.status == 503 && r.body.is_empty()));
    let (decision, _) = request_decision(failed("key-auth", true).as_ref());
    assert_eq!(decision, Decision::Continue);
}
