use super::*;
use crate::builtin::consumer_auth::{effective_global_config, effective_rule_config};
use crate::DirectResponse;
use serde_json::json;

fn run(plugin: &BasicAuth, authorization: Option<&str>) -> (Option<DirectResponse>, Option<String>) {
    let mut builder = http::Request::builder().uri("/foo");
    if let Some(value) = authorization {
        builder = builder.header("authorization", value);
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

fn status(plugin: &BasicAuth, authorization: Option<&str>) -> Option<u16> {
    run(plugin, authorization).0.map(|r| r.status)
}

fn global(global_auth: Option<bool>) -> Value {
    let mut config = json!({"consumers": [
        {"name": "consumer1", "credential": "admin:123456"},
        {"name": "consumer2", "credential": "guest:abc"}
    ]});
    if let Some(flag) = global_auth {
        config["global_auth"] = json!(flag);
    }
    config
}

fn global_instance(global_auth: Option<bool>, has_rules: bool) -> BasicAuth {
    BasicAuth::from_config(&effective_global_config(&global(global_auth), has_rules)).unwrap()
}

fn rule_instance(global_auth: Option<bool>, allow: Value) -> BasicAuth {
    BasicAuth::from_config(&effective_rule_config(Some(&global(global_auth)), &json!({ "allow": allow })).unwrap()).unwrap()
}

const ADMIN: &str = "Basic YWRtaW46MTIzNDU2"; // admin:123456
const GUEST: &str = "Basic Z3Vlc3Q6YWJj"; // guest:abc

#[test]
fn higress_e2e_rule_with_allow() {
    let rule = rule_instance(Some(false), json!(["consumer1"]));
    let (response, consumer) = run(&rule, Some(ADMIN));
    assert!(response.is_none());
    assert_eq!(consumer.as_deref(), Some("consumer1"));
    let missing = run(&rule, None).0.unwrap();
    assert_eq!(missing.status, 401);
    assert_eq!(missing.headers, vec![("www-authenticate".to_string(), "Basic realm=MSE Gateway".to_string())]);
    assert_eq!(&missing.body[..], b"Request denied by Basic Auth check. No Basic Authentication information found.");
    let wrong = run(&rule, Some("Basic YWRtaW46cXdlcg==")).0.unwrap(); // admin:qwer
    assert_eq!(wrong.status, 401);
    assert_eq!(&wrong.body[..], b"Request denied by Basic Auth check. Invalid username and/or password.");
    let denied = run(&rule, Some(GUEST)).0.unwrap();
    assert_eq!(denied.status, 403);
    assert_eq!(&denied.body[..], b"Request denied by Basic Auth check. Unauthorized consumer.");
    assert_eq!(status(&global_instance(Some(false), true), None), None);
}

#[test]
fn global_auth_scopes() {
    assert_eq!(status(&global_instance(None, false), None), Some(401));
    assert_eq!(run(&global_instance(None, false), Some(GUEST)).1.as_deref(), Some("consumer2"));
    assert_eq!(status(&global_instance(None, true), None), None);
    assert_eq!(status(&global_instance(Some(true), true), None), Some(401));
    assert_eq!(status(&global_instance(Some(true), true), Some(GUEST)), None);
    assert_eq!(status(&rule_instance(Some(true), json!(["consumer1"])), Some(GUEST)), Some(403));
    assert_eq!(status(&rule_instance(None, json!(["consumer2"])), Some(GUEST)), None);
}

#[test]
fn authorization_header_forms() {
    let plugin = global_instance(None, false);
    assert_eq!(status(&plugin, Some("basic YWRtaW46MTIzNDU2")), Some(401));
    assert_eq!(status(&plugin, Some("Bearer x")), Some(401));
    assert_eq!(status(&plugin, Some("Basic !!!")), Some(401));
    // Go StdEncoding: padding required.
    assert_eq!(status(&plugin, Some("Basic Z3Vlc3Q6YWJjZA")), Some(401));
    // More than one ':' once decoded.
    assert_eq!(status(&plugin, Some("Basic Z3Vlc3Q6YWJjOg==")), Some(401)); // guest:abc:
    // Unknown user.
    assert_eq!(status(&plugin, Some("Basic bm9ib2R5OmFiYw==")), Some(401)); // nobody:abc
}

#[test]
fn later_password_of_a_user_wins() {
    let plugin = BasicAuth::from_config(&json!({"consumers": [
        {"name": "old", "credential": "admin:1"},
        {"name": "new", "credential": "admin:2"}
    ]}))
    .unwrap();
    assert_eq!(status(&plugin, Some("Basic YWRtaW46MQ==")), Some(401)); // admin:1
    assert_eq!(run(&plugin, Some("Basic YWRtaW46Mg==")).1.as_deref(), Some("new")); // admin:2
}

#[test]
fn rule_without_global_config_denies_everyone() {
    let plugin = BasicAuth::from_config(&effective_rule_config(None, &json!({"allow": ["consumer1"]})).unwrap()).unwrap();
    assert_eq!(status(&plugin, Some(ADMIN)), Some(401));
}

#[test]
fn config_errors_name_the_field() {
    let err = |config: Value| BasicAuth::from_config(&config).unwrap_err();
    assert_eq!(err(json!({})).message, "consumers is required");
    assert_eq!(err(json!({"consumers": []})).message, "consumers cannot be empty");
    assert_eq!(err(json!({"consumers": [{"credential": "a:b"}]})).field, "consumers[0].name");
    assert_eq!(err(json!({"consumers": [{"name": "n"}]})).field, "consumers[0].credential");
    let e = err(json!({"consumers": [{"name": "n", "credential": "a:b:c"}]}));
    assert_eq!(e.field, "consumers[0].credential");
    assert!(e.message.contains("invalid credential format"));
    assert_eq!(err(json!({"consumers": [{"name": "n", "credential": "ab"}]})).field, "consumers[0].credential");
    let e = err(json!({"consumers": [{"name": "n", "credential": "a:b"}, {"name": "m", "credential": "a:b"}]}));
    assert_eq!(e.field, "consumers[1].credential");
}
