use super::*;
use serde_json::json;

#[test]
fn global_config_drops_allow_and_records_rules() {
    let global = json!({"consumers": [], "allow": ["a"]});
    assert_eq!(effective_global_config(&global, false), json!({"consumers": []}));
    assert_eq!(effective_global_config(&global, true), json!({"consumers": [], "global_auth": false}));
    let explicit = json!({"global_auth": true});
    assert_eq!(effective_global_config(&explicit, true), explicit);
}

#[test]
fn rule_config_is_global_plus_allow() {
    let global = json!({"consumers": [{"name": "a", "credential": "x"}], "allow": ["ignored"]});
    let rule = json!({"allow": ["a"], "consumers": "ignored too"});
    assert_eq!(
        effective_rule_config(Some(&global), &rule).unwrap(),
        json!({"consumers": [{"name": "a", "credential": "x"}], "global_auth": false, "allow": ["a"]})
    );
    assert_eq!(effective_rule_config(None, &rule).unwrap(), json!({"allow": ["a"]}));
}

#[test]
fn scopes() {
    assert_eq!(Scope::from_config(&json!({})).unwrap(), Scope::AnyConsumer);
    assert_eq!(Scope::from_config(&json!({"global_auth": true})).unwrap(), Scope::AnyConsumer);
    assert_eq!(Scope::from_config(&json!({"global_auth": false})).unwrap(), Scope::Off);
    assert_eq!(Scope::from_config(&json!({"global_auth": null})).unwrap(), Scope::Off);
    assert_eq!(Scope::from_config(&json!({"global_auth": false, "allow": ["a", 1]})).unwrap(), Scope::Allow(vec!["a".into(), "1".into()]));
    assert_eq!(Scope::from_config(&json!({"allow": null})).unwrap_err().field, "allow");
}
