//! What `key-auth` and `basic-auth` share: the consumer-authentication scope (`global_auth` + `allow`), how
//! a rule's configuration derives from the global one, the denial responses and gjson-style readers.
//!
//! why (Higress `plugins/wasm-go/extensions/{key,basic}-auth/main.go`, wasm-go `ParseOverrideConfigBy` in
//! `pkg/matcher/rule_matcher.go`): the global configuration holds the consumers; a rule (`matchRules[].config`)
//! contributes only `allow` (`allow is required`, `allow cannot be empty`): the rule's configuration is a copy
//! of the parsed global one plus `allow`, every other rule field is ignored. A package-level `ruleSet` flag
//! records whether any rule exists. Then, per request:
//!
//! | instance | `global_auth` | authentication |
//! |---|---|---|
//! | rule (has `allow`) | any | required, consumer must be in `allow` (else 403) |
//! | global | `true` | required, any consumer |
//! | global | `false` | none (pass) |
//! | global | unset | required, any consumer, **unless the plugin has rules**: then none |
//!
//! Here a plugin's instances are built from separate JSON configurations, so the translator asks
//! [`crate::registry::effective_global_config`] / [`crate::registry::effective_rule_config`] for them:
//! the global one loses `allow` and gets `global_auth: false` when it is unset and rules exist (same
//! outcome as `ruleSet`); a rule's is the global one plus the rule's `allow`. A configuration with `allow`
//! is therefore a rule instance. When the global configuration is disabled, Higress copies a zero global
//! configuration into rules (no consumers: every request is denied); a configuration with `allow` and no
//! global field reproduces that.
//!
//! The C++ plugins (`plugins/wasm-cpp/common/route_rule_matcher.h` `getMatchAuthConfig`) reach the same
//! scopes, except that an empty `allow` there denies everyone and a rule with fields besides `allow`
//! replaces the global configuration (and ignores `allow`).

use bytes::Bytes;
use serde_json::{Map, Value};

use super::gjson_bool;
use crate::{ConfigError, Decision, DirectResponse};

/// Realm of the `WWW-Authenticate` header (Higress `protectionSpace`).
pub(crate) const REALM: &str = "MSE Gateway";

/// The request header naming the authenticated consumer for the upstream.
pub(crate) const CONSUMER_HEADER: &str = "x-mse-consumer";

/// Where a configured instance requires authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// No authentication (`global_auth: false` on the global instance).
    Off,
    /// Any configured consumer passes.
    AnyConsumer,
    /// A rule instance: only these consumers pass.
    Allow(Vec<String>),
}

impl Scope {
    /// The scope of an (effective) configuration: `allow` ⇒ rule, else `global_auth` (unset ⇒ required).
    pub(crate) fn from_config(config: &Value) -> Result<Self, ConfigError> {
        if let Some(allow) = config.get("allow") {
            let names: Vec<String> = gjson_array(allow).into_iter().map(gjson_text).collect();
            if names.is_empty() {
                return Err(ConfigError::new("allow", "allow cannot be empty"));
            }
            return Ok(Self::Allow(names));
        }
        match config.get("global_auth") {
            Some(_) if !gjson_bool(config, "global_auth") => Ok(Self::Off),
            _ => Ok(Self::AnyConsumer),
        }
    }

    /// Whether `consumer` may pass once authenticated.
    pub(crate) fn admits(&self, consumer: &str) -> bool {
        match self {
            Self::Allow(names) => names.iter().any(|n| n == consumer),
            Self::Off | Self::AnyConsumer => true,
        }
    }
}

/// The global instance's configuration: `allow` dropped (Higress ignores it there), and `global_auth: false`
/// when it is unset and the plugin has rules (Higress's `ruleSet`).
pub(crate) fn effective_global_config(global: &Value, has_rules: bool) -> Value {
    let mut config = global.clone();
    if let Value::Object(map) = &mut config {
        map.remove("allow");
        if has_rules && !map.contains_key("global_auth") {
            map.insert("global_auth".into(), Value::Bool(false));
        }
    }
    config
}

/// A rule instance's configuration: the global one (none when disabled) plus the rule's `allow`; the rule's
/// other fields are ignored, as Higress's `parseOverrideRuleConfig` does.
pub(crate) fn effective_rule_config(global: Option<&Value>, rule: &Value) -> Result<Value, ConfigError> {
    let Some(allow) = rule.get("allow") else {
        return Err(ConfigError::new("allow", "allow is required"));
    };
    if gjson_array(allow).is_empty() {
        return Err(ConfigError::new("allow", "allow cannot be empty"));
    }
    let mut map = match global.map(|g| effective_global_config(g, true)) {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    map.insert("allow".into(), allow.clone());
    Ok(Value::Object(map))
}

/// Whether `config` carries none of `fields` (a rule whose global configuration was disabled).
pub(crate) fn has_none_of(config: &Value, fields: &[&str]) -> bool {
    fields.iter().all(|f| config.get(*f).is_none())
}

/// gjson's `.Array()`: a list's items, `null` ⇒ none, any other value ⇒ itself as the only item.
pub(crate) fn gjson_array(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// gjson's `.String()` of a value: strings as they are, `null` ⇒ empty, anything else as JSON text.
pub(crate) fn gjson_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A consumer name must be usable as the value of the consumer header.
pub(crate) fn check_consumer_name(name: &str, field: &str) -> Result<(), ConfigError> {
    http::HeaderValue::from_str(name)
        .map(|_| ())
        .map_err(|_| ConfigError::new(field, "consumer name is not a valid header value"))
}

/// A denial: `status`, `WWW-Authenticate: <scheme> realm=MSE Gateway`, `message` as the body.
pub(crate) fn deny(status: u16, scheme: &str, message: &'static str) -> Decision {
    Decision::Respond(DirectResponse {
        status,
        headers: vec![("www-authenticate".into(), format!("{scheme} realm={REALM}"))],
        body: Bytes::from_static(message.as_bytes()),
    })
}

#[cfg(test)]
mod tests;
