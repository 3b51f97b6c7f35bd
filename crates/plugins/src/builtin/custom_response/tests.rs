use super::*;
use serde_json::json;

fn parts() -> http::request::Parts {
    http::Request::builder().uri("/").body(()).unwrap().into_parts().0
}

fn on_request(config: &Value) -> Option<DirectResponse> {
    let plugin = CustomResponse::from_config(config).unwrap();
    let parts = parts();
    let view = RequestView { parts: &parts, host: "foo.com", scheme: "http", client_ip: None };
    match plugin.on_request_headers(&view, &mut RequestEdits::default()) {
        Decision::Respond(r) => Some(r),
        Decision::Continue => None,
    }
}

fn on_response(config: &Value, status: u16) -> ResponseEdits {
    let plugin = CustomResponse::from_config(config).unwrap();
    let parts = parts();
    let view = RequestView { parts: &parts, host: "foo.com", scheme: "http", client_ip: None };
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.append("x-upstream", HeaderValue::from_static("a"));
    headers.append("x-upstream", HeaderValue::from_static("b"));
    headers.insert("server", HeaderValue::from_static("oxigress"));
    let mut edits = ResponseEdits::default();
    plugin.on_response_headers(&view, &ResponseView { status, headers: &headers }, &mut edits);
    edits
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn higress_e2e_configs() {
    // Global config: answers every request directly.
    let r = on_request(&json!({"headers": ["key1=value1"], "body": "{\"hello\":\"foo\"}"})).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.headers, pairs(&[("key1", "value1"), ("content-type", "application/json; charset=utf-8")]));
    assert_eq!(r.body, Bytes::from_static(b"{\"hello\":\"foo\"}"));
    // status_code.
    let r = on_request(&json!({"status_code": 201, "headers": ["key5=value5"], "body": "{\"hello\":\"qux\"}"})).unwrap();
    assert_eq!(r.status, 201);
    // enable_on_status: the request goes on, a 401 is replaced.
    let config = json!({"enable_on_status": [401], "headers": ["key3=value3"], "body": "{\"hello\":\"baz\"}"});
    assert!(on_request(&config).is_none());
    let edits = on_response(&config, 401);
    assert_eq!(edits.status, Some(200));
    assert_eq!(edits.body, Some(Bytes::from_static(b"{\"hello\":\"baz\"}")));
    assert_eq!(edits.headers.add, pairs(&[("key3", "value3"), ("content-type", "application/json; charset=utf-8")]));
    assert_eq!(edits.headers.remove, vec!["content-type".to_string(), "x-upstream".to_string()]);
    assert_eq!(on_response(&config, 200), ResponseEdits::default());
}

#[test]
fn headers_and_content_type() {
    let r = on_request(&json!({"headers": [" Content-Type = text/html ", "content-length=99", "a=b=c"], "body": "<p>"})).unwrap();
    assert_eq!(r.headers, pairs(&[("a", "b=c"), ("content-type", "text/html")]));
    let r = on_request(&json!({"body": "not json"})).unwrap();
    assert_eq!(r.headers, pairs(&[("content-type", "text/plain; charset=utf-8")]));
    // No body: no content type, even a configured one.
    let r = on_request(&json!({"headers": ["content-type=text/html", "Location=https://example.com"], "status_code": "302"})).unwrap();
    assert_eq!((r.status, r.headers, r.body), (302, pairs(&[("Location", "https://example.com")]), Bytes::new()));
    // Empty config: a plain 200.
    let r = on_request(&json!({})).unwrap();
    assert_eq!((r.status, r.headers.len(), r.body.len()), (200, 0, 0));
}

#[test]
fn rules_version_and_fuzzy_matching() {
    let config = json!({"rules": [
        {"body": "exact", "enable_on_status": ["404", 500]},
        {"body": "fuzzy", "enable_on_status": ["4XX"], "status_code": 418},
        {"body": "never used"},
    ]});
    assert!(on_request(&config).is_none());
    assert_eq!(on_response(&config, 404).body, Some(Bytes::from_static(b"exact")));
    assert_eq!(on_response(&config, 500).body, Some(Bytes::from_static(b"exact")));
    let edits = on_response(&config, 403);
    assert_eq!((edits.status, edits.body), (Some(418), Some(Bytes::from_static(b"fuzzy"))));
    assert_eq!(on_response(&config, 502), ResponseEdits::default());
    // Without enable_on_status anywhere, the first rule answers.
    let r = on_request(&json!({"rules": [{"body": "one"}, {"body": "two"}]})).unwrap();
    assert_eq!(r.body, Bytes::from_static(b"one"));
    // Exact codes are compared as written.
    assert_eq!(on_response(&json!({"enable_on_status": ["0404"]}), 404), ResponseEdits::default());
    let config = json!({"enable_on_status": ["x04", "2x0"]});
    assert_eq!(on_response(&config, 404).status, Some(200));
    assert_eq!(on_response(&config, 250).status, Some(200));
    assert_eq!(on_response(&config, 405), ResponseEdits::default());
}

#[test]
fn config_errors_name_the_field() {
    let err = |config: Value| CustomResponse::from_config(&config).unwrap_err();
    assert_eq!(err(json!({"headers": ["ok=1", "broken"]})).field, "headers[1]");
    assert_eq!(err(json!({"status_code": "20x"})).field, "status_code");
    assert_eq!(err(json!({"status_code": 1000})).field, "status_code");
    assert_eq!(err(json!({"rules": [{}, {"status_code": 2.5}]})).field, "rules[1].status_code");
    assert_eq!(err(json!({"enable_on_status": ["4xxx"]})).field, "enable_on_status[0]");
    assert_eq!(err(json!({"enable_on_status": ["xxx"]})).field, "enable_on_status[0]");
    let dup = json!({"rules": [{"enable_on_status": [401]}, {"enable_on_status": ["401"]}]});
    assert_eq!(err(dup).field, "rules[1].enable_on_status[0]");
    assert_eq!(err(json!({"rules": []})).message, "no valid config is found");
}
