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
    builtin::request_validation::NAME,
    builtin::transformer::NAME,
    builtin::cors::NAME,
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
        builtin::request_validation::NAME => {
            Ok(Arc::new(builtin::request_validation::RequestValidation::from_config(config)?))
        }
        builtin::transformer::NAME => Ok(Arc::new(builtin::transformer::Transformer::from_config(config)?)),
        builtin::cors::NAME => Ok(Arc::new(builtin::cors::Cors::from_config(config)?)),
        other => Err(ConfigError::new("", format!("no built-in plugin named {other:?}"))),
    }
}

/// Checks `config` for plugin `name` without keeping the result.
pub fn validate(name: &str, config: &Value) -> Result<(), ConfigError> {
    build(name, config).map(|_| ())
}
