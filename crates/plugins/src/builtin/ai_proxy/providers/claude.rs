//! `claude` (claude.go): Anthropic's Messages API at `api.anthropic.com`, token in `x-api-key`,
//! `anthropic-version` from `claudeVersion`/`apiVersion` (default `2023-06-01`). Chat completions become
//! `/v1/messages` requests (system message → `system`, `tool` messages → `tool_result` blocks, assistant
//! tool calls → `tool_use` blocks, images → `image` sources, tools/tool_choice, `reasoning_effort` →
//! `thinking` budget, `max_tokens` default 4096) and answers come back as OpenAI objects; streams are
//! converted event by event (`message_start` → role chunk, text/thinking/tool deltas, `message_delta` →
//! finish reason, `message_stop` → usage chunk). `claudeCodeMode` sends the token as a Bearer OAuth token
//! with Claude Code's headers, system prompt and `?beta=true`.

use serde::Serialize;
use serde_json::{Map, Value};

use super::super::api::{self, ApiName, Capabilities};
use super::super::config::ProviderConfig;
use super::super::json;
use super::super::openai::{self as oa, ChatCompletionResponse, ChatMessage, Choice, FunctionCall, ToolCall, Usage};
use super::super::provider::{parse_chat, set_capability_path, AiError, Body, Call, Provider, StreamConverter, Upstream};
use super::super::sse::{Event, LineSplitter};
use crate::{ConfigError, RequestView};

const DOMAIN: &str = "api.anthropic.com";
const DEFAULT_VERSION: &str = "2023-06-01";
const DEFAULT_MAX_TOKENS: i64 = 4096;
const CODE_USER_AGENT: &str = "claude-cli/2.1.2 (external, cli)";
const CODE_BETA: &str = "oauth-2025-04-20,interleaved-thinking-2025-05-14,claude-code-20250219";
const CODE_SYSTEM_PROMPT: &str = "You are Claude Code, Anthropic's official CLI for Claude.";

/// The `claude` provider.
#[derive(Debug)]
pub(crate) struct Claude {
    config: ProviderConfig,
    capabilities: Capabilities,
    version: String,
    code_mode: bool,
}

impl Claude {
    /// Builds it: tokens are required.
    pub(crate) fn build(config: ProviderConfig, field: &str) -> Result<Self, ConfigError> {
        config.require_tokens(field)?;
        let mut capabilities = api::capabilities(&[
            (api::CHAT_COMPLETION, api::PATH_ANTHROPIC_MESSAGES),
            (api::COMPLETION, api::PATH_ANTHROPIC_COMPLETE),
            (api::ANTHROPIC_MESSAGES, api::PATH_ANTHROPIC_MESSAGES),
            (api::EMBEDDINGS, api::PATH_EMBEDDINGS),
            (api::MODELS, api::PATH_MODELS),
        ]);
        capabilities.extend(config.capabilities.clone());
        let version = [config.string("claudeVersion"), config.string("apiVersion")].into_iter().find(|v| !v.is_empty()).unwrap_or_else(|| DEFAULT_VERSION.into());
        let code_mode = config.flag("claudeCodeMode");
        Ok(Self { config, capabilities, version, code_mode })
    }

    /// `buildClaudeTextGenRequest`.
    fn request(&self, request: &Value, model: &str) -> Result<ClaudeRequest, AiError> {
        let max_tokens = match oa::int_of(request, "max_completion_tokens") {
            0 => oa::int_of(request, "max_tokens"),
            n => n,
        };
        let mut out = ClaudeRequest {
            model: model.to_string(),
            max_tokens: if max_tokens == 0 { DEFAULT_MAX_TOKENS } else { max_tokens },
            stop_sequences: request.get("stop").and_then(Value::as_array).cloned().unwrap_or_default(),
            stream: request.get("stream").and_then(Value::as_bool).unwrap_or(false),
            temperature: oa::float_of(request, "temperature"),
            top_p: oa::float_of(request, "top_p"),
            ..ClaudeRequest::default()
        };
        let effort = oa::str_of(request, "reasoning_effort");
        let budget = oa::int_of(request, "reasoning_max_tokens");
        if !effort.is_empty() || budget > 0 {
            let tokens = if budget > 0 {
                budget
            } else {
                match effort.as_str() {
                    "low" => 1024,
                    "high" => 16384,
                    _ => 8192,
                }
            };
            out.thinking = Some(serde_json::json!({ "type": "enabled", "budget_tokens": tokens.max(1024) }));
        }
        let mut has_system = false;
        for message in oa::messages(request).map_err(|e| AiError::invalid("invalid_body", e))? {
            let role = oa::str_of(message, "role");
            match role.as_str() {
                "system" => {
                    has_system = true;
                    out.system = Some(self.system_prompt(oa::string_content(message)));
                }
                "tool" => {
                    let text = if oa::is_string_content(message) {
                        oa::string_content(message)
                    } else {
                        oa::parts(message).into_iter().filter_map(|p| if let oa::Part::Text(t) = p { Some(t) } else { None }).collect::<Vec<_>>().join("\n")
                    };
                    let block = serde_json::json!({ "type": "tool_result", "tool_use_id": oa::str_of(message, "tool_call_id"), "content": text });
                    let merge = out.messages.last_mut().filter(|last| {
                        last.role == "user" && last.content.as_array().is_some_and(|blocks| blocks.iter().any(|b| b.get("type").and_then(Value::as_str) == Some("tool_result")))
                    });
                    match merge.and_then(|last| last.content.as_array_mut()) {
                        Some(blocks) => blocks.push(block),
                        None => out.messages.push(ClaudeMessage { role: "user".into(), content: Value::Array(vec![block]) }),
                    }
                }
                "assistant" if message.get("tool_calls").and_then(Value::as_array).is_some_and(|t| !t.is_empty()) => {
                    let mut blocks = Vec::new();
                    let text = oa::string_content(message);
                    if oa::is_string_content(message) && !text.is_empty() {
                        blocks.push(serde_json::json!({ "type": "text", "text": text }));
                    }
                    for call in oa::tool_calls(message.get("tool_calls")) {
                        let input: Value = serde_json::from_str(&call.function.arguments).ok().filter(Value::is_object).unwrap_or_else(|| Value::Object(Map::new()));
                        let mut block = Map::new();
                        block.insert("type".into(), "tool_use".into());
                        if !call.id.is_empty() {
                            block.insert("id".into(), call.id.into());
                        }
                        if !call.function.name.is_empty() {
                            block.insert("name".into(), call.function.name.into());
                        }
                        if input.as_object().is_some_and(|i| !i.is_empty()) {
                            block.insert("input".into(), input);
                        }
                        blocks.push(Value::Object(block));
                    }
                    out.messages.push(ClaudeMessage { role, content: Value::Array(blocks) });
                }
                _ => {
                    let content = if oa::is_string_content(message) {
                        Value::String(oa::string_content(message))
                    } else {
                        Value::Array(oa::parts(message).into_iter().map(content_block).collect())
                    };
                    out.messages.push(ClaudeMessage { role, content });
                }
            }
        }
        if self.code_mode && !has_system {
            out.system = Some(self.system_prompt(CODE_SYSTEM_PROMPT.into()));
        }
        out.tools = request
            .get("tools")
            .and_then(Value::as_array)
            .map(|tools| {
                tools
                    .iter()
                    .map(|tool| {
                        let function = tool.get("function").unwrap_or(&Value::Null);
                        let mut out = Map::new();
                        out.insert("name".into(), oa::str_of(function, "name").into());
                        let description = oa::str_of(function, "description");
                        if !description.is_empty() {
                            out.insert("description".into(), description.into());
                        }
                        if let Some(parameters) = function.get("parameters").filter(|p| p.as_object().is_some_and(|o| !o.is_empty())) {
                            out.insert("input_schema".into(), parameters.clone());
                        }
                        Value::Object(out)
                    })
                    .collect()
            })
            .unwrap_or_default();
        if let Some(choice) = request.get("tool_choice").filter(|c| c.is_object()) {
            let mut out_choice = Map::new();
            out_choice.insert("type".into(), oa::str_of(choice, "type").into());
            let name = choice.get("function").map(|f| oa::str_of(f, "name")).unwrap_or_default();
            if !name.is_empty() {
                out_choice.insert("name".into(), name.into());
            }
            if !request.get("parallel_tool_calls").and_then(Value::as_bool).unwrap_or(false) {
                out_choice.insert("disable_parallel_tool_use".into(), true.into());
            }
            out.tool_choice = Some(Value::Object(out_choice));
        }
        Ok(out)
    }

    fn system_prompt(&self, text: String) -> Value {
        if self.code_mode {
            serde_json::json!([{ "type": "text", "text": text, "cache_control": { "type": "ephemeral" } }])
        } else {
            Value::String(text)
        }
    }
}

/// A content part as a Claude block.
fn content_block(part: oa::Part) -> Value {
    match part {
        oa::Part::Text(text) => serde_json::json!({ "type": "text", "text": text }),
        oa::Part::ImageUrl(url) => match url.strip_prefix("data:").and_then(|rest| rest.split_once(';')) {
            Some((media, data)) => {
                serde_json::json!({ "type": "image", "source": { "type": "base64", "media_type": media, "data": data.strip_prefix("base64,").unwrap_or(data) } })
            }
            None => serde_json::json!({ "type": "image", "source": { "type": "url", "url": url } }),
        },
        oa::Part::File(id) => serde_json::json!({ "type": "file", "source": { "type": "url", "file_id": id } }),
    }
}

/// `claudeTextGenRequest` (fields in Higress's order, all `omitempty`).
#[derive(Debug, Default, Serialize)]
struct ClaudeRequest {
    #[serde(skip_serializing_if = "String::is_empty")]
    model: String,
    messages: Vec<ClaudeMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<Value>,
    #[serde(skip_serializing_if = "is_zero")]
    max_tokens: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stop_sequences: Vec<Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "is_zero_f")]
    temperature: f64,
    #[serde(skip_serializing_if = "is_zero_f")]
    top_p: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<Value>,
}

#[derive(Debug, Serialize)]
struct ClaudeMessage {
    role: String,
    content: Value,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_zero_f(n: &f64) -> bool {
    *n == 0.0
}

/// `stopReasonClaude2OpenAI`.
fn finish_reason(reason: Option<&str>) -> String {
    match reason {
        None => String::new(),
        Some("end_turn" | "stop_sequence") => "stop".into(),
        Some("max_tokens") => "length".into(),
        Some("tool_use") => "tool_calls".into(),
        Some(other) => other.into(),
    }
}

impl Provider for Claude {
    fn kind(&self) -> &'static str {
        "claude"
    }

    fn config(&self) -> &ProviderConfig {
        &self.config
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn original_api_name(&self, path: &str, _generic: Option<ApiName>) -> Option<ApiName> {
        [(api::PATH_ANTHROPIC_MESSAGES, api::CHAT_COMPLETION), (api::PATH_ANTHROPIC_COMPLETE, api::COMPLETION), (api::PATH_MODELS, api::MODELS), (api::PATH_EMBEDDINGS, api::EMBEDDINGS)]
            .into_iter()
            .find(|(p, _)| path.contains(p))
            .map(|(_, api)| api)
    }

    fn credentials(&self, token: &str) -> Vec<(&'static str, String)> {
        if self.code_mode {
            vec![("authorization", format!("Bearer {token}"))]
        } else {
            vec![("x-api-key", token.to_string())]
        }
    }

    fn request_headers(&self, call: &mut Call, up: &mut Upstream, _request: &RequestView<'_>) {
        set_capability_path(self, call, up);
        up.host = DOMAIN.into();
        up.set("anthropic-version", self.version.clone());
        if self.code_mode {
            up.set("authorization", format!("Bearer {}", call.token));
            up.remove("x-api-key");
            up.set("user-agent", CODE_USER_AGENT);
            up.set("x-app", "cli");
            up.set("anthropic-beta", CODE_BETA);
            if !up.path.contains("beta=true") {
                up.path.push(if up.path.contains('?') { '&' } else { '?' });
                up.path.push_str("beta=true");
            }
        } else {
            up.set("x-api-key", call.token.clone());
        }
    }

    fn request_body(&self, call: &mut Call, up: &mut Upstream, request: &RequestView<'_>, body: &[u8]) -> Result<Body, AiError> {
        if !self.supports(call.api) {
            // why: claude.go lets unknown APIs through untouched.
            return Ok(Body::Keep);
        }
        super::super::provider::handle_request_body(self, call, up, request, body)
    }

    fn transform_body(&self, call: &mut Call, up: &mut Upstream, _request: &RequestView<'_>, body: &str) -> Result<String, AiError> {
        if call.api != Some(api::CHAT_COMPLETION) {
            return super::super::provider::default_transform(&self.config, call, up, body);
        }
        let request = parse_chat(&self.config, call, up, body)?;
        Ok(json::go_string(&self.request(&request, &call.final_model)?))
    }

    fn converts_response(&self, call: &Call) -> bool {
        call.api == Some(api::CHAT_COMPLETION)
    }

    fn convert_body(&self, call: &Call, body: &[u8]) -> Result<Vec<u8>, String> {
        let response: Value = serde_json::from_slice(body).map_err(|e| format!("unable to unmarshal claude response: {e}"))?;
        if let Some(error) = response.get("error").filter(|e| !e.is_null()) {
            return Err(format!("claude response error, error_type: {}, error_message: {}", oa::str_of(error, "type"), oa::str_of(error, "message")));
        }
        let (mut text, mut reasoning, mut tools) = (String::new(), String::new(), Vec::new());
        for block in response.get("content").and_then(Value::as_array).into_iter().flatten() {
            match block.get("type").and_then(Value::as_str) {
                Some("text") => text = oa::str_of(block, "text"),
                Some("thinking") => reasoning = oa::str_of(block, "thinking"),
                Some("tool_use") => tools.push(ToolCall {
                    index: 0,
                    id: oa::str_of(block, "id"),
                    kind: "function".into(),
                    function: FunctionCall {
                        id: String::new(),
                        name: oa::str_of(block, "name"),
                        arguments: block.get("input").map(json::go_string).unwrap_or_else(|| "{}".into()),
                    },
                }),
                _ => {}
            }
        }
        let usage = response.get("usage").unwrap_or(&Value::Null);
        let (input, output) = (oa::int_of(usage, "input_tokens"), oa::int_of(usage, "output_tokens"));
        let out = ChatCompletionResponse {
            id: oa::str_of(&response, "id"),
            created: super::super::provider::now_secs(),
            model: call.final_model.clone(),
            object: oa::OBJECT_CHAT_COMPLETION.into(),
            choices: vec![Choice {
                message: Some(ChatMessage { reasoning_content: reasoning, tool_calls: tools, ..ChatMessage::text("assistant", text) }),
                finish_reason: Some(finish_reason(response.get("stop_reason").and_then(Value::as_str))),
                ..Choice::default()
            }],
            usage: (input > 0 || output > 0).then_some(Usage { prompt_tokens: input, completion_tokens: output, total_tokens: input + output }),
            ..ChatCompletionResponse::default()
        };
        Ok(json::go_marshal(&out))
    }

    fn stream_converter(&self, _call: &Call) -> Option<Box<dyn StreamConverter>> {
        Some(Box::new(ClaudeStream::default()))
    }
}

/// Claude SSE → OpenAI chunks (`streamResponseClaude2OpenAI`).
#[derive(Debug, Default)]
struct ClaudeStream {
    lines: LineSplitter,
    message_id: String,
    service_tier: String,
    usage: Usage,
}

impl StreamConverter for ClaudeStream {
    fn push(&mut self, call: &Call, chunk: &[u8], end: bool) -> Vec<u8> {
        let mut out = String::new();
        for line in self.lines.push(chunk, end) {
            let Some(data) = line.strip_prefix("data:") else {
                continue;
            };
            let Ok(event) = serde_json::from_str::<Value>(data) else {
                continue;
            };
            if let Some(response) = self.convert(call, &event) {
                out.push_str(&Event::to_http(&json::go_string(&response)));
            }
        }
        out.into_bytes()
    }
}

impl ClaudeStream {
    fn chunk(&self, call: &Call, choice: Choice) -> ChatCompletionResponse {
        ChatCompletionResponse {
            id: self.message_id.clone(),
            created: super::super::provider::now_secs(),
            model: call.final_model.clone(),
            object: oa::OBJECT_CHAT_COMPLETION_CHUNK.into(),
            choices: vec![choice],
            service_tier: self.service_tier.clone(),
            ..ChatCompletionResponse::default()
        }
    }

    fn convert(&mut self, call: &Call, event: &Value) -> Option<ChatCompletionResponse> {
        let index = oa::int_of(event, "index");
        match oa::str_of(event, "type").as_str() {
            "message_start" => {
                if let Some(message) = event.get("message") {
                    self.message_id = oa::str_of(message, "id");
                    let usage = message.get("usage").unwrap_or(&Value::Null);
                    self.usage = Usage { prompt_tokens: oa::int_of(usage, "input_tokens"), completion_tokens: oa::int_of(usage, "output_tokens"), total_tokens: 0 };
                    self.service_tier = oa::str_of(usage, "service_tier");
                }
                Some(self.chunk(call, Choice { index, delta: Some(ChatMessage::text("assistant", "")), ..Choice::default() }))
            }
            "content_block_start" => {
                let block = event.get("content_block").filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"))?;
                let tool = ToolCall {
                    index,
                    id: oa::str_of(block, "id"),
                    kind: "function".into(),
                    function: FunctionCall { id: String::new(), name: oa::str_of(block, "name"), arguments: String::new() },
                };
                Some(self.chunk(call, Choice { index, delta: Some(ChatMessage { tool_calls: vec![tool], ..ChatMessage::default() }), ..Choice::default() }))
            }
            "content_block_delta" => {
                let delta = event.get("delta").unwrap_or(&Value::Null);
                let message = match delta.get("type").and_then(Value::as_str) {
                    Some("input_json_delta") => ChatMessage {
                        tool_calls: vec![ToolCall {
                            index,
                            function: FunctionCall { arguments: oa::str_of(delta, "partial_json"), ..FunctionCall::default() },
                            ..ToolCall::default()
                        }],
                        ..ChatMessage::default()
                    },
                    Some("thinking_delta") => ChatMessage { reasoning: oa::str_of(delta, "thinking"), ..ChatMessage::default() },
                    _ => ChatMessage { content: Some(Value::String(oa::str_of(delta, "text"))), ..ChatMessage::default() },
                };
                Some(self.chunk(call, Choice { index, delta: Some(message), ..Choice::default() }))
            }
            "message_delta" => {
                if let Some(usage) = event.get("usage").filter(|u| !u.is_null()) {
                    self.usage.completion_tokens += oa::int_of(usage, "output_tokens");
                    self.usage.total_tokens = self.usage.prompt_tokens + self.usage.completion_tokens;
                }
                let reason = event.get("delta").and_then(|d| d.get("stop_reason")).and_then(Value::as_str);
                Some(self.chunk(call, Choice { index, delta: Some(ChatMessage::default()), finish_reason: Some(finish_reason(reason)), ..Choice::default() }))
            }
            "message_stop" => {
                let mut last = self.chunk(call, Choice::default());
                last.choices.clear();
                last.usage = Some(self.usage.clone());
                Some(last)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claude() -> Claude {
        let config = ProviderConfig::from_json(&serde_json::json!({"type": "claude", "apiTokens": ["k"]}), "provider").unwrap();
        Claude::build(config, "provider").unwrap()
    }

    #[test]
    fn chat_request_becomes_messages() {
        let request = serde_json::json!({
            "model": "gpt-4",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "", "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
                {"role": "tool", "tool_call_id": "t1", "content": "42"}
            ],
            "stream": true
        });
        let body = json::go_string(&claude().request(&request, "claude-3").unwrap());
        assert_eq!(
            body,
            r#"{"model":"claude-3","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"id":"t1","input":{"a":1},"name":"f","type":"tool_use"}]},{"role":"user","content":[{"content":"42","tool_use_id":"t1","type":"tool_result"}]}],"system":"be brief","max_tokens":4096,"stream":true}"#
        );
    }

    #[test]
    fn stream_events_become_chunks() {
        let mut stream = ClaudeStream::default();
        let call = Call { final_model: "claude-3".into(), ..Call::default() };
        let input = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n\
event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n\
event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let out = String::from_utf8(stream.push(&call, input.as_bytes(), true)).unwrap();
        let events: Vec<Value> = out.split("\n\n").filter(|e| !e.is_empty()).map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap()).collect();
        assert_eq!(events.len(), 4, "{out}");
        assert_eq!(events[0]["choices"][0]["delta"], serde_json::json!({"role": "assistant", "content": ""}));
        assert_eq!(events[1]["choices"][0]["delta"]["content"], "Hi");
        assert_eq!(events[2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(events[3]["usage"], serde_json::json!({"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}));
        assert_eq!(events[3]["id"], "msg_1");
    }
}
