use super::*;
use serde_json::json;

/// The request as it reaches the upstream.
#[derive(Debug)]
struct Sent {
    target: String,
    headers: http::HeaderMap,
    body: Option<Bytes>,
}

impl Sent {
    fn header(&self, name: &str) -> Option<String> {
        let values: Vec<_> = self.headers.get_all(name).iter().map(|v| v.to_str().unwrap().to_string()).collect();
        (!values.is_empty()).then(|| values.join(","))
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(self.body.as_ref().unwrap()).unwrap()
    }
}

fn apply_headers(headers: &mut http::HeaderMap, edits: crate::HeaderEdits) {
    for name in edits.remove {
        headers.remove(name.as_str());
    }
    for (name, value) in edits.set {
        headers.insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
    }
    for (name, value) in edits.add {
        headers.append(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
    }
}

fn apply(parts: &mut http::request::Parts, edits: &mut RequestEdits) {
    apply_headers(&mut parts.headers, std::mem::take(&mut edits.headers));
    if let Some(target) = edits.path_and_query.take() {
        parts.uri = target.parse().unwrap();
    }
}

/// Runs the request side as the proxy does.
fn request(config: &Value, method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Sent {
    let plugin = Transformer::from_config(config).unwrap();
    let mut builder = http::Request::builder().method(method).uri(target);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let (mut parts, _) = builder.body(()).unwrap().into_parts();
    let host = parts.headers.get("host").map(|h| h.to_str().unwrap().to_string()).unwrap_or_default();
    let mut edits = RequestEdits::default();
    let view = RequestView { parts: &parts, host: &host, scheme: "http", client_ip: None };
    assert_eq!(plugin.on_request_headers(&view, &mut edits), Decision::Continue);
    let skip = edits.skip_body;
    apply(&mut parts, &mut edits);
    let mut sent_body = None;
    if plugin.needs_request_body() && !skip {
        let mut edits = RequestEdits::default();
        let view = RequestView { parts: &parts, host: &host, scheme: "http", client_ip: None };
        assert_eq!(plugin.on_request_body(&view, body.as_bytes(), &mut edits), Decision::Continue);
        sent_body = edits.body.take();
        apply(&mut parts, &mut edits);
    }
    Sent { target: parts.uri.to_string(), headers: parts.headers, body: sent_body }
}

/// Runs the response side; the response headers and body as sent downstream.
fn response(config: &Value, host: &str, target: &str, headers: &[(&str, &str)], body: &str) -> (http::HeaderMap, Option<Bytes>) {
    let plugin = Transformer::from_config(config).unwrap();
    let (parts, _) = http::Request::builder().uri(target).header("host", host).body(()).unwrap().into_parts();
    let view = RequestView { parts: &parts, host, scheme: "http", client_ip: None };
    let mut response_headers = http::HeaderMap::new();
    for (name, value) in headers {
        response_headers.append(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
    }
    let mut edits = ResponseEdits::default();
    plugin.on_response_headers(&view, &ResponseView { status: 200, headers: &response_headers }, &mut edits);
    apply_headers(&mut response_headers, edits.headers);
    let body = edits
        .read_body
        .then(|| plugin.on_response_body(&view, &ResponseView { status: 200, headers: &response_headers }, body.as_bytes()))
        .flatten();
    (response_headers, body)
}

fn header_rules() -> Value {
    json!([
        {"operate": "remove", "headers": [{"key": "X-remove"}], "querys": [{"key": "k1"}]},
        {"operate": "rename", "headers": [{"oldKey": "X-not-renamed", "newKey": "X-renamed"}], "querys": [{"oldKey": "k2", "newKey": "k2-new"}]},
        {"operate": "replace", "headers": [{"key": "X-replace", "newValue": "replaced"}], "querys": [{"key": "k2-new", "newValue": "v2-new"}]},
        {"operate": "add", "headers": [{"key": "X-add-append", "value": "add"}], "querys": [{"key": "k3", "value": "v31"}]},
        {"operate": "append", "headers": [{"key": "X-add-append", "appendValue": "append"}], "querys": [{"key": "k3", "appendValue": "v32"}]},
        {"operate": "map", "headers": [{"fromKey": "X-add-append", "toKey": "X-map"}], "querys": [{"fromKey": "k3", "toKey": "k4"}]},
        {"operate": "dedupe", "headers": [{"key": "X-dedupe-first", "strategy": "RETAIN_FIRST"},
            {"key": "X-dedupe-last", "strategy": "RETAIN_LAST"}, {"key": "X-dedupe-unique", "strategy": "RETAIN_UNIQUE"}],
         "querys": [{"key": "k4", "strategy": "RETAIN_FIRST"}]}
    ])
}

fn dedupe_headers() -> Vec<(&'static str, &'static str)> {
    let mut headers = vec![("host", "foo1.com")];
    for v in ["1", "2", "3"] {
        headers.push(("X-dedupe-first", v));
    }
    for v in ["a", "b", "c"] {
        headers.push(("X-dedupe-last", v));
    }
    for v in ["1", "2", "3", "3", "2", "1"] {
        headers.push(("X-dedupe-unique", v));
    }
    headers
}

#[test]
fn case_1_request_headers_and_query() {
    let mut headers = dedupe_headers();
    headers.extend([("X-not-renamed", "test"), ("X-remove", "exist"), ("X-replace", "not-replaced")]);
    let sent = request(&json!({"reqRules": header_rules()}), "GET", "/get?k1=v11&k1=v12&k2=v2", &headers, "");
    assert_eq!(sent.target, "/get?k2-new=v2-new&k3=v31&k3=v32&k4=v31");
    assert_eq!(sent.header("x-add-append").as_deref(), Some("add,append"));
    assert_eq!(sent.header("x-dedupe-first").as_deref(), Some("1"));
    assert_eq!(sent.header("x-dedupe-last").as_deref(), Some("c"));
    assert_eq!(sent.header("x-dedupe-unique").as_deref(), Some("1,2,3"));
    assert_eq!(sent.header("x-map").as_deref(), Some("add,append"));
    assert_eq!(sent.header("x-renamed").as_deref(), Some("test"));
    assert_eq!(sent.header("x-replace").as_deref(), Some("replaced"));
    assert_eq!(sent.header("x-remove"), None);
    assert_eq!(sent.header("x-not-renamed"), None);
    assert_eq!(sent.header("host").as_deref(), Some("foo1.com"));
    assert!(sent.body.is_none());
}

fn response_rules(map_before_append: bool, append_pattern: &str) -> Value {
    let mut rules = vec![
        json!({"operate": "remove", "headers": [{"key": "X-remove"}]}),
        json!({"operate": "rename", "headers": [{"oldKey": "X-not-renamed", "newKey": "X-renamed"}]}),
        json!({"operate": "replace", "headers": [{"key": "X-replace", "newValue": "replace-$1", "path_pattern": "^.*?\\/(\\w+)[\\?]{0,1}.*$"}]}),
        json!({"operate": "add", "headers": [{"key": "X-add-append", "value": "add-$1", "host_pattern": "^(.*)\\.com$"}]}),
    ];
    let append = json!({"operate": "append", "headers": [{"key": "X-add-append", "appendValue": "append-$1", "path_pattern": append_pattern}]});
    let map = json!({"operate": "map", "headers": [{"fromKey": "X-add-append", "toKey": "X-map"}]});
    if map_before_append {
        rules.extend([map, append]);
    } else {
        rules.extend([append, map]);
    }
    json!({"respRules": rules})
}

#[test]
fn cases_2_and_5_response_headers() {
    let upstream = [("content-type", "application/json"), ("x-not-renamed", "test"), ("x-remove", "exist"), ("x-replace", "not-replaced")];
    let (headers, body) = response(&response_rules(false, "^\\/get\\/(.*)\\.html$"), "foo2.com", "/get/index.html", &upstream, "{}");
    assert!(body.is_none());
    let get = |h: &http::HeaderMap, n: &str| h.get_all(n).iter().map(|v| v.to_str().unwrap()).collect::<Vec<_>>().join(",");
    assert_eq!(get(&headers, "x-add-append"), "add-foo2,append-index");
    assert_eq!(get(&headers, "x-map"), "add-foo2,append-index");
    assert_eq!(get(&headers, "x-renamed"), "test");
    assert_eq!(get(&headers, "x-replace"), "replace-get");
    assert!(headers.get("x-remove").is_none());
    let (headers, _) = response(&response_rules(true, "^\\/get\\/(.*)\\.html$"), "foo5.com", "/get/index.html", &upstream, "{}");
    assert_eq!(get(&headers, "x-add-append"), "add-foo5,append-index");
    assert_eq!(get(&headers, "x-map"), "add-foo5");
}

#[test]
fn case_4_arbitrary_order() {
    let rules = json!({"reqRules": [
        {"operate": "dedupe", "headers": [{"key": "X-dedupe-first", "strategy": "RETAIN_FIRST"},
            {"key": "X-dedupe-last", "strategy": "RETAIN_LAST"}, {"key": "X-dedupe-unique", "strategy": "RETAIN_UNIQUE"}],
         "querys": [{"key": "k1", "strategy": "RETAIN_FIRST"}]},
        {"operate": "map", "headers": [{"fromKey": "X-dedupe-first", "toKey": "X-map-dedupe-first"}], "querys": [{"fromKey": "k1", "toKey": "k2"}]},
        {"operate": "append", "headers": [{"key": "X-map-dedupe-first", "appendValue": "append"}], "querys": [{"key": "k2", "appendValue": "v22"}]},
        {"operate": "add", "headers": [{"key": "X-add-append", "value": "add"}], "querys": [{"key": "k3", "value": "v31"}]},
        {"operate": "replace", "headers": [{"key": "X-dedupe-last", "newValue": "X-dedupe-last-replaced"}]},
        {"operate": "rename", "headers": [{"oldKey": "X-dedupe-unique", "newKey": "X-dedupe-unique-renamed"}], "querys": [{"oldKey": "k3", "newKey": "k3-new"}]},
        {"operate": "remove", "headers": [{"key": "X-dedupe-first"}], "querys": [{"key": "k1"}]}
    ]});
    let sent = request(&rules, "GET", "/get?k1=v11&k1=v12", &dedupe_headers(), "");
    assert_eq!(sent.target, "/get?k2=v11&k2=v22&k3-new=v31");
    assert_eq!(sent.header("x-add-append").as_deref(), Some("add"));
    assert_eq!(sent.header("x-dedupe-last").as_deref(), Some("X-dedupe-last-replaced"));
    assert_eq!(sent.header("x-dedupe-unique-renamed").as_deref(), Some("1,2,3"));
    assert_eq!(sent.header("x-map-dedupe-first").as_deref(), Some("1,append"));
    assert_eq!(sent.header("x-dedupe-first"), None);
}

#[test]
fn cases_6_7_14_cross_maps_and_replace() {
    let rules = json!({"reqRules": [{"operate": "map", "mapSource": "querys",
        "headers": [{"fromKey": "kmap", "toKey": "X-map"}], "querys": [{"fromKey": "k3", "toKey": "k4"}]}]});
    let sent = request(&rules, "GET", "/get?kmap=vmap", &[("host", "foo6.com")], "");
    assert_eq!(sent.target, "/get?kmap=vmap");
    assert_eq!(sent.header("x-map").as_deref(), Some("vmap"));
    let rules = json!({"reqRules": [{"operate": "map", "mapSource": "headers", "querys": [{"fromKey": "X-map", "toKey": "kmap"}]}]});
    let sent = request(&rules, "GET", "/get", &[("host", "foo7.com"), ("X-map", "vmap")], "");
    assert_eq!(sent.target, "/get?kmap=vmap");
    let rules = json!({"reqRules": [{"operate": "replace", "headers": [{"key": "X-replace-headers", "newValue": "exist-headers"}],
        "querys": [{"key": "X-replace-querys", "newValue": "exist-querys"}]}]});
    let sent = request(&rules, "GET", "/get?X-replace-querys=hello", &[("host", "foo14.com")], "");
    assert_eq!(sent.target, "/get?X-replace-querys=exist-querys");
    assert_eq!(sent.header("x-replace-headers").as_deref(), Some("exist-headers"));
}

fn body_rules() -> Value {
    json!([
        {"operate": "remove", "body": [{"key": "X-removed"}]},
        {"operate": "rename", "body": [{"oldKey": "X-not-renamed", "newKey": "X-renamed"}]},
        {"operate": "replace", "body": [{"key": "X-replace", "newValue": "replaced"}]},
        {"operate": "add", "body": [{"key": "X-add-append", "value": "add"}]},
        {"operate": "append", "body": [{"key": "X-add-append", "appendValue": "append"}]},
        {"operate": "map", "body": [{"fromKey": "X-to-be-mapped", "toKey": "X-map"}]},
        {"operate": "dedupe", "body": [{"key": "X-dedupe-first", "strategy": "RETAIN_FIRST"},
            {"key": "X-dedupe-last", "strategy": "RETAIN_LAST"}, {"key": "X-dedupe-unique", "strategy": "RETAIN_UNIQUE"}]}
    ])
}

fn expected_body() -> serde_json::Value {
    json!({"X-renamed": ["v1"], "X-add-append": ["add", "append"], "X-to-be-mapped": ["v1", "v2"],
        "X-map": ["v1", "v2"], "X-replace": "replaced"})
}

#[test]
fn case_8_request_body() {
    let body = "\n\t{\n\t\"X-removed\":[\"v1\", \"v2\"],\n\t\"X-not-renamed\":[\"v1\"],\n\t\"X-to-be-mapped\":[\"v1\", \"v2\"],\n\t\"X-replace\": \"not-replaced\"\n\t}\n";
    let sent = request(&json!({"reqRules": body_rules()}), "POST", "/post", &[("host", "foo8.com"), ("content-type", "application/json")], body);
    assert_eq!(sent.json(), expected_body());
    let text = String::from_utf8(sent.body.unwrap().to_vec()).unwrap();
    assert_eq!(
        text,
        "{\n  \"X-to-be-mapped\": [\"v1\", \"v2\"],\n  \"X-replace\": \"replaced\",\n  \"X-renamed\": [\"v1\"],\n  \"X-add-append\": [\"add\", \"append\"],\n  \"X-map\": [\"v1\", \"v2\"]\n}\n"
    );
    // Not JSON content: the body is not read.
    let sent = request(&json!({"reqRules": body_rules()}), "POST", "/post", &[("content-type", "text/plain")], body);
    assert!(sent.body.is_none());
}

#[test]
fn case_9_response_body() {
    let upstream = "{\n \"X-not-renamed\": [\n  \"v1\"\n ],\n \"X-removed\": [\n  \"v1\",\n  \"v2\"\n ],\n \"X-to-be-mapped\": [\n  \"v1\",\n  \"v2\"\n ]\n}";
    let (_, body) = response(&json!({"respRules": body_rules()}), "foo9.com", "/post", &[("content-type", "application/json")], upstream);
    let value: serde_json::Value = serde_json::from_slice(&body.unwrap()).unwrap();
    assert_eq!(value, expected_body());
    let (_, body) = response(&json!({"respRules": body_rules()}), "foo9.com", "/post", &[("content-type", "text/html")], upstream);
    assert!(body.is_none());
    let (_, body) = response(&json!({"respRules": body_rules()}), "foo9.com", "/post", &[("content-type", "application/json"), ("content-encoding", "gzip")], upstream);
    assert!(body.is_none());
}

#[test]
fn cases_10_to_13_and_15_body_maps() {
    let json_headers = |host: &'static str| vec![("host", host), ("content-type", "application/json")];
    let rules = json!({"reqRules": [{"operate": "map", "mapSource": "headers", "body": [{"fromKey": "X-map", "toKey": "kmap"}]}]});
    let mut headers = json_headers("foo10.com");
    headers.push(("X-map", "higress"));
    let sent = request(&rules, "POST", "/post", &headers, "{\"X-hello\":\"world\"}");
    assert_eq!(sent.json(), json!({"X-hello": "world", "kmap": ["higress"]}));
    let rules = json!({"reqRules": [{"operate": "map", "mapSource": "querys", "body": [{"fromKey": "X-map", "toKey": "test.kmap"}]}]});
    let sent = request(&rules, "POST", "/post?X-map=higress", &json_headers("foo11.com"), "{\"X-hello\": \"world\"}");
    assert_eq!(sent.json(), json!({"X-hello": "world", "test": {"kmap": ["higress"]}}));
    let rules = json!({"reqRules": [{"operate": "map", "mapSource": "body", "headers": [{"fromKey": "test.kmap", "toKey": "X-map"}]}]});
    let sent = request(&rules, "POST", "/post", &json_headers("foo12.com"), "{\"test\": {\"kmap\": \"higress\"}}");
    assert_eq!(sent.header("x-map").as_deref(), Some("higress"));
    assert!(sent.body.is_none());
    // A body map source waits for the body: without one, nothing changes.
    let sent = request(&rules, "POST", "/post", &json_headers("foo12.com"), "");
    assert_eq!(sent.header("x-map"), None);
    let rules = json!({"reqRules": [{"operate": "map", "mapSource": "body", "querys": [{"fromKey": "test.kmap", "toKey": "X-map"}]}]});
    let sent = request(&rules, "POST", "/post", &json_headers("foo13.com"), "{\"test\": {\"kmap\": \"higress\"}}");
    assert_eq!(sent.target, "/post?X-map=higress");
    let rules = json!({"reqRules": [{"operate": "replace", "body": [{"key": "X-replace-body", "newValue": "exist-body"}]}]});
    let sent = request(&rules, "POST", "/post", &json_headers("foo15.com"), "{}");
    assert_eq!(sent.json(), json!({"X-replace-body": "exist-body"}));
}

#[test]
fn case_16_reroute_and_18_split() {
    let rules = json!({"reqRules": [{"operate": "replace", "headers": [{"key": "reroute", "newValue": true}]}]});
    assert!(Transformer::from_config(&rules).unwrap().reroute());
    let sent = request(&rules, "GET", "/get", &[("host", "foo16.com"), ("reroute", "false")], "");
    assert_eq!(sent.header("reroute").as_deref(), Some("true"));
    let rules = json!({"reroute": false, "reqRules": [{"operate": "replace", "headers": [{"key": "reroute", "newValue": true}]}]});
    assert!(!Transformer::from_config(&rules).unwrap().reroute());
    let rules = json!({"reqRules": [{"operate": "dedupe", "headers": [
        {"key": "X-split-dedupe-first", "strategy": "SPLIT_AND_RETAIN_FIRST"},
        {"key": "X-split-dedupe-last", "strategy": "SPLIT_AND_RETAIN_LAST"}]}]});
    let sent = request(&rules, "GET", "/get", &[("X-split-dedupe-first", "1,2,3"), ("X-split-dedupe-last", "a,b,c")], "");
    assert_eq!(sent.header("x-split-dedupe-first").as_deref(), Some("1"));
    assert_eq!(sent.header("x-split-dedupe-last").as_deref(), Some("c"));
}

#[test]
fn json_body_details() {
    let run = |rules: Value, body: &str| {
        let sent = request(&json!({"reqRules": rules}), "POST", "/p", &[("host", "a.com"), ("content-type", "application/json; charset=utf-8")], body);
        sent.body.map(|b| serde_json::from_slice::<serde_json::Value>(&b).unwrap())
    };
    // value_type conversions; a failed conversion leaves the body alone.
    let rules = json!([{"operate": "add", "body": [{"key": "n", "value": "1.50", "value_type": "number"},
        {"key": "b", "value": "T", "value_type": "boolean"}, {"key": "o", "value": "{\"z\":1,\"a\":[2]}", "value_type": "object"}]}]);
    assert_eq!(run(rules, "{}"), Some(json!({"n": 1.5, "b": true, "o": {"a": [2], "z": 1}})));
    let rules = json!([{"operate": "add", "body": [{"key": "n", "value": "x", "value_type": "number"}]}]);
    assert_eq!(run(rules, "{}"), None);
    // append turns a scalar into a list; dedupe leaves one unique value as a scalar.
    let rules = json!([{"operate": "append", "body": [{"key": "a", "appendValue": "y"}]},
        {"operate": "dedupe", "body": [{"key": "u", "strategy": "RETAIN_UNIQUE"}, {"key": "s", "strategy": "split_and_retain_last"}]}]);
    assert_eq!(run(rules, r#"{"a": "x", "u": [1, 1.0, "1"], "s": ["p,q", "r"]}"#), Some(json!({"a": ["x", "y"], "u": [1, 1], "s": "q"})));
    // Patterns on the body need value_type string.
    let rules = json!([{"operate": "add", "body": [{"key": "h", "value": "host-$1", "host_pattern": "^(.*)\\.com$"}]}]);
    assert_eq!(run(rules, "{}"), Some(json!({"h": "host-a"})));
    // Rename to itself drops the key; nested paths and escaped dots.
    let rules = json!([{"operate": "rename", "body": [{"oldKey": "a", "newKey": "a"}, {"oldKey": "x\\.y", "newKey": "n.m"}]}]);
    assert_eq!(run(rules, r#"{"a": 1, "x.y": {"k": 2}}"#), Some(json!({"n": {"m": {"k": 2}}})));
    // Invalid JSON: unchanged.
    let rules = json!([{"operate": "add", "body": [{"key": "a", "value": "b"}]}]);
    assert_eq!(run(rules, "{nope"), None);
}

#[test]
fn form_bodies() {
    let rules = json!({"reqRules": [{"operate": "rename", "body": [{"oldKey": "a", "newKey": "c"}]},
        {"operate": "add", "body": [{"key": "b", "value": "x y"}]}]});
    let sent = request(&rules, "POST", "/p", &[("content-type", "application/x-www-form-urlencoded")], "z=1&a=2&a=3");
    assert_eq!(sent.body.as_deref(), Some(&b"b=x+y&c=2&c=3&z=1"[..]));
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f.txt\"\r\nContent-Type: text/plain\r\n\r\nfile\r\n--XyZ--\r\n";
    let sent = request(&rules, "POST", "/p", &[("content-type", "multipart/form-data; boundary=XyZ")], body);
    assert_eq!(
        String::from_utf8(sent.body.unwrap().to_vec()).unwrap(),
        "--XyZ\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\nx y\r\n--XyZ\r\nContent-Disposition: form-data; name=\"c\"\r\n\r\n1\r\n--XyZ--\r\n"
    );
    // Binary (encoded) bodies are not read; header rules still run.
    let rules = json!({"reqRules": [{"operate": "add", "headers": [{"key": "x-h", "value": "v"}], "body": [{"key": "b", "value": "x"}]}]});
    let sent = request(&rules, "POST", "/p", &[("content-type", "application/json"), ("content-encoding", "gzip")], "{}");
    assert_eq!(sent.header("x-h").as_deref(), Some("v"));
    assert!(sent.body.is_none());
}

#[test]
fn query_and_pseudo_headers() {
    // Query parameters are decoded and re-encoded sorted; bad pairs dropped.
    let rules = json!({"reqRules": [{"operate": "add", "querys": [{"key": "new", "value": "a b&c"}]}]});
    let sent = request(&rules, "GET", "/x/%41?b=2&a=1+1&bad=%zz&c", &[("host", "h")], "");
    assert_eq!(sent.target, "/x/%41?a=1+1&b=2&c=&new=a+b%26c");
    // Removing every parameter of a bare `?` keeps the `?`.
    let rules = json!({"reqRules": [{"operate": "remove", "querys": [{"key": "a"}]}]});
    assert_eq!(request(&rules, "GET", "/x?a=1", &[], "").target, "/x");
    // :authority and :path are editable.
    let rules = json!({"reqRules": [{"operate": "replace", "headers": [{"key": ":authority", "newValue": "other.com"}, {"key": ":path", "newValue": "/new?q=1"}]}]});
    let sent = request(&rules, "GET", "/old", &[("host", "a.com")], "");
    assert_eq!(sent.header("host").as_deref(), Some("other.com"));
    assert_eq!(sent.target, "/new?q=1");
    // A path Go cannot parse leaves the request alone.
    let rules = json!({"reqRules": [{"operate": "add", "headers": [{"key": "x", "value": "1"}]}]});
    assert_eq!(request(&rules, "GET", "/bad%zz", &[], "").header("x"), None);
}

#[test]
fn config_errors_name_the_field() {
    let err = Transformer::from_config(&json!({"reroute": true})).unwrap_err();
    assert!(err.message.contains("rule not exist"));
    let err = Transformer::from_config(&json!({"reqRules": [{"operate": "remove"}, {"operate": "drop"}]})).unwrap_err();
    assert_eq!(err.field, "reqRules[1].operate");
    let err = Transformer::from_config(&json!({"respRules": [{"operate": "map", "mapSource": "cookies"}]})).unwrap_err();
    assert_eq!(err.field, "respRules[0].mapSource");
    let err = Transformer::from_config(&json!({"reqRules": [{"operate": "add", "body": [{"key": "a", "value_type": "int"}]}]})).unwrap_err();
    assert_eq!(err.field, "reqRules[0].body[0].value_type");
    let err = Transformer::from_config(&json!({"reqRules": [{"operate": "add", "headers": [{"key": "a", "path_pattern": "("}]}]})).unwrap_err();
    assert_eq!(err.field, "reqRules[0].headers[0].path_pattern");
    // Operate is case-insensitive; an empty list means no transformer for that side.
    let t = Transformer::from_config(&json!({"reqRules": [{"operate": "ReMoVe", "headers": {"key": "a"}}], "respRules": []})).unwrap();
    assert!(t.request.is_some() && t.response.is_none());
}

#[test]
fn pretty_layout() {
    let json = Json::parse(br#"{"a":{"b":[1,2],"c":[{"d":1}]},"e":[],"f":{},"g":"\u00e9\n"}"#).unwrap();
    assert_eq!(
        json.pretty(),
        "{\n  \"a\": {\n    \"b\": [1, 2],\n    \"c\": [\n      {\n        \"d\": 1\n      }\n    ]\n  },\n  \"e\": [],\n  \"f\": {},\n  \"g\": \"é\\n\"\n}\n"
    );
    assert_eq!(json::go_float(1e21, true), "1e+21");
    assert_eq!(json::go_float(1e-7, true), "1e-7");
    assert_eq!(json::go_float(100.0, true), "100");
    assert_eq!(Json::parse(b"[1, 2.50]").unwrap().go_value().compact(), "[1,2.5]");
}
