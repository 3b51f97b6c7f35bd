//! `dify` (dify.go): a Dify app at `difyApiUrl`'s host (default `api.dify.ai`), `Bearer` token. Only chat
//! completions: the conversation becomes one query (`SYSTEM: \n…\nUSER: \n…\n`), sent by `botType` to
//! `/v1/chat-messages` (`Chat`, `Agent`: `query`), `/v1/completion-messages` (`Completion`:
//! `inputs.query`) or `/v1/workflows/run` (`Workflow`: `inputs[inputVariable]`), `response_mode`
//! `blocking`/`streaming`; answers (whole or one SSE line at a time) come back as OpenAI objects.
//!
//! oxigress difference: Higress also copies the Dify `conversation_id` into a `ConversationId` response
//! header for `Chat`/`Agent` bots; here the response headers have left before the body is read.

use serde::Serialize;
use serde_json::{Map, Value};

use super::super::api::{self, Capabilities};
use super::super::config::ProviderConfig;
use super::super::json;
use super::super::openai::{self as oa, ChatCompletionResponse, ChatMessage, Choice, Usage};
use super::super::provider::{header, parse_chat, AiError, Call, Provider, StreamConverter, Upstream};
use super::super::sse::{Event, LineSplitter};
use crate::{ConfigError, RequestView};

/// `botType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bot {
    Chat,
    Completion,
    Workflow,
    /// Unset or unknown: an empty request is sent.
    Other,
}

/// The `dify` provider.
#[derive(Debug)]
pub(crate) struct Dify {
    config: ProviderConfig,
    capabilities: Capabilities,
    host: String,
    bot: Bot,
}

impl Dify {
    /// Builds it: tokens are required.
    pub(crate) fn build(config: ProviderConfig, field: &str) -> Result<Self, ConfigError> {
        config.require_tokens(field)?;
        let url = config.string("difyApiUrl");
        let host = if url.is_empty() {
            "api.dify.ai".to_string()
        } else {
            let rest = url.trim_start_matches("http://").trim_start_matches("https://");
            rest.split('/').next().unwrap_or(rest).to_string()
        };
        let bot = match config.string("botType").as_str() {
            "Chat" | "Agent" => Bot::Chat,
            "Completion" => Bot::Completion,
            "Workflow" => Bot::Workflow,
            _ => Bot::Other,
        };
        let capabilities = config.capabilities.clone();
        Ok(Self { config, capabilities, host, bot })
    }

    fn output(&self, response: &Value) -> (ChatMessage, String) {
        let answer = || ChatMessage::text("assistant", oa::str_of(response, "answer"));
        match self.bot {
            Bot::Chat => (answer(), oa::str_of(response, "conversation_id")),
            Bot::Completion => (answer(), oa::str_of(response, "message_id")),
            Bot::Workflow => {
                let data = response.get("data").unwrap_or(&Value::Null);
                let content = data.get("outputs").and_then(|o| o.get(self.config.string("outputVariable"))).cloned().filter(|v| !v.is_null());
                (ChatMessage { role: "assistant".into(), content, ..ChatMessage::default() }, oa::str_of(data, "workflow_id"))
            }
            Bot::Other => (ChatMessage::default(), String::new()),
        }
    }
}

/// `DifyChatRequest` (no `omitempty`).
#[derive(Serialize)]
struct DifyRequest {
    inputs: Option<Map<String, Value>>,
    query: String,
    response_mode: String,
    user: String,
    auto_generate_name: bool,
    conversation_id: String,
}

impl Provider for Dify {
    fn kind(&self) -> &'static str {
        "dify"
    }

    fn config(&self) -> &ProviderConfig {
        &self.config
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn supports(&self, api: Option<api::ApiName>) -> bool {
        api == Some(api::CHAT_COMPLETION)
    }

    fn request_headers(&self, call: &mut Call, up: &mut Upstream, _request: &RequestView<'_>) {
        up.host = self.host.clone();
        match self.bot {
            Bot::Chat => up.path = "/v1/chat-messages".into(),
            Bot::Completion => up.path = "/v1/completion-messages".into(),
            Bot::Workflow => up.path = "/v1/workflows/run".into(),
            Bot::Other => {}
        }
        up.set("authorization", format!("Bearer {}", call.token));
    }

    fn transform_body(&self, call: &mut Call, up: &mut Upstream, request: &RequestView<'_>, body: &str) -> Result<String, AiError> {
        let chat = parse_chat(&self.config, call, up, body)?;
        let mut content = String::new();
        for message in oa::messages(&chat).map_err(|e| AiError::invalid("invalid_body", e))? {
            let label = match oa::str_of(message, "role").as_str() {
                "system" => "SYSTEM",
                "assistant" => "ASSISTANT",
                _ => "USER",
            };
            content.push_str(&format!("{label}: \n{}\n", oa::string_content(message)));
        }
        let mode = if call.streaming { "streaming" } else { "blocking" };
        let user = match oa::str_of(&chat, "user") {
            u if u.is_empty() => "api-user".to_string(),
            u => u,
        };
        let with = |key: String| Some(Map::from_iter([(key, Value::String(content.clone()))]));
        let request = match self.bot {
            Bot::Chat => DifyRequest {
                inputs: Some(Map::new()),
                query: content.clone(),
                response_mode: mode.into(),
                user,
                auto_generate_name: false,
                conversation_id: header(request, "conversationid").unwrap_or_default().to_string(),
            },
            Bot::Completion => DifyRequest { inputs: with("query".into()), query: String::new(), response_mode: mode.into(), user, auto_generate_name: false, conversation_id: String::new() },
            Bot::Workflow => DifyRequest {
                inputs: with(self.config.string("inputVariable")),
                query: String::new(),
                response_mode: mode.into(),
                user,
                auto_generate_name: false,
                conversation_id: String::new(),
            },
            Bot::Other => DifyRequest { inputs: None, query: String::new(), response_mode: String::new(), user: String::new(), auto_generate_name: false, conversation_id: String::new() },
        };
        Ok(json::go_string(&request))
    }

    fn converts_response(&self, call: &Call) -> bool {
        call.api == Some(api::CHAT_COMPLETION)
    }

    fn convert_body(&self, call: &Call, body: &[u8]) -> Result<Vec<u8>, String> {
        let response: Value = serde_json::from_slice(body).map_err(|e| format!("unable to unmarshal dify response: {e}"))?;
        let (message, id) = self.output(&response);
        let usage = response.get("metadata").and_then(|m| m.get("usage")).unwrap_or(&Value::Null);
        let out = ChatCompletionResponse {
            id,
            created: oa::int_of(&response, "created_at"),
            model: call.final_model.clone(),
            object: oa::OBJECT_CHAT_COMPLETION.into(),
            choices: vec![Choice { message: Some(message), finish_reason: Some("stop".into()), ..Choice::default() }],
            usage: Some(usage_of(usage)),
            ..ChatCompletionResponse::default()
        };
        Ok(json::go_marshal(&out))
    }

    fn stream_converter(&self, _call: &Call) -> Option<Box<dyn StreamConverter>> {
        Some(Box::new(DifyStream { lines: LineSplitter::default(), bot: self.bot, output_variable: self.config.string("outputVariable") }))
    }
}

fn usage_of(usage: &Value) -> Usage {
    Usage {
        prompt_tokens: oa::int_of(usage, "prompt_tokens"),
        completion_tokens: oa::int_of(usage, "completion_tokens"),
        total_tokens: oa::int_of(usage, "total_tokens"),
    }
}

/// Dify SSE lines → `chat.completion.chunk` events.
#[derive(Debug)]
struct DifyStream {
    lines: LineSplitter,
    bot: Bot,
    output_variable: String,
}

impl StreamConverter for DifyStream {
    fn push(&mut self, call: &Call, chunk: &[u8], end: bool) -> Vec<u8> {
        let mut out = String::new();
        for response in self.lines.push_data_json(chunk, end) {
            let (delta, id) = match self.bot {
                Bot::Chat => (ChatMessage::text("assistant", oa::str_of(&response, "answer")), oa::str_of(&response, "conversation_id")),
                Bot::Completion => (ChatMessage::text("assistant", oa::str_of(&response, "answer")), oa::str_of(&response, "message_id")),
                Bot::Workflow => {
                    let data = response.get("data").unwrap_or(&Value::Null);
                    let content = data.get("outputs").and_then(|o| o.get(&self.output_variable)).cloned().filter(|v| !v.is_null());
                    (ChatMessage { role: "assistant".into(), content, ..ChatMessage::default() }, oa::str_of(data, "workflow_id"))
                }
                Bot::Other => (ChatMessage::default(), String::new()),
            };
            let event = oa::str_of(&response, "event");
            let mut choice = Choice::default();
            let mut usage = None;
            if event == "message_end" || event == "workflow_finished" {
                choice.finish_reason = Some("stop".into());
                if event == "message_end" {
                    usage = Some(usage_of(response.get("metadata").and_then(|m| m.get("usage")).unwrap_or(&Value::Null)));
                }
            }
            if self.bot != Bot::Other {
                choice.delta = Some(delta);
            }
            let converted = ChatCompletionResponse {
                id,
                created: oa::int_of(&response, "created_at"),
                model: call.final_model.clone(),
                object: oa::OBJECT_CHAT_COMPLETION_CHUNK.into(),
                choices: vec![choice],
                usage,
                ..ChatCompletionResponse::default()
            };
            out.push_str(&Event::to_http(&json::go_string(&converted)));
        }
        out.into_bytes()
    }
}
