//! `ai-proxy`: an OpenAI-compatible front door to LLM providers, with Higress's configuration schema and
//! semantics (`plugins/wasm-go/extensions/ai-proxy`, the Go plugin as of the acceptance corpus's commit).
//!
//! - Configuration: `provider: {...}` (active at once) or `providers: [{id, ...}]` + `activeProviderId`;
//!   without an active provider the plugin lets requests through untouched. A rule's configuration is the
//!   rule's own object, inheriting only `providers` from the global one ([`effective_rule_config`], as
//!   wasm-go's `ParseOverrideConfig` + `PluginConfig.FromJson` behave). Schema and validation:
//!   [`config`]; provider families: [`providers`].
//! - Per request ([`exchange`]): the API from the path suffix (`/v1/chat/completions`, `/v1/completions`,
//!   `/v1/embeddings`, `/v1/models`, …, [`api`]), `Accept-Encoding` removed, an API token
//!   ([`tokens`]: round robin, `failover` takes failing tokens out for a while), the provider's host, path
//!   and credentials, `X-ENVOY-ORIGINAL-HOST`/`-PATH` when they changed and `X-HI-ORIGINAL-AUTH` with the
//!   client's `Authorization`; the JSON body gets `customSettings`, `stream_options.include_usage` for
//!   streamed chat/completions, `developer` → `system` and the provider's conversion (at least the
//!   `modelMapping`, [`model_mapping`]). The route is not chosen again (`DisableReroute`): the request goes
//!   to the route's own upstream.
//! - Answers: a 200 is converted back to OpenAI's format when the provider speaks another one — whole, or
//!   SSE event by event as the chunks arrive (nothing is buffered for streams); other statuses pass
//!   through. A status matching `retryOnFailure.retryOnStatus` is retried with another token (up to
//!   `maxRetries`). Errors of the plugin itself and an unreachable upstream answer with OpenAI's
//!   `{"error": {...}}` and a fitting status (Higress: `text/plain` 500).
//! - Tokens never reach a log line, a metric, an error body or `/debug/config` ([`redact`]).
//!
//! Not supported yet (configuration error): `context` (a file fetched per request), `moonshotFileId`,
//! and the provider types listed in [`providers`]. `timeout` is read but, as in Higress, only concerns
//! `context`. Anthropic `/v1/messages` requests to a provider without a native Messages API are not
//! converted (Higress converts them to chat completions). Health-check requests of `failover` are not sent.

mod api;
mod config;
mod exchange;
mod json;
mod model_mapping;
mod openai;
mod provider;
mod providers;
mod sse;
mod tokens;
mod usage;

use std::sync::Arc;

use serde_json::Value;

use crate::{ConfigError, Exchange, Plugin};
use exchange::{AiExchange, Shared};

/// Plugin name.
pub const NAME: &str = "ai-proxy";
/// The request body Higress's ai-proxy buffers (`defaultMaxBodyBytes`), above the gateway's buffer limit.
const MAX_BODY_BYTES: usize = 100 * 1024 * 1024;

/// A configured ai-proxy.
#[derive(Debug)]
pub struct AiProxy {
    /// `None`: no active provider (pass-through).
    shared: Option<Arc<Shared>>,
}

impl AiProxy {
    /// Parses and validates a configuration (only the active provider is validated, as Higress does).
    pub fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let parsed = config::PluginConfig::from_json(config)?;
        let Some(active) = parsed.active else {
            return Ok(Self { shared: None });
        };
        let tokens = tokens::TokenPool::new(active.api_tokens.clone(), active.failover.clone());
        let provider = providers::build(active, &parsed.field)?;
        Ok(Self { shared: Some(Arc::new(Shared { provider, tokens })) })
    }

    /// The active provider's type, if any.
    pub fn provider(&self) -> Option<&'static str> {
        self.shared.as_ref().map(|s| s.provider.kind())
    }
}

impl Plugin for AiProxy {
    fn name(&self) -> &str {
        NAME
    }

    fn needs_request_body(&self) -> bool {
        self.shared.is_some()
    }

    /// Higress's ai-proxy raises the stream's buffer limit (`SetRequestBodyBufferLimit`) to 100 MiB.
    fn request_body_limit(&self) -> Option<usize> {
        Some(MAX_BODY_BYTES)
    }

    fn exchange(&self) -> Option<Box<dyn Exchange>> {
        self.shared.as_ref().map(|shared| Box::new(AiExchange::new(shared.clone())) as Box<dyn Exchange>)
    }
}

/// A rule's effective configuration: the rule's own, with the global `providers` when it has none.
pub fn effective_rule_config(global: Option<&Value>, rule: &Value) -> Value {
    let mut out = rule.clone();
    if let (Value::Object(map), Some(providers)) = (&mut out, global.and_then(|g| g.get("providers"))) {
        if !map.contains_key("providers") {
            map.insert("providers".into(), providers.clone());
        }
    }
    out
}

/// Secret-bearing keys of a provider object, besides `apiTokens`.
const SECRET_KEYS: &[&str] = &["apiToken", "awsAccessKey", "awsSecretKey", "hunyuanAuthKey", "vertexAuthKey"];

/// The placeholder a secret is replaced with.
pub const REDACTED: &str = "<redacted>";

/// `config` with every credential replaced by [`REDACTED`] (each `apiTokens` entry, so their number
/// still shows), for `/debug/config` and anything else that prints configurations.
pub fn redact(config: &mut Value) {
    let mut providers: Vec<&mut Value> = Vec::new();
    if let Value::Object(map) = config {
        for (key, value) in map.iter_mut() {
            match (key.as_str(), value) {
                ("provider", provider @ Value::Object(_)) => providers.push(provider),
                ("providers", Value::Array(items)) => providers.extend(items.iter_mut()),
                _ => {}
            }
        }
    }
    for provider in providers {
        let Value::Object(map) = provider else { continue };
        match map.get_mut("apiTokens") {
            Some(Value::Array(tokens)) => tokens.iter_mut().for_each(|t| *t = Value::String(REDACTED.into())),
            Some(token @ Value::String(_)) => *token = Value::String(REDACTED.into()),
            _ => {}
        }
        for key in SECRET_KEYS {
            if let Some(value) = map.get_mut(*key) {
                if !value.is_null() {
                    *value = Value::String(REDACTED.into());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
