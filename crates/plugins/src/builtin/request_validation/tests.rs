use super::*;
use serde_json::json;

fn run(config: &Value, headers: &[(&str, &str)], body: &str) -> Option<(u16, Bytes)> {
    let plugin = RequestValidation::from_config(config).unwrap();
    let mut builder = http::Request::builder().method("POST").uri("/foo").header("host", "foo.com");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let (parts, _) = builder.body(()).unwrap().into_parts();
    let view = RequestView { parts: &parts, host: "foo.com", scheme: "http", client_ip: None };
    let mut edits = RequestEdits::default();
    let decision = match plugin.on_request_headers(&view, &mut edits) {
        Decision::Continue if plugin.needs_request_body() && !edits.skip_body => {
            plugin.on_request_body(&view, body.as_bytes(), &mut edits)
        }
        other => other,
    };
    match decision {
        Decision::Respond(r) => Some((r.status, r.body)),
        Decision::Continue => None,
    }
}

/// The configuration of Higress's e2e test `go-wasm-request-validation`.
fn e2e_config() -> Value {
    json!({
        "header_schema": {"type": "object", "required": ["enum_payload"], "properties": {
            "enum_payload": {"type": "string", "enum": ["enum_string_1", "enum_string_2"], "default": "enum_string_1"}}},
        "body_schema": {"type": "object",
            "required": ["enum_payload", "bool_payload", "integer_payload", "string_payload", "regex_payload", "array_payload"],
            "properties": {
                "enum_payload": {"type": "string", "enum": ["enum_string_1", "enum_string_2"], "default": "enum_string_1"},
                "bool_payload": {"type": "boolean", "default": true},
                "integer_payload": {"type": "integer", "minimum": 1, "maximum": 65535},
                "string_payload": {"type": "string", "minLength": 2, "maxLength": 32},
                "regex_payload": {"type": "string", "minLength": 1, "maxLength": 32, "pattern": "^[a-zA-Z0-9]+$"},
                "array_payload": {"type": "array", "minItems": 2, "items": {"type": "integer", "minimum": 200, "maximum": 599},
                    "uniqueItems": true, "default": [200, 302]}}},
        "rejected_code": 403,
        "rejected_msg": "customize reject message",
        "enable_swagger": true,
        "enable_oas3": false
    })
}

fn body(overrides: &[(&str, Value)], without: &str) -> String {
    let mut map = json!({"enum_payload": "enum_string_1", "bool_payload": true, "integer_payload": 100,
        "string_payload": "abc", "regex_payload": "abc123", "array_payload": [200, 302]});
    let object = map.as_object_mut().unwrap();
    object.remove(without);
    for (k, v) in overrides {
        object.insert((*k).to_string(), v.clone());
    }
    map.to_string()
}

#[test]
fn higress_e2e_cases() {
    let config = e2e_config();
    let header = [("enum_payload", "enum_string_1"), ("content-type", "application/json")];
    assert_eq!(run(&config, &header, &body(&[], "")), None);
    let rejected = Some((403, Bytes::from_static(b"customize reject message")));
    assert_eq!(run(&config, &[("content-type", "application/json")], &body(&[], "")), rejected);
    assert_eq!(run(&config, &header, &body(&[], "enum_payload")), rejected);
    for (field, value) in [
        ("enum_payload", json!("enum_string_3")),
        ("bool_payload", json!("string")),
        ("integer_payload", json!(70000)),
        ("string_payload", json!("a")),
        ("regex_payload", json!("abc@123")),
        ("array_payload", json!([150, 302])),
        ("array_payload", json!([302, 302])),
        ("array_payload", json!([302])),
    ] {
        assert_eq!(run(&config, &header, &body(&[(field, value.clone())], "")), rejected, "{field}: {value}");
    }
}

#[test]
fn go_quirks() {
    let config = e2e_config();
    let header = [("enum_payload", "enum_string_1")];
    // Bodies that are not JSON objects pass.
    assert_eq!(run(&config, &header, ""), None);
    assert_eq!(run(&config, &header, "not json"), None);
    assert_eq!(run(&config, &header, "[1, 2]"), None);
    // `null` unmarshals into a nil map and is validated as null.
    assert!(run(&config, &header, "null").is_some());
    // Binary bodies are not read.
    assert_eq!(run(&config, &[("enum_payload", "enum_string_1"), ("content-encoding", "gzip")], "{}"), None);
    // Numbers go through float64: 100.0 is an integer.
    assert_eq!(run(&config, &header, &body(&[("integer_payload", json!(100.0))], "")), None);
    // A repeated header keeps its last value.
    assert!(run(&config, &[("enum_payload", "enum_string_1"), ("enum_payload", "bad")], &body(&[], "")).is_some());
    assert_eq!(run(&config, &[("enum_payload", "bad"), ("enum_payload", "enum_string_2")], &body(&[], "")), None);
    // Pseudo-headers are part of the document.
    let config = json!({"header_schema": {"properties": {":method": {"enum": ["GET"]}, ":authority": {"const": "foo.com"}}}});
    assert!(run(&config, &[], "").is_some());
    let config = json!({"header_schema": {"properties": {":method": {"enum": ["POST"]}, ":authority": {"const": "foo.com"}}}});
    assert_eq!(run(&config, &[], ""), None);
}

#[test]
fn schema_as_string_and_codes() {
    let config = json!({"body_schema": "{\"type\": \"object\", \"required\": [\"a\"]}", "rejected_code": 700, "rejected_msg": "no"});
    assert_eq!(run(&config, &[], "{}"), Some((403, Bytes::from_static(b"no"))));
    assert_eq!(run(&config, &[], "{\"a\": 1}"), None);
    let config = json!({"body_schema": {"required": ["a"]}, "rejected_code": 422});
    assert_eq!(run(&config, &[], "{}"), Some((422, Bytes::new())));
    // No schema at all: everything passes.
    assert_eq!(run(&json!({}), &[], "{}"), None);
    // Draft 7 by default: `const` works; draft 4 (swagger) ignores it.
    assert!(run(&json!({"body_schema": {"properties": {"a": {"const": 1}}}}), &[], "{\"a\": 2}").is_some());
    assert_eq!(run(&json!({"body_schema": {"properties": {"a": {"const": 1}}}, "enable_swagger": true}), &[], "{\"a\": 2}"), None);
}

#[test]
fn config_errors_name_the_field() {
    let err = RequestValidation::from_config(&json!({"enable_swagger": true, "enable_oas3": "true"})).unwrap_err();
    assert_eq!(err.field, "enable_oas3");
    let err = RequestValidation::from_config(&json!({"body_schema": "{not json"})).unwrap_err();
    assert_eq!(err.field, "body_schema");
    let err = RequestValidation::from_config(&json!({"header_schema": {"type": "no-such-type"}})).unwrap_err();
    assert_eq!(err.field, "header_schema");
}
