use super::*;
use serde_json::json;

fn added(config: Value, uri: &str) -> Vec<(String, String)> {
    let plugin = CacheControl::from_config(&config).unwrap();
    let (parts, _) = http::Request::builder().uri(uri).body(()).unwrap().into_parts();
    let view = RequestView { parts: &parts, host: "foo.com", scheme: "http", client_ip: None };
    let headers = http::HeaderMap::new();
    let mut edits = ResponseEdits::default();
    plugin.on_response_headers(&view, &ResponseView { status: 200, headers: &headers }, &mut edits);
    assert!(edits.headers.set.is_empty() && edits.headers.remove.is_empty());
    edits.headers.add
}

fn cache_control(config: Value, uri: &str) -> Option<String> {
    added(config, uri).into_iter().find(|(k, _)| k == "Cache-Control").map(|(_, v)| v)
}

#[test]
fn higress_e2e_config() {
    let headers = added(json!({"expires": 3600}), "/foo");
    assert_eq!(headers[1], ("Cache-Control".to_string(), "maxAge=3600".to_string()));
    assert_eq!(headers[0].0, "Expires");
    assert!(headers[0].1.ends_with(" GMT") && headers[0].1.len() == 29, "{}", headers[0].1);
}

#[test]
fn suffixes_and_expires() {
    let config = json!({"suffix": "jpg|png", "expires": "max"});
    assert_eq!(cache_control(config.clone(), "/a/b.png?x=1.css"), Some("maxAge=315360000".into()));
    assert_eq!(cache_control(config.clone(), "/a/b.jpg"), Some("maxAge=315360000".into()));
    assert_eq!(cache_control(config.clone(), "/a/b.css?x=.png"), None);
    assert_eq!(cache_control(config.clone(), "/a/b.PNG"), None);
    assert_eq!(cache_control(config, "/a/bpng"), None);
    assert_eq!(
        added(json!({"expires": "epoch"}), "/"),
        vec![
            ("Expires".to_string(), "Thu, 01 Jan 1970 00:00:01 GMT".to_string()),
            ("Cache-Control".to_string(), "no-cache".to_string())
        ]
    );
    assert_eq!(added(json!({"expires": "max"}), "/")[0].1, "Thu, 31 Dec 2037 23:55:55 GMT");
    // Unparsable or missing expires is 0.
    assert_eq!(cache_control(json!({}), "/"), Some("maxAge=0".into()));
    assert_eq!(cache_control(json!({"expires": "1h"}), "/"), Some("maxAge=0".into()));
    assert_eq!(cache_control(json!({"expires": "-10"}), "/"), Some("maxAge=-10".into()));
    assert_eq!(cache_control(json!({"expires": "99999999999999999999"}), "/"), Some(format!("maxAge={}", i64::MAX)));
}

#[test]
fn dates() {
    assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(http_date(1), "Thu, 01 Jan 1970 00:00:01 GMT");
    assert_eq!(http_date(2_145_916_555), "Thu, 31 Dec 2037 23:55:55 GMT");
    assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    assert_eq!(http_date(1_136_214_245), "Mon, 02 Jan 2006 15:04:05 GMT");
    assert_eq!(http_date(-86_400), "Wed, 31 Dec 1969 00:00:00 GMT");
    assert_eq!(http_date(i64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
    assert_eq!(http_date(i64::MIN), "Sat, 01 Jan 0000 00:00:00 GMT");
}
