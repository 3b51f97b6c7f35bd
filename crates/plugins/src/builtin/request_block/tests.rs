use super::*;
use serde_json::json;

fn run(config: Value, method: &str, uri: &str, headers: &[(&str, &str)], body: &[u8]) -> Option<u16> {
    let plugin = RequestBlock::from_config(&config).unwrap();
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let (parts, _) = builder.body(()).unwrap().into_parts();
    let view = RequestView { parts: &parts, host: "foo.com", scheme: "http", client_ip: None };
    let mut edits = RequestEdits::default();
    let decision = match plugin.on_request_headers(&view, &mut edits) {
        Decision::Continue if plugin.needs_request_body() => plugin.on_request_body(&view, body, &mut edits),
        other => other,
    };
    match decision {
        Decision::Respond(r) => Some(r.status),
        Decision::Continue => None,
    }
}

fn e2e_config() -> Value {
    json!({"block_urls": ["swagger.html"], "block_regexp_urls": ["/env.*"], "block_exact_urls": ["/web/info"], "block_bodies": ["hello world"]})
}

#[test]
fn higress_e2e_config() {
    assert_eq!(run(e2e_config(), "GET", "/swagger.html", &[], b""), Some(403));
    assert_eq!(run(e2e_config(), "GET", "/env/info", &[], b""), Some(403));
    assert_eq!(run(e2e_config(), "GET", "/web/info", &[], b""), Some(403));
    assert_eq!(run(e2e_config(), "POST", "/foo", &[], b"hello world"), Some(403));
    assert_eq!(run(e2e_config(), "POST", "/foo", &[], b"hello higress"), None);
}

#[test]
fn case_insensitive_by_default_and_quirks() {
    assert_eq!(run(json!({"block_urls": ["Swagger"]}), "GET", "/SWAGGER.html", &[], b""), Some(403));
    assert_eq!(run(json!({"block_urls": ["Swagger"], "case_sensitive": true}), "GET", "/SWAGGER.html", &[], b""), None);
    // Exact/regexp URL rules only run when block_urls is non-empty.
    assert_eq!(run(json!({"block_exact_urls": ["/a"], "block_bodies": ["x"]}), "GET", "/a", &[], b""), None);
    assert_eq!(run(json!({"block_headers": ["evil-agent"]}), "GET", "/", &[("user-agent", "Evil-Agent/1")], b""), Some(403));
    assert_eq!(run(json!({"block_headers": [":method\nget"]}), "GET", "/", &[], b""), Some(403));
    assert_eq!(run(json!({"block_urls": ["x"], "blocked_code": 429}), "GET", "/x", &[], b""), Some(429));
    assert_eq!(run(json!({"block_urls": ["x"], "blocked_code": 99}), "GET", "/x", &[], b""), Some(403));
}

#[test]
fn config_errors_name_the_field() {
    let err = RequestBlock::from_config(&json!({"block_exact_urls": ["/a"]})).unwrap_err();
    assert!(err.message.contains("no block rules"));
    let err = RequestBlock::from_config(&json!({"block_urls": ["a"], "block_regexp_urls": ["ok", "("]})).unwrap_err();
    assert_eq!(err.field, "block_regexp_urls[1]");
    let err = RequestBlock::from_config(&json!({"block_urls": "a"})).unwrap_err();
    assert_eq!(err.field, "block_urls");
}
