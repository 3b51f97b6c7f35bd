//! `gemini` (gemini.go): Google's Generative Language API at `generativelanguage.googleapis.com`, token
//! in `x-goog-api-key`. Chat completions go to `/{apiVersion}/models/{model}:generateContent` (streams:
//! `:streamGenerateContent?alt=sse`) as `{contents, system_instruction, safetySettings,
//! generationConfig, tools}` (assistant → `model` role, images as `inlineData`, thinking config for
//! 2.5 models); embeddings to `:batchEmbedContents`. Answers come back as OpenAI objects, SSE lines one
//! chunk each (id `chatcmpl-<uuid>`). Gemini-native paths pass with the body untouched.
//!
//! oxigress differences: image URLs are not downloaded and inlined (Higress fetches them); a function
//! call in an answer becomes a tool call (Higress's `buildToolCalls` returns none).

use serde::Serialize;
use serde_json::{Map, Value};

use super::super::api::{self, ApiName, Capabilities};
use super::super::config::ProviderConfig;
use super::super::json;
use super::super::openai::{self as oa, ChatCompletionResponse, ChatMessage, Choice, FunctionCall, ToolCall, Usage};
use super::super::provider::{parse_chat, AiError, Body, Call, Provider, StreamConverter, Upstream};
use super::super::sse::{Event, LineSplitter};
use crate::{ConfigError, RequestView};

const DOMAIN: &str = "generativelanguage.googleapis.com";
const THINKING_MODELS: &[&str] = &["gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"];

/// The `gemini` provider.
#[derive(Debug)]
pub(crate) struct Gemini {
    config: ProviderConfig,
    capabilities: Capabilities,
    version: String,
}

impl Gemini {
    /// Builds it: tokens are required.
    pub(crate) fn build(config: ProviderConfig, field: &str) -> Result<Self, ConfigError> {
        config.require_tokens(field)?;
        let mut capabilities =
            api::capabilities(&[(api::CHAT_COMPLETION, ""), (api::EMBEDDINGS, ""), (api::MODELS, ""), (api::GEMINI_GENERATE_CONTENT, ""), (api::GEMINI_STREAM_GENERATE_CONTENT, "")]);
        capabilities.extend(config.capabilities.clone());
        let version = [config.string("claudeVersion"), config.string("apiVersion")].into_iter().find(|v| !v.is_empty()).unwrap_or_else(|| "v1beta".into());
        Ok(Self { config, capabilities, version })
    }

    fn path(&self, model: &str, action: &str) -> String {
        format!("/{}/models/{model}:{action}", self.version)
    }

    fn chat_request(&self, request: &Value, model: &str) -> Value {
        let mut generation = Map::new();
        let mut put = |key: &str, value: Value| {
            let empty = matches!(&value, Value::Null | Value::Bool(false)) || value.as_f64() == Some(0.0) || value.as_array().is_some_and(Vec::is_empty);
            if !empty {
                generation.insert(key.into(), value);
            }
        };
        put("temperature", request.get("temperature").cloned().unwrap_or(Value::Null));
        put("topP", request.get("top_p").cloned().unwrap_or(Value::Null));
        put("logprobs", request.get("logprobs").cloned().unwrap_or(Value::Null));
        put("maxOutputTokens", request.get("max_tokens").cloned().unwrap_or(Value::Null));
        put("presencePenalty", Value::from(oa::float_of(request, "presence_penalty") as i64));
        put("frequencyPenalty", Value::from(oa::float_of(request, "frequency_penalty") as i64));
        put("responseModalities", request.get("modalities").cloned().unwrap_or(Value::Null));
        if THINKING_MODELS.contains(&model) {
            let mut thinking = Map::from_iter([("includeThoughts".to_string(), Value::Bool(true))]);
            let budget = self.config.int("geminiThinkingBudget");
            if budget != 0 {
                thinking.insert("thinkingBudget".into(), budget.into());
            }
            generation.insert("thinkingConfig".into(), Value::Object(thinking));
        }
        let mut contents = Vec::new();
        let mut system = None;
        for message in oa::messages(request).map(|m| m.as_slice()).unwrap_or_default() {
            let parts: Vec<Value> = oa::parts(message)
                .into_iter()
                .filter_map(|part| match part {
                    oa::Part::Text(text) => Some(if text.is_empty() { serde_json::json!({}) } else { serde_json::json!({ "text": text }) }),
                    oa::Part::ImageUrl(url) => Some(serde_json::json!({ "inlineData": inline_data(&url) })),
                    oa::Part::File(_) => None,
                })
                .collect();
            match oa::str_of(message, "role").as_str() {
                "system" => system = Some(serde_json::json!({ "parts": parts })),
                "assistant" => contents.push(serde_json::json!({ "role": "model", "parts": parts })),
                "" => contents.push(serde_json::json!({ "parts": parts })),
                role => contents.push(serde_json::json!({ "role": role, "parts": parts })),
            }
        }
        let mut out = GeminiRequest { contents, system_instruction: system, safety_settings: Vec::new(), generation_config: Value::Object(generation), tools: Vec::new() };
        if let Some(Value::Object(settings)) = self.config.raw.get("geminiSafetySetting") {
            out.safety_settings = settings.iter().map(|(category, threshold)| serde_json::json!({ "category": category, "threshold": threshold })).collect();
        }
        if let Some(tools) = request.get("tools").and_then(Value::as_array) {
            let functions: Vec<Value> = tools.iter().filter_map(|t| t.get("function").cloned()).collect();
            out.tools = vec![serde_json::json!({ "function_declarations": functions })];
        }
        serde_json::to_value(out).unwrap_or(Value::Null)
    }
}

/// `geminiGenerationContentRequest`.
#[derive(Serialize)]
struct GeminiRequest {
    contents: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<Value>,
    #[serde(rename = "safetySettings", skip_serializing_if = "Vec::is_empty")]
    safety_settings: Vec<Value>,
    #[serde(rename = "generationConfig")]
    generation_config: Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Value>,
}

/// An image as `inlineData`: a `data:` URL split into type and data, any other URL kept as data.
fn inline_data(url: &str) -> Value {
    if url.starts_with("http://") || url.starts_with("https://") {
        return serde_json::json!({ "mimeType": "", "data": url });
    }
    match url.strip_prefix("data:").and_then(|rest| rest.split_once(';')) {
        Some((mime, data)) => serde_json::json!({ "mimeType": mime, "data": data.strip_prefix("base64,").unwrap_or(data) }),
        None => serde_json::json!({ "mimeType": "", "data": "" }),
    }
}

/// `chatcmpl-<random UUID v4>`.
fn completion_id() -> String {
    let mut bytes = [0u8; 16];
    if boring::rand::rand_bytes(&mut bytes).is_err() {
        bytes = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos().to_le_bytes()).unwrap_or_default();
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("chatcmpl-{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

fn usage(response: &Value) -> Usage {
    let usage = response.get("usageMetadata").unwrap_or(&Value::Null);
    Usage {
        prompt_tokens: oa::int_of(usage, "promptTokenCount"),
        completion_tokens: oa::int_of(usage, "candidatesTokenCount"),
        total_tokens: oa::int_of(usage, "totalTokenCount"),
    }
}

impl Provider for Gemini {
    fn kind(&self) -> &'static str {
        "gemini"
    }

    fn config(&self) -> &ProviderConfig {
        &self.config
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn original_api_name(&self, path: &str, _generic: Option<ApiName>) -> Option<ApiName> {
        if path.contains("generateContent") || path.contains("streamGenerateContent?alt=sse") {
            Some(api::CHAT_COMPLETION)
        } else if path.contains("batchEmbedContents") {
            Some(api::EMBEDDINGS)
        } else if path.contains("predict") {
            Some(api::IMAGE_GENERATION)
        } else {
            None
        }
    }

    fn credentials(&self, token: &str) -> Vec<(&'static str, String)> {
        vec![("x-goog-api-key", token.to_string())]
    }

    fn request_headers(&self, call: &mut Call, up: &mut Upstream, _request: &RequestView<'_>) {
        up.host = DOMAIN.into();
        up.set("x-goog-api-key", call.token.clone());
        up.remove("authorization");
    }

    fn request_body(&self, call: &mut Call, up: &mut Upstream, request: &RequestView<'_>, body: &[u8]) -> Result<Body, AiError> {
        if !self.supports(call.api) {
            return Err(AiError::unsupported(call.api, self.kind()));
        }
        let text = std::str::from_utf8(body).map_err(|_| AiError::invalid("invalid_body", "the request body is not UTF-8 JSON"))?;
        let streaming_api = call.api == Some(api::GEMINI_STREAM_GENERATE_CONTENT) || (call.api == Some(api::CHAT_COMPLETION) && json::get_raw(text, &["stream"]) == Some("true"));
        if self.config.first_byte_timeout_ms != 0 && streaming_api {
            up.set("x-envoy-upstream-rq-first-byte-timeout-ms", self.config.first_byte_timeout_ms.to_string());
        }
        if self.config.is_original() {
            return Ok(Body::Keep);
        }
        self.transform_body(call, up, request, text).map(|b| Body::Replace(b.into_bytes()))
    }

    fn transform_body(&self, call: &mut Call, up: &mut Upstream, _request: &RequestView<'_>, body: &str) -> Result<String, AiError> {
        match call.api {
            Some(api::CHAT_COMPLETION) => {
                let request = parse_chat(&self.config, call, up, body)?;
                let action = if call.streaming { "streamGenerateContent?alt=sse" } else { "generateContent" };
                up.path = self.path(&call.final_model, action);
                super::super::provider::apply_provider_base_path(&self.config, up);
                Ok(json::go_string(&self.chat_request(&request, &call.final_model)))
            }
            Some(api::EMBEDDINGS) => {
                let request: Value = serde_json::from_str(body).map_err(|e| AiError::invalid("invalid_body", format!("unable to unmarshal request: {e}")))?;
                super::super::provider::map_model(&self.config, call, &request)?;
                up.path = self.path(&call.final_model, "batchEmbedContents");
                super::super::provider::apply_provider_base_path(&self.config, up);
                let inputs: Vec<String> = match request.get("input") {
                    Some(Value::String(s)) => vec![s.clone()],
                    Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(String::from).collect(),
                    _ => Vec::new(),
                };
                let model = format!("models/{}", call.final_model);
                let requests: Vec<Value> = inputs.into_iter().map(|text| serde_json::json!({ "model": model, "content": { "parts": [{ "text": text }] } })).collect();
                Ok(json::go_string(&serde_json::json!({ "requests": requests })))
            }
            _ => Ok(body.to_string()),
        }
    }

    fn converts_response(&self, call: &Call) -> bool {
        matches!(call.api, Some(api::CHAT_COMPLETION | api::EMBEDDINGS))
    }

    fn convert_body(&self, call: &Call, body: &[u8]) -> Result<Vec<u8>, String> {
        let response: Value = serde_json::from_slice(body).map_err(|e| format!("unable to unmarshal gemini response: {e}"))?;
        if let Some(error) = response.get("error").filter(|e| !e.is_null()) {
            return Err(format!("gemini response error, error_code: {}, error_status:{}, error_message: {}", oa::int_of(error, "code"), oa::str_of(error, "status"), oa::str_of(error, "message")));
        }
        if call.api == Some(api::EMBEDDINGS) {
            let data = response
                .get("embeddings")
                .and_then(Value::as_array)
                .map(|items| items.iter().map(|e| oa::Embedding { object: "embedding", index: 0, embedding: e.get("values").and_then(Value::as_array).cloned().unwrap_or_default() }).collect())
                .unwrap_or_default();
            return Ok(json::go_marshal(&oa::EmbeddingsResponse { object: "list", data, model: call.final_model.clone(), usage: Usage::default() }));
        }
        let mut choices = Vec::new();
        for candidate in response.get("candidates").and_then(Value::as_array).into_iter().flatten() {
            let finish = oa::str_of(candidate, "finishReason").to_lowercase();
            for part in candidate.get("content").and_then(|c| c.get("parts")).and_then(Value::as_array).into_iter().flatten() {
                let mut message = ChatMessage { role: "assistant".into(), ..ChatMessage::default() };
                if let Some(call) = part.get("functionCall") {
                    message.tool_calls = vec![ToolCall {
                        index: 0,
                        id: format!("call_{}", completion_id().trim_start_matches("chatcmpl-")),
                        kind: "function".into(),
                        function: FunctionCall { id: String::new(), name: oa::str_of(call, "name"), arguments: call.get("args").map(json::go_string).unwrap_or_else(|| "null".into()) },
                    }];
                } else if let Some(data) = part.get("inlineData") {
                    message.content = Some(Value::String(oa::str_of(data, "data")));
                } else {
                    message.content = Some(Value::String(oa::str_of(part, "text")));
                }
                choices.push(Choice { index: i64::try_from(choices.len()).unwrap_or(0), message: Some(message), finish_reason: Some(finish.clone()), ..Choice::default() });
            }
        }
        let out = ChatCompletionResponse {
            id: completion_id(),
            object: oa::OBJECT_CHAT_COMPLETION.into(),
            created: super::super::provider::now_secs(),
            model: call.final_model.clone(),
            choices,
            usage: Some(usage(&response)),
            ..ChatCompletionResponse::default()
        };
        Ok(json::go_marshal(&out))
    }

    fn stream_converter(&self, call: &Call) -> Option<Box<dyn StreamConverter>> {
        (call.api == Some(api::CHAT_COMPLETION)).then(|| Box::new(GeminiStream::default()) as Box<dyn StreamConverter>)
    }
}

/// Gemini SSE lines → chunks (`buildChatCompletionStreamResponse`).
#[derive(Debug, Default)]
struct GeminiStream {
    lines: LineSplitter,
}

impl StreamConverter for GeminiStream {
    fn push(&mut self, call: &Call, chunk: &[u8], end: bool) -> Vec<u8> {
        let mut out = String::new();
        for response in self.lines.push_data_json(chunk, end) {
            let mut choice = Choice::default();
            if let Some(candidate) = response.get("candidates").and_then(|c| c.get(0)) {
                if let Some(part) = candidate.get("content").and_then(|c| c.get("parts")).and_then(|p| p.get(0)) {
                    choice.delta = Some(ChatMessage { content: Some(Value::String(oa::str_of(part, "text"))), ..ChatMessage::default() });
                    let finish = oa::str_of(candidate, "finishReason");
                    if !finish.is_empty() {
                        choice.finish_reason = Some(finish.to_lowercase());
                    }
                }
            }
            let converted = ChatCompletionResponse {
                id: completion_id(),
                object: oa::OBJECT_CHAT_COMPLETION_CHUNK.into(),
                created: super::super::provider::now_secs(),
                model: call.final_model.clone(),
                choices: vec![choice],
                usage: Some(usage(&response)),
                ..ChatCompletionResponse::default()
            };
            out.push_str(&Event::to_http(&json::go_string(&converted)));
        }
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_request_and_answer() {
        let config = ProviderConfig::from_json(&serde_json::json!({"type": "gemini", "apiTokens": ["k"]}), "provider").unwrap();
        let gemini = Gemini::build(config, "provider").unwrap();
        let request = serde_json::json!({"model": "gemini-pro", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], "temperature": 0.5});
        assert_eq!(
            json::go_string(&gemini.chat_request(&request, "gemini-pro")),
            r#"{"contents":[{"parts":[{"text":"hi"}],"role":"user"},{"parts":[{"text":"yo"}],"role":"model"}],"generationConfig":{"temperature":0.5},"system_instruction":{"parts":[{"text":"s"}]}}"#
        );
        let call = Call { api: Some(api::CHAT_COMPLETION), final_model: "gemini-pro".into(), ..Call::default() };
        let answer = br#"{"candidates":[{"content":{"parts":[{"text":"hello"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":3,"totalTokenCount":5}}"#;
        let out: Value = serde_json::from_slice(&gemini.convert_body(&call, answer).unwrap()).unwrap();
        assert_eq!(out["choices"][0]["message"], serde_json::json!({"role": "assistant", "content": "hello"}));
        assert_eq!(out["choices"][0]["finish_reason"], "stop");
        assert_eq!(out["usage"]["total_tokens"], 5);
        assert!(out["id"].as_str().unwrap().starts_with("chatcmpl-"));
    }
}
