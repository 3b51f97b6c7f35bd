//! The explicit registry of built-in plugins: name → constructor from JSON configuration. No global state;
//! the translator calls [`validate`] (so a bad configuration is a diagnostic naming the field), the proxy
//! calls [`build`] once per snapshot.

use std::sync::Arc;

use serde_json::Value;

use crate::builtin;
use crate::Plugin;

/// A configuration a plugin rejects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    /// The offending field (`blocked_code`, `block_regexp_urls[2]`, or `""` for the whole object).
    pub field: String,
    /// Why.
    pub message: String,
}

impl ConfigError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Names of the built-in plugins.
pub const BUILTINS: &[&str] = &[
    builtin::request_block::NAME,
    builtin::ip_restriction::NAME,
    builtin::custom_response::NAME,
    builtin::cache_control::NAME,
    builtin::bot_detect::NAME,
    builtin::key_auth::NAME,
    builtin::basic_auth::NAME,
    builtin::request_validation::NAME,
    builtin::transformer::NAME,
    builtin::cors::NAME,
    builtin::jwt_auth::NAME,
    builtin::simple_jwt_auth::NAME,
    builtin::ai_proxy::NAME,
];

/// Whether `name` is a built-in plugin.
pub fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(&name)
}

/// Builds the plugin `name` with `config` (`null` counts as `{}`).
pub fn build(name: &str, config: &Value) -> Result<Arc<dyn Plugin>, ConfigError> {
    let empty = Value::Object(serde_json::Map::new());
    let config = if config.is_null() { &empty } else { config };
    if !config.is_object() {
        return Err(ConfigError::new("", "the configuration must be an object"));
    }
    match name {
        builtin::request_block::NAME => Ok(Arc::new(builtin::request_block::RequestBlock::from_config(config)?)),
        builtin::ip_restriction::NAME => Ok(Arc::new(builtin::ip_restriction::IpRestriction::from_config(config)?)),
        builtin::custom_response::NAME => Ok(Arc::new(builtin::custom_response::CustomResponse::from_config(config)?)),
        builtin::cache_control::NAME => Ok(Arc::new(builtin::cache_control::CacheControl::from_config(config)?)),
        builtin::bot_detect::NAME => Ok(Arc::new(builtin::bot_detect::BotDetect::from_config(config)?)),
        builtin::key_auth::NAME => Ok(Arc::new(builtin::key_auth::KeyAuth::from_config(config)?)),
        builtin::basic_auth::NAME => Ok(Arc::new(builtin::basic_auth::BasicAuth::from_config(config)?)),
        builtin::request_validation::NAME => {
            Ok(Arc::new(builtin::request_validation::RequestValidation::from_config(config)?))
        }
        builtin::transformer::NAME => Ok(Arc::new(builtin::transformer::Transformer::from_config(config)?)),
        builtin::cors::NAME => Ok(Arc::new(builtin::cors::Cors::from_config(config)?)),
        builtin::jwt_auth::NAME => Ok(Arc::new(builtin::jwt_auth::JwtAuth::from_config(config)?)),
        builtin::simple_jwt_auth::NAME => Ok(Arc::new(builtin::simple_jwt_auth::SimpleJwtAuth::from_config(config)?)),
        builtin::ai_proxy::NAME => Ok(Arc::new(builtin::ai_proxy::AiProxy::from_config(config)?)),
        other => Err(ConfigError::new("", format!("no built-in plugin named {other:?}"))),
    }
}

/// Checks `config` for plugin `name` without keeping the result.
pub fn validate(name: &str, config: &Value) -> Result<(), ConfigError> {
    build(name, config).map(|_| ())
}

/// Whether Higress parses `name` with wasm-go `ParseOverrideConfigBy`: its rule configurations start as a
/// copy of the parsed global configuration, so the translator must derive them with
/// [`effective_rule_config`] (and the global one with [`effective_global_config`]). Plugins parsed with
/// `ParseConfigBy` use every configuration as written.
pub fn overrides_rules_from_global(name: &str) -> bool {
    matches!(name, builtin::key_auth::NAME | builtin::basic_auth::NAME | builtin::jwt_auth::NAME | builtin::ai_proxy::NAME)
}

/// The configuration the global instance of `name` is built from, given the written one and whether the
/// plugin has at least one rule (some plugins behave differently then, e.g. `key-auth` without
/// `global_auth`).
pub fn effective_global_config(name: &str, global: &Value, has_rules: bool) -> Value {
    match name {
        builtin::key_auth::NAME | builtin::basic_auth::NAME => {
            builtin::consumer_auth::effective_global_config(global, has_rules)
        }
        builtin::jwt_auth::NAME => builtin::jwt_auth::global_config(global.clone(), has_rules),
        _ => global.clone(),
    }
}

/// The configuration a rule instance of `name` is built from, given the written global configuration
/// (`None` when disabled) and the rule's own. Errors name a field of the rule's configuration.
pub fn effective_rule_config(name: &str, global: Option<&Value>, rule: &Value) -> Result<Value, ConfigError> {
    match name {
        builtin::key_auth::NAME | builtin::basic_auth::NAME => builtin::consumer_auth::effective_rule_config(global, rule),
        builtin::jwt_auth::NAME => Ok(builtin::jwt_auth::rule_config(global, rule)),
        builtin::ai_proxy::NAME => Ok(builtin::ai_proxy::effective_rule_config(global, rule)),
        _ => Ok(rule.clone()),
    }
}

/// `config` of plugin `name` as it may be shown (`/debug/config`): credentials replaced by
/// `"<redacted>"`. Plugins without secrets in their configuration return it unchanged.
pub fn redacted_config(name: &str, config: &Value) -> Value {
    let mut config = config.clone();
    if name == builtin::ai_proxy::NAME {
        builtin::ai_proxy::redact(&mut config);
    }
    config
}
