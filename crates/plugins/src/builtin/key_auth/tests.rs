use super::*;
use crate::builtin::consumer_auth::{effective_global_config, effective_rule_config};
use crate::DirectResponse;
use serde_json::json;

/// The status (`None` = passed) and the consumer header set.
fn run(plugin: &KeyAuth, uri: &str, headers: &[(&str, &str)]) -> (Option<DirectResponse>, Option<String>) {
    let mut builder = http::Request::builder().uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let (parts, _) = builder.body(()).unwrap().into_parts();
    let view = RequestView { parts: &parts, host: "foo.com", scheme: "http", client_ip: None };
    let mut edits = RequestEdits::default();
    let decision = plugin.on_request_headers(&view, &mut edits);
    let consumer = edits.headers.set.iter().find(|(n, _)| n == "x-mse-consumer").map(|(_, v)| v.clone());
    match decision {
        Decision::Respond(r) => (Some(r), consumer),
        Decision::Continue => (None, consumer),
    }
}

fn status(plugin: &KeyAuth, uri: &str, headers: &[(&str, &str)]) -> Option<u16> {
    run(plugin, uri, headers).0.map(|r| r.status)
}

fn global(extra: Value) -> Value {
    let mut config = json!({
        "consumers": [
            {"name": "consumer1", "credential": "token1"},
            {"name": "consumer2", "credential": "token2"}
        ],
        "keys": ["x-api-key", "apikey"],
        "in_header": true
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    config
}

fn global_instance(extra: Value, has_rules: bool) -> KeyAuth {
    KeyAuth::from_config(&effective_global_config(&global(extra), has_rules)).unwrap()
}

fn rule_instance(extra: Value, allow: Value) -> KeyAuth {
    let config = effective_rule_config(Some(&global(extra)), &json!({ "allow": allow })).unwrap();
    KeyAuth::from_config(&config).unwrap()
}

#[test]
fn higress_e2e_rule_with_allow() {
    // go-wasm-key-auth: global_auth false, rule allow [consumer1].
    let rule = rule_instance(json!({"global_auth": false}), json!(["consumer1"]));
    let (response, consumer) = run(&rule, "/foo", &[("x-api-key", "token1")]);
    assert!(response.is_none());
    assert_eq!(consumer.as_deref(), Some("consumer1"));
    assert_eq!(status(&rule, "/foo", &[]), Some(401));
    assert_eq!(status(&rule, "/foo", &[("x-api-key", "nope")]), Some(403));
    assert_eq!(status(&rule, "/foo", &[("x-api-key", "token2")]), Some(403));
    assert_eq!(status(&rule, "/foo", &[("apikey", "token1"), ("x-api-key", "token1")]), Some(401));
    // Routes without the rule: global_auth false ⇒ no authentication.
    assert_eq!(status(&global_instance(json!({"global_auth": false}), true), "/foo", &[]), None);
}

#[test]
fn responses_match_higress() {
    let plugin = global_instance(json!({}), false);
    let no_key = run(&plugin, "/", &[]).0.unwrap();
    assert_eq!(no_key.status, 401);
    assert_eq!(no_key.headers, vec![("www-authenticate".to_string(), "Key realm=MSE Gateway".to_string())]);
    assert_eq!(&no_key.body[..], b"Request denied by Key Auth check. No Key Authentication information found.");
    let multi = run(&plugin, "/", &[("x-api-key", "a"), ("apikey", "b")]).0.unwrap();
    assert_eq!(&multi.body[..], b"Request denied by Key Auth check. Multi Key Authentication information found.");
    let unknown = run(&plugin, "/", &[("x-api-key", "a")]).0.unwrap();
    assert_eq!(unknown.status, 403);
    assert_eq!(&unknown.body[..], b"Request denied by Key Auth check. Unauthorized consumer.");
}

#[test]
fn global_auth_scopes() {
    // Unset and no rules: every consumer must authenticate; with rules: routes without one pass.
    assert_eq!(status(&global_instance(json!({}), false), "/", &[]), Some(401));
    assert_eq!(status(&global_instance(json!({}), false), "/", &[("x-api-key", "token2")]), None);
    assert_eq!(status(&global_instance(json!({}), true), "/", &[]), None);
    // true: authentication everywhere, any consumer; rules still restrict.
    assert_eq!(status(&global_instance(json!({"global_auth": true}), true), "/", &[]), Some(401));
    assert_eq!(status(&global_instance(json!({"global_auth": true}), true), "/", &[("apikey", "token2")]), None);
    let rule = rule_instance(json!({"global_auth": true}), json!(["consumer1"]));
    assert_eq!(status(&rule, "/", &[("apikey", "token2")]), Some(403));
    // Unset with rules: the rule authenticates against its allow list.
    let rule = rule_instance(json!({}), json!("consumer2"));
    assert_eq!(status(&rule, "/", &[("apikey", "token2")]), None);
    assert_eq!(status(&rule, "/", &[("apikey", "token1")]), Some(403));
    // false and no rules: nothing is checked.
    assert_eq!(status(&global_instance(json!({"global_auth": false}), false), "/", &[]), None);
}

#[test]
fn header_and_query_sources() {
    // in_header wins over in_query; empty header values do not count.
    let both = global_instance(json!({"in_query": true}), false);
    assert_eq!(status(&both, "/?apikey=token1", &[]), Some(401));
    assert_eq!(status(&both, "/", &[("apikey", ""), ("x-api-key", "token1")]), None);
    let query = global_instance(json!({"in_header": false, "in_query": true}), false);
    let (response, consumer) = run(&query, "/test.html?apikey=token1", &[]);
    assert!(response.is_none());
    assert_eq!(consumer.as_deref(), Some("consumer1"));
    assert_eq!(status(&query, "/", &[("apikey", "token1")]), Some(401));
    // Go url.Query(): repeated keys are several keys, an empty value is a key, escapes are decoded.
    assert_eq!(status(&query, "/?apikey=token1&apikey=token1", &[]), Some(401));
    assert_eq!(status(&query, "/?apikey=token1&x-api-key=token1", &[]), Some(401));
    assert_eq!(status(&query, "/?apikey=", &[]), Some(403));
    assert_eq!(status(&query, "/?apikey", &[]), Some(403));
    assert_eq!(status(&query, "/?apikey=%74oken1", &[]), None);
    assert_eq!(status(&query, "/?apikey=token1;x", &[]), Some(401));
    assert_eq!(status(&query, "/?apikey=%zz&apikey=token1", &[]), None);
    assert_eq!(status(&query, "/?APIKEY=token1", &[]), Some(401));
    // Header names are case-insensitive.
    let upper = global_instance(json!({"keys": ["X-Api-Key"]}), false);
    assert_eq!(status(&upper, "/", &[("x-api-key", "token1")]), None);
}

#[test]
fn query_unescape_is_go_compatible() {
    assert_eq!(query_unescape("a+b%20c").as_deref(), Some("a b c"));
    assert_eq!(query_unescape("%+1"), None);
    assert_eq!(query_unescape("%2"), None);
    assert_eq!(go_query_pairs("a=1&&b&c=x=y"), vec![
        ("a".to_string(), "1".to_string()),
        ("b".to_string(), String::new()),
        ("c".to_string(), "x=y".to_string()),
    ]);
}

#[test]
fn rule_without_global_config_denies_everyone() {
    let config = effective_rule_config(None, &json!({"allow": ["consumer1"]})).unwrap();
    let plugin = KeyAuth::from_config(&config).unwrap();
    assert_eq!(status(&plugin, "/?apikey=token1", &[("x-api-key", "token1")]), Some(401));
}

#[test]
fn config_errors_name_the_field() {
    let err = |config: Value| KeyAuth::from_config(&config).unwrap_err();
    let mut no_keys = global(json!({}));
    no_keys.as_object_mut().unwrap().remove("keys");
    assert_eq!(err(no_keys).message, "keys is required");
    assert_eq!(err(global(json!({"keys": []}))).message, "keys cannot be empty");
    let mut no_source = global(json!({}));
    no_source.as_object_mut().unwrap().remove("in_header");
    assert_eq!(err(no_source).field, "in_query");
    assert_eq!(err(global(json!({"consumers": []}))).field, "consumers");
    let e = err(global(json!({"consumers": [{"name": "a", "credential": "x"}, {"credential": "y"}]})));
    assert_eq!(e.field, "consumers[1].name");
    let e = err(global(json!({"consumers": [{"name": "a", "credential": ""}]})));
    assert_eq!(e.field, "consumers[0].credential");
    let e = err(global(json!({"consumers": [{"name": "a", "credential": "x"}, {"name": "b", "credential": "x"}]})));
    assert_eq!(e.field, "consumers[1].credential");
    assert!(e.message.contains("duplicate"));
    let e = err(global(json!({"consumers": [{"name": "a\nb", "credential": "x"}]})));
    assert_eq!(e.field, "consumers[0].name");
    // Rule-level allow.
    let e = effective_rule_config(Some(&global(json!({}))), &json!({})).unwrap_err();
    assert_eq!((e.field.as_str(), e.message.as_str()), ("allow", "allow is required"));
    let e = effective_rule_config(Some(&global(json!({}))), &json!({"allow": []})).unwrap_err();
    assert_eq!((e.field.as_str(), e.message.as_str()), ("allow", "allow cannot be empty"));
}

#[test]
fn gjson_lenient_values() {
    // A single value where a list is expected is a one-item list; `global_auth` as a string.
    let plugin = global_instance(json!({"keys": "apikey", "global_auth": "true"}), true);
    assert_eq!(status(&plugin, "/", &[("apikey", "token1")]), None);
    assert_eq!(status(&plugin, "/", &[]), Some(401));
}
