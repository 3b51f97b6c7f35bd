use super::*;
use serde_json::json;

fn request(method: &str, host: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut builder = http::Request::builder().method(method).uri("/api/test").header("host", host);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

fn on_request(config: &Value, method: &str, headers: &[(&str, &str)]) -> Option<DirectResponse> {
    let plugin = Cors::from_config(config).unwrap();
    let parts = request(method, "example.com", headers);
    let view = RequestView { parts: &parts, host: "example.com", scheme: "http", client_ip: None };
    match plugin.on_request_headers(&view, &mut RequestEdits::default()) {
        Decision::Respond(r) => Some(r),
        Decision::Continue => None,
    }
}

fn on_response(config: &Value, method: &str, headers: &[(&str, &str)]) -> ResponseEdits {
    let plugin = Cors::from_config(config).unwrap();
    let parts = request(method, "example.com", headers);
    let view = RequestView { parts: &parts, host: "example.com", scheme: "http", client_ip: None };
    let response_headers = http::HeaderMap::new();
    let mut edits = ResponseEdits::default();
    plugin.on_response_headers(&view, &ResponseView { status: 200, headers: &response_headers }, &mut edits);
    edits
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn basic() -> Value {
    json!({"allow_origins": ["http://example.com", "https://example.com"], "allow_methods": ["GET", "POST", "OPTIONS"],
        "allow_headers": ["Content-Type", "Authorization"], "expose_headers": ["X-Custom-Header"],
        "allow_credentials": false, "max_age": 3600})
}

fn patterns() -> Value {
    json!({"allow_origin_patterns": ["http://*.example.com", "http://*.example.org:[8080,9090]"],
        "allow_methods": ["GET", "POST", "PUT", "DELETE"], "allow_headers": ["Content-Type", "Token", "Authorization"],
        "expose_headers": ["X-Custom-Header", "X-Env-UTM"], "allow_credentials": true, "max_age": 1800})
}

#[test]
fn go_main_test_requests() {
    // Same scheme, host and port: not a CORS request.
    assert_eq!(on_request(&basic(), "GET", &[("origin", "http://example.com")]), None);
    assert_eq!(on_request(&basic(), "GET", &[("origin", "https://example.com")]), None);
    let invalid = on_request(&basic(), "GET", &[("origin", "http://invalid.com")]).unwrap();
    assert_eq!((invalid.status, invalid.body.as_ref()), (403, &b"Invalid CORS request"[..]));
    assert_eq!(invalid.headers, vec![("x-cors-version".to_string(), "1.0.0".to_string())]);
    let all = json!({"allow_origins": ["*"], "allow_methods": ["*"], "allow_headers": ["*"], "expose_headers": ["*"], "max_age": 7200});
    assert_eq!(on_request(&all, "GET", &[("origin", "http://any-domain.com")]), None);
    assert_eq!(on_request(&patterns(), "GET", &[("origin", "http://sub.example.com")]), None);
    assert_eq!(on_request(&basic(), "GET", &[]), None);
}

#[test]
fn preflight() {
    let preflight = |config: &Value, request_headers: &str| {
        on_request(config, "OPTIONS", &[("origin", "https://example.com"), ("access-control-request-method", "POST"),
            ("access-control-request-headers", request_headers)])
        .unwrap()
    };
    // Split on "," without trimming: " Authorization" is not an allowed header.
    assert_eq!(preflight(&basic(), "Content-Type, Authorization").status, 403);
    let ok = preflight(&basic(), "content-type,AUTHORIZATION");
    assert_eq!(ok.status, 200);
    assert!(ok.body.is_empty());
    assert_eq!(header(&ok.headers, "access-control-allow-origin"), Some("https://example.com"));
    assert_eq!(header(&ok.headers, "access-control-allow-methods"), Some("GET,POST,OPTIONS"));
    assert_eq!(header(&ok.headers, "access-control-allow-headers"), Some("Content-Type,Authorization"));
    assert_eq!(header(&ok.headers, "access-control-expose-headers"), Some("X-Custom-Header"));
    assert_eq!(header(&ok.headers, "access-control-max-age"), Some("3600"));
    assert_eq!(header(&ok.headers, "access-control-allow-credentials"), None);
    assert_eq!(header(&ok.headers, "x-cors-version"), Some("1.0.0"));
    // `*` methods and headers.
    let all = json!({"allow_methods": ["*"], "allow_headers": ["*"]});
    let ok = preflight(&all, "X-A, X-B");
    assert_eq!(header(&ok.headers, "access-control-allow-methods"), Some(DEFAULT_ALL_ALLOW_METHODS));
    assert_eq!(header(&ok.headers, "access-control-allow-headers"), Some("X-A, X-B"));
    assert_eq!(header(&ok.headers, "access-control-allow-origin"), Some("https://example.com"));
    assert_eq!(header(&ok.headers, "access-control-max-age"), Some("86400"));
    // Method not allowed.
    let r = on_request(&basic(), "OPTIONS", &[("origin", "https://example.com"), ("access-control-request-method", "PUT")]);
    assert_eq!(r.unwrap().status, 403);
}

#[test]
fn default_config_quirks() {
    // Default methods are one item "GET, PUT, …": every CORS request is rejected.
    let r = on_request(&json!({}), "GET", &[("origin", "http://other.com")]).unwrap();
    assert_eq!(r.status, 403);
    // Non-CORS requests pass.
    assert_eq!(on_request(&json!({}), "GET", &[]), None);
    assert_eq!(on_request(&json!({}), "GET", &[("origin", "http://example.com")]), None);
    // With methods given, default headers are one item: pre-flight passes only without requested headers.
    let config = json!({"allow_methods": ["get"]});
    let ok = on_request(&config, "OPTIONS", &[("origin", "http://o.com"), ("access-control-request-method", "GET")]).unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(header(&ok.headers, "access-control-allow-headers"), Some(DEFAULT_ALLOW_HEADERS));
    assert_eq!(header(&ok.headers, "access-control-allow-methods"), Some("GET"));
    let r = on_request(&config, "OPTIONS", &[("origin", "http://o.com"), ("access-control-request-method", "GET"),
        ("access-control-request-headers", "content-type")]);
    assert_eq!(r.unwrap().status, 403);
}

#[test]
fn origin_patterns_and_credentials() {
    let config = patterns();
    assert_eq!(on_request(&config, "GET", &[("origin", "http://a.example.org:8080")]), None);
    assert_eq!(on_request(&config, "GET", &[("origin", "http://a.example.org:7070")]).unwrap().status, 403);
    // Unanchored: the pattern may match in the middle.
    assert_eq!(on_request(&config, "GET", &[("origin", "http://x.example.com.evil.net")]), None);
    assert_eq!(on_request(&config, "GET", &[("origin", "HTTP://Sub.Example.COM/")]), None);
    let any_port = json!({"allow_origin_patterns": ["https://*.a.com:[*]"], "allow_methods": ["GET"]});
    assert_eq!(on_request(&any_port, "GET", &[("origin", "https://x.a.com")]), None);
    assert_eq!(on_request(&any_port, "GET", &[("origin", "https://x.a.com:8443")]), None);
    assert_eq!(on_request(&any_port, "GET", &[("origin", "http://x.a.com")]).unwrap().status, 403);
    let edits = on_response(&config, "GET", &[("origin", "http://sub.example.com")]);
    assert_eq!(header(&edits.headers.add, "access-control-allow-credentials"), Some("true"));
    assert_eq!(header(&edits.headers.add, "access-control-expose-headers"), Some("X-Custom-Header,X-Env-UTM"));
    // Credentials are dropped with origin `*`.
    let config = json!({"allow_origins": ["*"], "allow_methods": ["GET"], "allow_credentials": true});
    let edits = on_response(&config, "GET", &[("origin", "http://any.com")]);
    assert_eq!(header(&edits.headers.add, "access-control-allow-credentials"), None);
    assert_eq!(header(&edits.headers.add, "access-control-allow-origin"), Some("http://any.com"));
    // A pattern `*` allows everything.
    let config = json!({"allow_origin_patterns": ["*"], "allow_methods": ["GET"], "allow_credentials": true});
    let edits = on_response(&config, "GET", &[("origin", "http://any.com")]);
    assert_eq!(header(&edits.headers.add, "access-control-allow-credentials"), Some("true"));
}

#[test]
fn response_step() {
    let edits = on_response(&basic(), "GET", &[("origin", "http://other.example.com"), ("origin", "https://example.com")]);
    // The last Origin counts; a simple request gets origin and exposed headers, no methods/headers/max age.
    assert_eq!(header(&edits.headers.add, "access-control-allow-origin"), Some("https://example.com"));
    assert_eq!(header(&edits.headers.add, "access-control-expose-headers"), Some("X-Custom-Header"));
    assert_eq!(header(&edits.headers.add, "access-control-allow-methods"), None);
    assert_eq!(header(&edits.headers.add, "access-control-max-age"), None);
    assert!(edits.headers.remove.contains(&"access-control-allow-origin".to_string()));
    assert!(!edits.headers.remove.contains(&"access-control-allow-headers".to_string()));
    // Non-CORS: only the version header, upstream CORS headers still removed.
    let edits = on_response(&basic(), "GET", &[]);
    assert_eq!(edits.headers.add, vec![("x-cors-version".to_string(), "1.0.0".to_string())]);
    assert!(edits.headers.remove.contains(&"x-cors-trace".to_string()));
}

#[test]
fn go_url_parsing() {
    assert!(is_cors_request("http", "example.com", "null"));
    assert!(!is_cors_request("http", "example.com", "http://example.com:80"));
    assert!(is_cors_request("http", "example.com:8080", "http://example.com"));
    assert!(!is_cors_request("http", "example.com:8080", "http://example.com:8080"));
    // url.Parse failures: not CORS.
    assert!(!is_cors_request("http", "example.com", "http://example.com:abc"));
    assert!(!is_cors_request("http", "example.com", ":foo"));
    assert!(!is_cors_request("http", "example.com", "http://exa mple.com"));
    assert!(is_cors_request("http", "example.com", "a:b/c")); // opaque URL, scheme "a"
    assert!(!is_cors_request("http", "example.com", "1a:b/c"));
    assert_eq!(go_url_scheme_host("HTTPS://User@Host.com:8443/x?y"), Some(("https".into(), "Host.com:8443".into())));
}

#[test]
fn list_parsing() {
    let cors = Cors::from_config(&json!({"allow_origins": "http://a.com/", "allow_methods": [" get ", "", "*", "post"],
        "expose_headers": [1], "max_age": -5}))
    .unwrap();
    assert_eq!(cors.allow_origins, vec!["http://a.com"]);
    assert_eq!(cors.allow_methods, vec!["*", "POST"]);
    assert_eq!(cors.expose_headers, vec!["1"]);
    assert_eq!(cors.max_age, 86400);
}
