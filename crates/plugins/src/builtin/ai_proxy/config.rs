//! The configuration schema of Higress's `ai-proxy` (`config/config.go`, `provider/provider.go`
//! `ProviderConfig.FromJson`/`Validate`, `failover.go`, `retry.go`, `custom_setting.go`), read with gjson's
//! leniency (numbers from strings, `.Array()` of a scalar is that scalar). Only the **active** provider is
//! validated, as Higress does; provider-specific keys stay in [`ProviderConfig::raw`] for the provider to read.
//!
//! Error messages never quote a configuration value (an API token must not reach a diagnostic).

use std::collections::BTreeMap;

use serde_json::Value;

use super::model_mapping::ModelMapping;
use crate::builtin::consumer_auth::{gjson_array, gjson_text};
use crate::builtin::{gjson_bool, gjson_int, gjson_string};
use crate::ConfigError;

/// The plugin configuration: the active provider, if any (none ⇒ the plugin passes requests through).
#[derive(Debug, Clone)]
pub(crate) struct PluginConfig {
    /// The active provider (`provider`, or `providers[]` entry named by `activeProviderId`).
    pub active: Option<ProviderConfig>,
    /// Where the active provider came from, for error fields (`provider` or `providers[i]`).
    pub field: String,
}

impl PluginConfig {
    /// Reads and validates a configuration.
    pub(crate) fn from_json(config: &Value) -> Result<Self, ConfigError> {
        // why: the legacy `provider` object wins and is active at once (config.go FromJson).
        if let Some(provider @ Value::Object(_)) = config.get("provider") {
            let provider = ProviderConfig::from_json(provider, "provider")?;
            return Ok(Self { active: Some(provider), field: "provider".into() });
        }
        let active_id = gjson_string(config, "activeProviderId");
        if active_id.is_empty() {
            return Ok(Self { active: None, field: String::new() });
        }
        let providers = match config.get("providers") {
            Some(Value::Array(items)) => items.as_slice(),
            _ => &[],
        };
        for (i, provider) in providers.iter().enumerate() {
            if gjson_string(provider, "id") == active_id {
                let field = format!("providers[{i}]");
                let provider = ProviderConfig::from_json(provider, &field)?;
                return Ok(Self { active: Some(provider), field });
            }
        }
        // why: an unknown activeProviderId leaves no active provider (pass-through), as in Higress.
        Ok(Self { active: None, field: String::new() })
    }
}

/// `protocol`: what the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// OpenAI's API (default): requests and responses are converted for the provider.
    OpenAi,
    /// The provider's own API: only host, credentials and (mostly) path change.
    Original,
}

/// `reasoningContentMode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum ReasoningMode {
    /// Keep `reasoning_content` (default).
    #[default]
    PassThrough,
    /// Drop it.
    Ignore,
    /// Prepend it to `content` inside `<think>…</think>`.
    Concat,
}

/// `basePathHandling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BasePathHandling {
    /// Remove `basePath` from the request path (default when `basePath` is set).
    RemovePrefix,
    /// Put `basePath` in front of the rewritten path.
    Prepend,
}

/// `failover`: API tokens that keep failing are taken out of rotation for a while.
#[derive(Debug, Clone)]
pub(crate) struct Failover {
    /// Consecutive failures that take a token out (default 3).
    pub failure_threshold: u32,
    /// How long a token stays out (ms, `healthCheckInterval`, default 5000).
    pub cooldown_ms: u64,
    /// Status patterns (Go regexp, unanchored) that count as failures (default `4.*`, `5.*`).
    pub on_status: Vec<regex::Regex>,
}

/// `retryOnFailure`: a failed request is sent again with another token.
#[derive(Debug, Clone)]
pub(crate) struct RetryOnFailure {
    /// At most this many retries (default 1).
    pub max_retries: u32,
    /// Status patterns that cause a retry (default `4.*`, `5.*`).
    pub on_status: Vec<regex::Regex>,
}

/// One `customSettings` entry, resolved for the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CustomSetting {
    /// Dotted JSON path in the request body.
    pub path: Vec<String>,
    /// Raw JSON value.
    pub raw: String,
    /// Replace a value the client set (default true).
    pub overwrite: bool,
}

/// One provider's configuration (the generic part; `raw` has the rest).
#[derive(Debug, Clone)]
pub(crate) struct ProviderConfig {
    /// `type` (e.g. `qwen`).
    pub kind: String,
    /// `apiTokens`.
    pub api_tokens: Vec<String>,
    /// `firstByteTimeout` (ms, 0 = off).
    pub first_byte_timeout_ms: u64,
    /// `modelMapping`.
    pub model_mapping: ModelMapping,
    /// `protocol`.
    pub protocol: Protocol,
    /// `customSettings`, resolved.
    pub custom_settings: Vec<CustomSetting>,
    /// `failover` when enabled.
    pub failover: Option<Failover>,
    /// `retryOnFailure` when enabled.
    pub retry: Option<RetryOnFailure>,
    /// `reasoningContentMode`.
    pub reasoning: ReasoningMode,
    /// Extra `capabilities` (API name → path), whitelisted as Higress does.
    pub capabilities: BTreeMap<String, String>,
    /// `basePath` and its handling.
    pub base_path: Option<(String, BasePathHandling)>,
    /// `providerBasePath`.
    pub provider_base_path: String,
    /// `providerDomain`.
    pub provider_domain: String,
    /// `authHeaderKey`.
    pub auth_header_key: String,
    /// `mergeConsecutiveMessages` (or `hiclawMode`).
    pub merge_consecutive_messages: bool,
    /// `contextCleanupCommands`.
    pub context_cleanup_commands: Vec<String>,
    /// The whole provider object, for provider-specific keys.
    pub raw: Value,
}

/// API names a `capabilities` entry may name (provider.go FromJson).
const CAPABILITY_WHITELIST: &[&str] = &[
    "openai/v1/chatcompletions",
    "openai/v1/embeddings",
    "openai/v1/imagegeneration",
    "openai/v1/imagevariation",
    "openai/v1/imageedit",
    "openai/v1/audiospeech",
    "openai/v1/audiotranscription",
    "openai/v1/audiotranslation",
    "openai/v1/realtime",
    "openai/v1/responses",
    "cohere/v1/rerank",
    "openai/v1/videos",
    "openai/v1/retrievevideo",
    "openai/v1/retrievevideocontent",
    "openai/v1/videoremix",
];

impl ProviderConfig {
    /// Reads one provider object; `field` prefixes error fields.
    pub(crate) fn from_json(json: &Value, field: &str) -> Result<Self, ConfigError> {
        let at = |name: &str| format!("{field}.{name}");
        let kind = gjson_string(json, "type");
        let protocol = match gjson_string(json, "protocol").as_str() {
            "" | "openai" => Protocol::OpenAi,
            "original" => Protocol::Original,
            _ => return Err(ConfigError::new(at("protocol"), "invalid protocol in config")),
        };
        let model_mapping = ModelMapping::from_json(json.get("modelMapping")).map_err(|e| ConfigError::new(at("modelMapping"), e))?;
        let custom_protocol = if protocol == Protocol::Original { kind.as_str() } else { "openai" };
        let custom_settings = match json.get("customSettings") {
            Some(settings) => gjson_array(settings).into_iter().filter_map(|s| CustomSetting::from_json(s, custom_protocol)).collect(),
            None => Vec::new(),
        };
        let failover = match json.get("failover") {
            Some(f) if gjson_bool(f, "enabled") => Some(Failover::from_json(f, &at("failover"))?),
            _ => None,
        };
        let retry = match json.get("retryOnFailure") {
            Some(r) if gjson_bool(r, "enabled") => Some(RetryOnFailure::from_json(r, &at("retryOnFailure"))?),
            _ => None,
        };
        let reasoning = match gjson_string(json, "reasoningContentMode").to_ascii_lowercase().as_str() {
            "ignore" => ReasoningMode::Ignore,
            "concat" => ReasoningMode::Concat,
            _ => ReasoningMode::PassThrough,
        };
        let capabilities = match json.get("capabilities") {
            Some(Value::Object(map)) => map
                .iter()
                .filter(|(name, _)| CAPABILITY_WHITELIST.contains(&name.as_str()))
                .map(|(name, path)| (name.clone(), gjson_text(path)))
                .collect(),
            _ => BTreeMap::new(),
        };
        let base_path = match gjson_string(json, "basePath") {
            path if path.is_empty() => None,
            path => {
                let handling = match gjson_string(json, "basePathHandling").as_str() {
                    "prepend" => BasePathHandling::Prepend,
                    _ => BasePathHandling::RemovePrefix,
                };
                Some((path, handling))
            }
        };
        let hiclaw = gjson_bool(json, "hiclawMode");
        let config = Self {
            api_tokens: json.get("apiTokens").map(|t| gjson_array(t).into_iter().map(gjson_text).collect()).unwrap_or_default(),
            first_byte_timeout_ms: gjson_int(json, "firstByteTimeout").max(0).unsigned_abs(),
            model_mapping,
            protocol,
            custom_settings,
            failover,
            retry,
            reasoning,
            capabilities,
            base_path,
            provider_base_path: gjson_string(json, "providerBasePath"),
            provider_domain: gjson_string(json, "providerDomain"),
            auth_header_key: gjson_string(json, "authHeaderKey"),
            merge_consecutive_messages: gjson_bool(json, "mergeConsecutiveMessages") || hiclaw,
            context_cleanup_commands: json
                .get("contextCleanupCommands")
                .map(|c| gjson_array(c).into_iter().map(gjson_text).filter(|c| !c.is_empty()).collect())
                .unwrap_or_default(),
            raw: json.clone(),
            kind,
        };
        if json.get("context").is_some_and(|c| !c.is_null()) {
            // why: Higress fetches the file from another service at request time; not supported yet.
            return Err(ConfigError::new(at("context"), "context (a file fetched per request) is not supported by oxigress yet"));
        }
        if config.kind.is_empty() {
            return Err(ConfigError::new(at("type"), "missing type in provider config"));
        }
        Ok(config)
    }

    /// Whether the client speaks the provider's own protocol.
    pub(crate) fn is_original(&self) -> bool {
        self.protocol == Protocol::Original
    }

    /// A provider-specific string (`qwenDomain`, ...); empty when absent.
    pub(crate) fn string(&self, name: &str) -> String {
        gjson_string(&self.raw, name)
    }

    /// A provider-specific boolean.
    pub(crate) fn flag(&self, name: &str) -> bool {
        gjson_bool(&self.raw, name)
    }

    /// A provider-specific integer.
    pub(crate) fn int(&self, name: &str) -> i64 {
        gjson_int(&self.raw, name)
    }

    /// `apiTokens` must not be empty.
    pub(crate) fn require_tokens(&self, field: &str) -> Result<(), ConfigError> {
        if self.api_tokens.is_empty() {
            return Err(ConfigError::new(format!("{field}.apiTokens"), "no apiToken found in provider config"));
        }
        Ok(())
    }
}

/// Status patterns (`failoverOnStatus`, `retryOnStatus`): Go's `regexp.MatchString`, unanchored.
fn status_patterns(json: &Value, name: &str, field: &str) -> Result<Vec<regex::Regex>, ConfigError> {
    let mut patterns: Vec<String> = json.get(name).map(|p| gjson_array(p).into_iter().map(gjson_text).collect()).unwrap_or_default();
    if patterns.is_empty() {
        patterns = vec!["4.*".into(), "5.*".into()];
    }
    patterns
        .iter()
        .enumerate()
        .map(|(i, p)| regex::Regex::new(p).map_err(|e| ConfigError::new(format!("{field}.{name}[{i}]"), e.to_string())))
        .collect()
}

/// Whether `status` matches one of `patterns`.
pub(crate) fn status_matches(patterns: &[regex::Regex], status: u16) -> bool {
    let status = status.to_string();
    patterns.iter().any(|p| p.is_match(&status))
}

impl Failover {
    fn from_json(json: &Value, field: &str) -> Result<Self, ConfigError> {
        if gjson_string(json, "healthCheckModel").is_empty() {
            return Err(ConfigError::new(format!("{field}.healthCheckModel"), "missing healthCheckModel in failover config"));
        }
        let positive = |name: &str, default: i64| match gjson_int(json, name) {
            0 => default,
            n => n.max(1),
        };
        Ok(Self {
            failure_threshold: u32::try_from(positive("failureThreshold", 3)).unwrap_or(u32::MAX),
            cooldown_ms: positive("healthCheckInterval", 5000).unsigned_abs(),
            on_status: status_patterns(json, "failoverOnStatus", field)?,
        })
    }
}

impl RetryOnFailure {
    fn from_json(json: &Value, field: &str) -> Result<Self, ConfigError> {
        let max = match gjson_int(json, "maxRetries") {
            0 => 1,
            n => n.max(0),
        };
        Ok(Self { max_retries: u32::try_from(max).unwrap_or(u32::MAX), on_status: status_patterns(json, "retryOnStatus", field)? })
    }
}

/// `customSettings` names `auto` mode maps, per protocol (custom_setting.go).
fn mapped_setting(name: &str, protocol: &str) -> Option<&'static str> {
    let table: &[(&str, &str)] = match name {
        "max_tokens" => &[
            ("openai", "max_tokens"),
            ("baidu", "max_output_tokens"),
            ("spark", "max_tokens"),
            ("qwen", "max_tokens"),
            ("gemini", "maxOutputTokens"),
            ("claude", "max_tokens"),
            ("minimax", "tokens_to_generate"),
        ],
        "temperature" => &[
            ("openai", "temperature"),
            ("baidu", "temperature"),
            ("spark", "temperature"),
            ("qwen", "temperature"),
            ("gemini", "temperature"),
            ("hunyuan", "Temperature"),
            ("claude", "temperature"),
            ("minimax", "temperature"),
        ],
        "top_p" => &[
            ("openai", "top_p"),
            ("baidu", "top_p"),
            ("qwen", "top_p"),
            ("gemini", "topP"),
            ("hunyuan", "TopP"),
            ("claude", "top_p"),
            ("minimax", "top_p"),
        ],
        "top_k" => &[("spark", "top_k"), ("gemini", "topK"), ("claude", "top_k")],
        "seed" => &[("openai", "seed"), ("qwen", "seed")],
        _ => &[],
    };
    table.iter().find(|(p, _)| *p == protocol).map(|(_, n)| *n)
}

impl CustomSetting {
    /// One entry for `protocol` (`openai`, or the provider type under `protocol: original`); `None` when
    /// Higress drops it (no name, or an `auto` name without a mapping).
    fn from_json(json: &Value, protocol: &str) -> Option<Self> {
        let name = gjson_string(json, "name");
        let raw = json.get("value").map(Value::to_string).unwrap_or_default();
        let mode = json.get("mode").map(gjson_text).unwrap_or_else(|| "auto".into());
        let overwrite = json.get("overwrite").is_none() || gjson_bool(json, "overwrite");
        let mut name = if mode == "raw" { name } else { mapped_setting(&name, protocol)?.to_string() };
        if name.is_empty() || raw.is_empty() {
            return None;
        }
        if protocol == "qwen" {
            name = format!("parameters.{name}");
        } else if protocol == "gemini" {
            name = format!("generation_config.{name}");
        }
        Some(Self { path: name.split('.').map(String::from).collect(), raw, overwrite })
    }
}
