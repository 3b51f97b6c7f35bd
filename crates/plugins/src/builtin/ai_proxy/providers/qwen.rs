//! `qwen` (qwen.go): Alibaba DashScope at `qwenDomain` (default `dashscope.aliyuncs.com`), `Bearer` token.
//!
//! - **Compatible mode** (`qwenEnableCompatible`, which defaults to **true** when the key is absent —
//!   the source, not the README): DashScope's OpenAI-compatible paths (`/compatible-mode/v1/...`), only
//!   the model mapped, answers untouched.
//! - **Native mode** (`qwenEnableCompatible: false`): chat goes to
//!   `/api/v1/services/aigc/text-generation/generation` (`qwen-vl*` models to the multimodal path) as
//!   `{model, input: {messages}, parameters: {result_format: message, …, top_p clamped to
//!   [1e-6, 0.999999] (absent ⇒ 1e-6), incremental_output: stream && no tools}}` with `Accept` /
//!   `X-DashScope-SSE` for streams; embeddings to the text-embedding path. Answers come back as OpenAI
//!   `chat.completion` (id = `request_id`, `created` = now) and streams as `chat.completion.chunk` events,
//!   with a finish chunk and a usage chunk at the end (no `[DONE]` is made up). `qwenFileIds` (qwen-long)
//!   become a `fileid://` system message; `reasoningContentMode` applies.
//!
//! oxigress differences: a stream event that Higress would forward raw (a tool call still without
//! arguments, an unparsable event) is dropped or passed as is respectively.

use serde::Serialize;
use serde_json::{Map, Value};

use super::super::api::{self, ApiName, Capabilities};
use super::super::config::{ProviderConfig, ReasoningMode};
use super::super::json;
use super::super::openai::{self as oa, ChatCompletionResponse, ChatMessage, Choice, Usage};
use super::super::provider::{parse_chat, set_capability_path, AiError, Call, Provider, StreamConverter, Upstream};
use super::super::sse::{Event, EventParser};
use crate::{ConfigError, RequestView};

const DEFAULT_DOMAIN: &str = "dashscope.aliyuncs.com";
const CHAT_PATH: &str = "/api/v1/services/aigc/text-generation/generation";
const MULTIMODAL_PATH: &str = "/api/v1/services/aigc/multimodal-generation/generation";
const EMBEDDING_PATH: &str = "/api/v1/services/embeddings/text-embedding/text-embedding";
const RERANK_PATH: &str = "/api/v1/services/rerank/text-rerank/text-rerank";
const COMPATIBLE_RERANK_PATH: &str = "/compatible-api/v1/reranks";
const COMPATIBLE_CHAT_PATH: &str = "/compatible-mode/v1/chat/completions";
const COMPATIBLE_EMBEDDING_PATH: &str = "/compatible-mode/v1/embeddings";
const COMPATIBLE_RESPONSES_PATH: &str = "/compatible-mode/v1/responses";
const COMPATIBLE_CONVERSATIONS_PATH: &str = "/compatible-mode/v1/conversations";
const BAILIAN_PATH: &str = "/api/v1/apps";
const ASYNC_AIGC_PATH: &str = "/api/v1/services/aigc/";
const ASYNC_TASK_PATH: &str = "/api/v1/tasks/";
const ANTHROPIC_PATH: &str = "/apps/anthropic/v1/messages";
const TOP_P_MIN: f64 = 0.000001;
const TOP_P_MAX: f64 = 0.999999;

/// The `qwen` provider.
#[derive(Debug)]
pub(crate) struct Qwen {
    config: ProviderConfig,
    capabilities: Capabilities,
    compatible: bool,
    domain: String,
    file_ids: Vec<String>,
}

impl Qwen {
    /// Builds it: tokens are required; `qwenFileIds` and `context` exclude each other.
    pub(crate) fn build(config: ProviderConfig, field: &str) -> Result<Self, ConfigError> {
        config.require_tokens(field)?;
        let compatible = config.raw.get("qwenEnableCompatible").is_none() || config.flag("qwenEnableCompatible");
        let file_ids: Vec<String> = match config.raw.get("qwenFileIds") {
            Some(ids) => crate::builtin::consumer_auth::gjson_array(ids).into_iter().map(crate::builtin::consumer_auth::gjson_text).collect(),
            None => Vec::new(),
        };
        let mut capabilities = if compatible {
            api::capabilities(&[
                (api::CHAT_COMPLETION, COMPATIBLE_CHAT_PATH),
                (api::EMBEDDINGS, COMPATIBLE_EMBEDDING_PATH),
                (api::COMPLETION, "/compatible-mode/v1/completions"),
                (api::RESPONSES, COMPATIBLE_RESPONSES_PATH),
                (api::FILES, "/compatible-mode/v1/files"),
                (api::RETRIEVE_FILE, "/compatible-mode/v1/files/{file_id}"),
                (api::RETRIEVE_FILE_CONTENT, "/compatible-mode/v1/files/{file_id}/content"),
                (api::BATCHES, "/compatible-mode/v1/batches"),
                (api::RETRIEVE_BATCH, "/compatible-mode/v1/batches/{batch_id}"),
                (api::QWEN_ASYNC_AIGC, ASYNC_AIGC_PATH),
                (api::QWEN_ASYNC_TASK, ASYNC_TASK_PATH),
                (api::QWEN_RERANK, COMPATIBLE_RERANK_PATH),
                (api::QWEN_CONVERSATIONS, COMPATIBLE_CONVERSATIONS_PATH),
                (api::ANTHROPIC_MESSAGES, ANTHROPIC_PATH),
            ])
        } else {
            api::capabilities(&[
                (api::CHAT_COMPLETION, CHAT_PATH),
                (api::EMBEDDINGS, EMBEDDING_PATH),
                (api::QWEN_ASYNC_AIGC, ASYNC_AIGC_PATH),
                (api::QWEN_ASYNC_TASK, ASYNC_TASK_PATH),
                (api::QWEN_RERANK, RERANK_PATH),
                (api::ANTHROPIC_MESSAGES, ANTHROPIC_PATH),
            ])
        };
        capabilities.extend(config.capabilities.clone());
        let domain = match config.string("qwenDomain") {
            d if d.is_empty() => DEFAULT_DOMAIN.to_string(),
            d => d,
        };
        Ok(Self { config, capabilities, compatible, domain, file_ids })
    }

    fn native_chat(&self, call: &mut Call, up: &mut Upstream, body: &str) -> Result<String, AiError> {
        let request = parse_chat(&self.config, call, up, body)?;
        if call.final_model.starts_with("qwen-vl") {
            up.path = MULTIMODAL_PATH.to_string();
        }
        if call.streaming {
            up.set("accept", "text/event-stream");
            up.set("x-dashscope-sse", "enable");
        } else {
            up.set("accept", "*/*");
            up.remove("x-dashscope-sse");
        }
        let tools = request.get("tools").filter(|t| t.as_array().is_some_and(|a| !a.is_empty())).cloned();
        call.incremental = call.streaming && tools.is_none();
        let mut messages: Vec<QwenMessage> = oa::messages(&request).map(|m| m.iter().map(to_qwen_message).collect()).unwrap_or_default();
        if !self.file_ids.is_empty() && call.final_model == "qwen-long" {
            let files = self.file_ids.iter().map(|id| format!("fileid://{id}")).collect::<Vec<_>>().join(",");
            messages = insert_file_message(messages, files);
        }
        let top_p = oa::float_of(&request, "top_p").clamp(TOP_P_MIN, TOP_P_MAX);
        let native = TextGenRequest {
            model: call.final_model.clone(),
            input: TextGenInput { messages },
            parameters: TextGenParameters {
                result_format: "message",
                max_tokens: oa::int_of(&request, "max_tokens"),
                n: oa::int_of(&request, "n"),
                seed: oa::int_of(&request, "seed"),
                temperature: oa::float_of(&request, "temperature"),
                top_p,
                incremental_output: call.incremental,
                enable_search: self.config.flag("qwenEnableSearch"),
                tools,
            },
        };
        Ok(json::go_string(&native))
    }

    fn native_embeddings(&self, call: &mut Call, body: &str) -> Result<String, AiError> {
        let request: Value = serde_json::from_str(body).map_err(|e| AiError::invalid("invalid_body", format!("unable to unmarshal request: {e}")))?;
        super::super::provider::map_model(&self.config, call, &request)?;
        let texts: Vec<String> = match request.get("input") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(String::from).ok_or_else(|| AiError::invalid("invalid_input", "unsupported input type in array")))
                .collect::<Result<_, _>>()?,
            _ => return Err(AiError::invalid("invalid_input", "unsupported input type")),
        };
        let request = EmbeddingRequest { model: call.final_model.clone(), input: EmbeddingInput { texts }, parameters: Map::new() };
        Ok(json::go_string(&request))
    }
}

impl Provider for Qwen {
    fn kind(&self) -> &'static str {
        "qwen"
    }

    fn config(&self) -> &ProviderConfig {
        &self.config
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn original_api_name(&self, path: &str, _generic: Option<ApiName>) -> Option<ApiName> {
        let has = |p: &str| path.contains(p);
        if has(CHAT_PATH) || has(MULTIMODAL_PATH) || has(BAILIAN_PATH) || has(COMPATIBLE_CHAT_PATH) {
            Some(api::CHAT_COMPLETION)
        } else if has(EMBEDDING_PATH) || has(COMPATIBLE_EMBEDDING_PATH) {
            Some(api::EMBEDDINGS)
        } else if has(COMPATIBLE_RESPONSES_PATH) {
            Some(api::RESPONSES)
        } else if has(ASYNC_AIGC_PATH) {
            Some(api::QWEN_ASYNC_AIGC)
        } else if has(ASYNC_TASK_PATH) {
            Some(api::QWEN_ASYNC_TASK)
        } else if has(RERANK_PATH) || has(COMPATIBLE_RERANK_PATH) {
            Some(api::QWEN_RERANK)
        } else if has(COMPATIBLE_CONVERSATIONS_PATH) {
            Some(api::QWEN_CONVERSATIONS)
        } else {
            None
        }
    }

    fn reads_body(&self, _call: &Call) -> bool {
        !self.config.is_original()
    }

    fn request_headers(&self, call: &mut Call, up: &mut Upstream, _request: &RequestView<'_>) {
        up.host = self.domain.clone();
        up.set("authorization", format!("Bearer {}", call.token));
        if !self.config.is_original() {
            set_capability_path(self, call, up);
        }
    }

    fn transform_body(&self, call: &mut Call, up: &mut Upstream, _request: &RequestView<'_>, body: &str) -> Result<String, AiError> {
        if self.compatible {
            let Some(raw) = json::get_raw(body, &["model"]) else {
                return Ok(body.to_string());
            };
            let model = match serde_json::from_str::<Value>(raw) {
                Ok(Value::String(s)) => s,
                Ok(Value::Null) | Err(_) => String::new(),
                Ok(other) => other.to_string(),
            };
            call.original_model = model.clone();
            call.final_model = self.config.model_mapping.map(&model);
            let raw = serde_json::to_string(&call.final_model).unwrap_or_default();
            return json::set_raw(body, &["model"], &raw).ok_or_else(|| AiError::invalid("invalid_body", "the request body is not a JSON object"));
        }
        match call.api {
            Some(api::CHAT_COMPLETION) => self.native_chat(call, up, body),
            Some(api::EMBEDDINGS) => self.native_embeddings(call, body),
            _ => super::super::provider::default_transform(&self.config, call, up, body),
        }
    }

    fn converts_response(&self, call: &Call) -> bool {
        !self.compatible && matches!(call.api, Some(api::CHAT_COMPLETION | api::EMBEDDINGS))
    }

    fn convert_body(&self, call: &Call, body: &[u8]) -> Result<Vec<u8>, String> {
        let response: Value = serde_json::from_slice(body).map_err(|e| format!("unable to unmarshal Qwen response: {e}"))?;
        if call.api == Some(api::EMBEDDINGS) {
            return Ok(json::go_marshal(&embeddings_response(call, &response)));
        }
        let choices = response
            .get("output")
            .and_then(|o| o.get("choices"))
            .and_then(Value::as_array)
            .map(|choices| {
                choices
                    .iter()
                    .map(|choice| Choice {
                        message: Some(to_chat_message(choice.get("message").unwrap_or(&Value::Null), self.config.reasoning)),
                        finish_reason: Some(oa::str_of(choice, "finish_reason")),
                        ..Choice::default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let out = ChatCompletionResponse {
            id: oa::str_of(&response, "request_id"),
            choices,
            created: super::super::provider::now_secs(),
            model: call.final_model.clone(),
            object: oa::OBJECT_CHAT_COMPLETION.into(),
            usage: Some(usage(&response)),
            ..ChatCompletionResponse::default()
        };
        Ok(json::go_marshal(&out))
    }

    fn stream_converter(&self, call: &Call) -> Option<Box<dyn StreamConverter>> {
        (call.api == Some(api::CHAT_COMPLETION) && !self.compatible)
            .then(|| Box::new(QwenStream { events: EventParser::default(), reasoning: self.config.reasoning, ..QwenStream::default() }) as Box<dyn StreamConverter>)
    }
}

/// `qwenTextEmbeddingRequest`.
#[derive(Serialize)]
struct EmbeddingRequest {
    model: String,
    input: EmbeddingInput,
    parameters: Map<String, Value>,
}

#[derive(Serialize)]
struct EmbeddingInput {
    texts: Vec<String>,
}

/// `qwenTextGenRequest`.
#[derive(Serialize)]
struct TextGenRequest {
    model: String,
    input: TextGenInput,
    parameters: TextGenParameters,
}

#[derive(Serialize)]
struct TextGenInput {
    messages: Vec<QwenMessage>,
}

fn is_zero_i(n: &i64) -> bool {
    *n == 0
}

fn is_zero_f(n: &f64) -> bool {
    *n == 0.0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `qwenTextGenParameters` (every field `omitempty`).
#[derive(Serialize)]
struct TextGenParameters {
    result_format: &'static str,
    #[serde(skip_serializing_if = "is_zero_i")]
    max_tokens: i64,
    #[serde(skip_serializing_if = "is_zero_i")]
    n: i64,
    #[serde(skip_serializing_if = "is_zero_i")]
    seed: i64,
    #[serde(skip_serializing_if = "is_zero_f")]
    temperature: f64,
    #[serde(skip_serializing_if = "is_zero_f")]
    top_p: f64,
    #[serde(skip_serializing_if = "is_false")]
    incremental_output: bool,
    #[serde(skip_serializing_if = "is_false")]
    enable_search: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Value>,
}

/// `qwenMessage`.
#[derive(Debug, Clone, Serialize)]
struct QwenMessage {
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    role: String,
    /// Not `omitempty`: `null` when absent.
    content: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<Value>,
}

/// `chatMessage2QwenMessage`: a string stays a string, parts become `{text}` / `{image}` objects.
fn to_qwen_message(message: &Value) -> QwenMessage {
    let content = if oa::is_string_content(message) {
        Value::String(oa::string_content(message))
    } else if message.get("content").is_some_and(Value::is_array) {
        Value::Array(
            oa::parts(message)
                .into_iter()
                .map(|part| match part {
                    oa::Part::Text(text) => serde_json::json!({ "text": text }),
                    oa::Part::ImageUrl(url) => serde_json::json!({ "image": url }),
                    oa::Part::File(_) => serde_json::json!({}),
                })
                .collect(),
        )
    } else {
        Value::Null
    };
    QwenMessage {
        name: oa::str_of(message, "name"),
        role: oa::str_of(message, "role"),
        content,
        tool_calls: message.get("tool_calls").filter(|t| t.as_array().is_some_and(|a| !a.is_empty())).cloned(),
    }
}

/// `insertHttpContextMessage(…, onlyOneSystemBeforeFile = true)`: leading system messages are merged,
/// the file message follows them (a dummy system prompt first when there was none).
fn insert_file_message(messages: Vec<QwenMessage>, content: String) -> Vec<QwenMessage> {
    let file = QwenMessage { name: String::new(), role: "system".into(), content: Value::String(content), tool_calls: None };
    let first_other = messages.iter().position(|m| m.role != "system").unwrap_or(0);
    let mut out = Vec::with_capacity(messages.len() + 2);
    if first_other == 0 {
        out.push(QwenMessage {
            name: String::new(),
            role: "system".into(),
            content: Value::String("You are a helpful assistant.".into()),
            tool_calls: None,
        });
        out.push(file);
        out.extend(messages);
    } else {
        let merged = messages[..first_other].iter().map(|m| m.content.as_str().unwrap_or_default()).collect::<Vec<_>>().join("\n");
        out.push(QwenMessage { name: String::new(), role: "system".into(), content: Value::String(merged), tool_calls: None });
        out.push(file);
        out.extend(messages.into_iter().skip(first_other));
    }
    out
}

/// `qwenMessageToChatMessage` with `handleNonStreamingReasoningContent`.
fn to_chat_message(message: &Value, mode: ReasoningMode) -> ChatMessage {
    let mut out = ChatMessage {
        name: oa::str_of(message, "name"),
        role: oa::str_of(message, "role"),
        content: message.get("content").filter(|c| !c.is_null()).cloned(),
        reasoning_content: oa::str_of(message, "reasoning_content"),
        tool_calls: oa::tool_calls(message.get("tool_calls")),
        ..ChatMessage::default()
    };
    if !out.reasoning_content.is_empty() {
        match mode {
            ReasoningMode::Ignore => out.reasoning_content.clear(),
            ReasoningMode::Concat => {
                let content = out.content.as_ref().map(value_text).unwrap_or_default();
                out.content = Some(Value::String(format!("<think>{}</think>\n{content}", out.reasoning_content)));
                out.reasoning_content.clear();
            }
            ReasoningMode::PassThrough => {}
        }
    }
    out
}

/// Go's `%v` of a JSON value (strings unquoted).
fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn usage(response: &Value) -> Usage {
    let usage = response.get("usage").unwrap_or(&Value::Null);
    Usage {
        prompt_tokens: oa::int_of(usage, "input_tokens"),
        completion_tokens: oa::int_of(usage, "output_tokens"),
        total_tokens: oa::int_of(usage, "total_tokens"),
    }
}

fn embeddings_response(call: &Call, response: &Value) -> oa::EmbeddingsResponse {
    let data = response
        .get("output")
        .and_then(|o| o.get("embeddings"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|e| oa::Embedding {
                    object: "embedding",
                    index: oa::int_of(e, "text_index"),
                    embedding: e.get("embedding").and_then(Value::as_array).cloned().unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let total = response.get("usage").map(|u| oa::int_of(u, "total_tokens")).unwrap_or(0);
    oa::EmbeddingsResponse {
        object: "list",
        data,
        model: call.final_model.clone(),
        usage: Usage { prompt_tokens: total, completion_tokens: 0, total_tokens: total },
    }
}

/// The message pushed so far (non-incremental streams send the whole text each time).
#[derive(Debug, Default, Clone)]
struct Pushed {
    content: String,
    reasoning: String,
    tool_calls: Vec<oa::ToolCall>,
}

/// Native DashScope SSE → OpenAI chunks (`OnStreamingEvent` / `buildChatCompletionStreamingResponse`).
#[derive(Debug, Default)]
struct QwenStream {
    events: EventParser,
    reasoning: ReasoningMode,
    pushed: Option<Pushed>,
    content_pushed: bool,
    reasoning_pushed: bool,
}

impl StreamConverter for QwenStream {
    fn push(&mut self, call: &Call, chunk: &[u8], end: bool) -> Vec<u8> {
        let mut out = String::new();
        for event in self.events.push(chunk) {
            if event.is_done() {
                out.push_str(&Event::to_http(&event.data));
                continue;
            }
            match serde_json::from_str::<Value>(&event.data) {
                Ok(response) => {
                    for chunk in self.convert(call, &response) {
                        out.push_str(&Event::to_http(&json::go_string(&chunk)));
                    }
                }
                Err(_) => out.push_str(&event.raw),
            }
        }
        let mut out = out.into_bytes();
        if end {
            out.extend(self.events.rest());
        }
        out
    }
}

impl QwenStream {
    fn convert(&mut self, call: &Call, response: &Value) -> Vec<ChatCompletionResponse> {
        let Some(choice) = response.get("output").and_then(|o| o.get("choices")).and_then(|c| c.get(0)) else {
            return Vec::new();
        };
        let base = ChatCompletionResponse {
            id: oa::str_of(response, "request_id"),
            created: super::super::provider::now_secs(),
            model: call.final_model.clone(),
            object: oa::OBJECT_CHAT_COMPLETION_CHUNK.into(),
            ..ChatCompletionResponse::default()
        };
        let finish = oa::str_of(choice, "finish_reason");
        // why: DashScope says "null" (a string) while a stream goes on.
        let finished = !finish.is_empty() && finish != "null";
        let message = choice.get("message").unwrap_or(&Value::Null);
        let role = oa::str_of(message, "role");
        let mut content = message.get("content").filter(|c| !c.is_null()).cloned();
        let mut reasoning = oa::str_of(message, "reasoning_content");
        let tool_calls = oa::tool_calls(message.get("tool_calls"));
        let mut delta_tools = tool_calls.clone();
        if !call.incremental {
            if !finished && tool_calls.iter().any(|t| t.function.arguments.is_empty()) {
                // No tool call is pushed before its arguments are known.
                return Vec::new();
            }
            let text = content.as_ref().map(value_text).unwrap_or_default();
            let mut delta_content = content.clone();
            let mut delta_reasoning = reasoning.clone();
            if let Some(pushed) = &self.pushed {
                if text.is_empty() {
                    content = Some(Value::String(pushed.content.clone()));
                } else if matches!(content, Some(Value::String(_))) {
                    delta_content = Some(Value::String(strip_prefix(&text, &pushed.content)));
                }
                if reasoning.is_empty() {
                    reasoning = pushed.reasoning.clone();
                } else {
                    delta_reasoning = strip_prefix(&reasoning, &pushed.reasoning);
                }
                for (i, tool) in delta_tools.iter_mut().enumerate() {
                    if let Some(before) = pushed.tool_calls.get(i) {
                        tool.function.id = strip_prefix(&tool.function.id, &before.function.id);
                        tool.function.name = strip_prefix(&tool.function.name, &before.function.name);
                        tool.function.arguments = strip_prefix(&tool.function.arguments, &before.function.arguments);
                    }
                }
            }
            self.pushed = Some(Pushed { content: content.as_ref().map(value_text).unwrap_or_default(), reasoning: reasoning.clone(), tool_calls: tool_calls.clone() });
            content = delta_content;
            reasoning = delta_reasoning;
        }
        let mut delta = ChatMessage { role: role.clone(), content, reasoning_content: reasoning, ..ChatMessage::default() };
        self.streaming_reasoning(&mut delta);
        let tools = ChatMessage { role, tool_calls: delta_tools, ..ChatMessage::default() };
        let mut out = Vec::new();
        for message in [delta, tools] {
            if !message.is_empty() {
                let mut response = base.clone();
                response.choices.push(Choice { delta: Some(message), ..Choice::default() });
                out.push(response);
            }
        }
        if finished {
            let mut finish_chunk = base.clone();
            finish_chunk.choices.push(Choice { delta: Some(ChatMessage::default()), finish_reason: Some(finish), ..Choice::default() });
            let mut usage_chunk = base;
            usage_chunk.choices.push(Choice { delta: Some(ChatMessage::default()), ..Choice::default() });
            usage_chunk.usage = Some(usage(response));
            out.push(finish_chunk);
            out.push(usage_chunk);
        }
        out
    }

    /// `handleStreamingReasoningContent`.
    fn streaming_reasoning(&mut self, message: &mut ChatMessage) {
        match self.reasoning {
            ReasoningMode::PassThrough => {}
            ReasoningMode::Ignore => message.reasoning_content.clear(),
            ReasoningMode::Concat => {
                if self.content_pushed {
                    return;
                }
                if !message.reasoning_content.is_empty() && !self.reasoning_pushed {
                    message.reasoning_content = format!("<think>{}", message.reasoning_content);
                    self.reasoning_pushed = true;
                }
                let content = message.content.as_ref().map(value_text).unwrap_or_default();
                if !content.is_empty() {
                    if self.reasoning_pushed {
                        message.reasoning_content.push_str("</think>");
                    }
                    self.content_pushed = true;
                }
                message.content = Some(Value::String(format!("{}\n{content}", message.reasoning_content)));
                message.reasoning_content.clear();
            }
        }
    }
}

/// Go `util.StripPrefix`.
fn strip_prefix(s: &str, prefix: &str) -> String {
    if !prefix.is_empty() {
        if let Some(rest) = s.strip_prefix(prefix) {
            return rest.to_string();
        }
    }
    s.to_string()
}

#[cfg(test)]
mod tests;
