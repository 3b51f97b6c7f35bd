use super::*;
use serde_json::json;

fn convert_spec(spec: Value) -> Result<Option<PluginInstance>, String> {
    let plugin: WasmPlugin = serde_json::from_value(json!({
        "apiVersion": "extensions.higress.io/v1alpha1",
        "kind": "WasmPlugin",
        "metadata": {"name": "p", "namespace": "higress-system"},
        "spec": spec,
    }))
    .unwrap();
    let object = ObjectRef::new("WasmPlugin", "higress-system", "p");
    convert(&plugin, &object, &mut Vec::new())
}

fn key_auth_global() -> Value {
    json!({"consumers": [{"name": "c1", "credential": "t1"}], "keys": ["x-api-key"], "in_header": true})
}

#[test]
fn override_plugins_derive_rules_from_the_global_config() {
    let instance = convert_spec(json!({
        "url": "oci://example/plugins/go-key-auth:2.0.0",
        "defaultConfig": key_auth_global(),
        "matchRules": [{"ingress": ["ns/a"], "config": {"allow": ["c1"]}}],
    }))
    .unwrap()
    .unwrap();
    let mut global = key_auth_global();
    global["global_auth"] = json!(false);
    assert_eq!(instance.default_config, Some(global.clone()));
    global["allow"] = json!(["c1"]);
    assert_eq!(instance.rules[0].config, global);
}

#[test]
fn override_rule_errors_name_the_rule_field_and_fail_only_that_rule() {
    let instance = convert_spec(json!({
        "url": "oci://example/plugins/key-auth:1.0.0",
        "defaultConfig": key_auth_global(),
        "matchRules": [{"ingress": ["ns/a"], "config": {"allow": ["c1"]}}, {"domain": ["x.com"], "config": {}}],
    }))
    .unwrap()
    .unwrap();
    assert_eq!(instance.rules[0].failed, None);
    assert_eq!(instance.rules[1].failed.as_deref(), Some("spec.matchRules[1].config.allow: allow is required"));
    assert_eq!(instance.rules[1].domain, vec!["x.com".to_string()], "the failed rule keeps its scope");
}

#[test]
fn other_plugins_keep_rule_configs_as_written() {
    let instance = convert_spec(json!({
        "url": "oci://example/plugins/request-block:1.0.0",
        "defaultConfig": {"block_urls": ["a"]},
        "matchRules": [{"ingress": ["ns/a"], "config": {"block_urls": ["b"]}}],
    }))
    .unwrap()
    .unwrap();
    assert_eq!(instance.default_config, Some(json!({"block_urls": ["a"]})));
    assert_eq!(instance.rules[0].config, json!({"block_urls": ["b"]}));
}

#[test]
fn empty_global_config_with_rules_is_no_global_config() {
    let instance = convert_spec(json!({
        "url": "oci://example/plugins/request-block:1.0.0",
        "matchRules": [{"ingress": ["ns/a"], "config": {"block_urls": ["b"]}}],
    }))
    .unwrap()
    .unwrap();
    assert_eq!(instance.default_config, None);
    assert_eq!(instance.rules.len(), 1);
    // Without rules an empty global configuration is the global configuration (and must be valid).
    let err = convert_spec(json!({"url": "oci://example/plugins/request-block:1.0.0"})).unwrap_err();
    assert!(err.starts_with("spec.defaultConfig"), "{err}");
}
