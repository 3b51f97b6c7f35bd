//! The provider families, one file each, and the `type` → provider table.

mod azure;
mod claude;
mod compatible;
mod dify;
mod gemini;
mod minimax;
mod openai;
mod qwen;

use super::config::ProviderConfig;
use super::provider::Provider;
use crate::ConfigError;

/// Higress provider types oxigress does not implement yet (signed requests, OAuth, per-request
/// downloads or protocols of their own).
const NOT_YET: &[&str] = &["hunyuan", "spark", "deepl", "cohere", "coze", "bedrock", "vertex", "triton", "openrouter", "longcat", "vllm"];

/// Builds and validates the provider of `config` (`field` names it in errors).
pub(crate) fn build(config: ProviderConfig, field: &str) -> Result<Box<dyn Provider>, ConfigError> {
    let kind = config.kind.clone();
    Ok(match kind.as_str() {
        "qwen" => Box::new(qwen::Qwen::build(config, field)?),
        "openai" => Box::new(openai::OpenAi::build(config)?),
        "generic" => Box::new(openai::Generic::build(config)),
        "azure" => Box::new(azure::Azure::build(config, field)?),
        "minimax" => Box::new(minimax::Minimax::build(config, field)?),
        "dify" => Box::new(dify::Dify::build(config, field)?),
        "claude" => Box::new(claude::Claude::build(config, field)?),
        "gemini" => Box::new(gemini::Gemini::build(config, field)?),
        other if compatible::knows(other) => Box::new(compatible::Compatible::build(config, field)?),
        other if NOT_YET.contains(&other) => {
            return Err(ConfigError::new(format!("{field}.type"), format!("provider type {other:?} is not supported by oxigress yet")));
        }
        other => return Err(ConfigError::new(format!("{field}.type"), format!("unknown provider type: {other}"))),
    })
}
