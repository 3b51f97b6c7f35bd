//! `minimax` (minimax.go) at `api.minimax.chat`, `Bearer` token. `minimaxApiType: v2` (default) is
//! OpenAI-compatible at `/v1/text/chatcompletion_v2` (model mapped, answers untouched); `pro` goes to
//! `/v1/text/chatcompletion_pro?GroupId=<minimaxGroupId>` (required) with MiniMax's own format: system
//! messages become `bot_setting`, user/assistant messages `{sender_type, sender_name, text}`, and answers
//! (whole or one SSE line at a time) come back as `chat.completion` objects, one choice per message.

use serde::Serialize;
use serde_json::Value;

use super::super::api::{self, ApiName, Capabilities};
use super::super::config::ProviderConfig;
use super::super::json;
use super::super::openai::{self as oa, ChatCompletionResponse, ChatMessage, Choice, Usage};
use super::super::provider::{AiError, Body, Call, Provider, StreamConverter, Upstream};
use super::super::sse::{Event, LineSplitter};
use crate::{ConfigError, RequestView};

const DOMAIN: &str = "api.minimax.chat";
const V2_PATH: &str = "/v1/text/chatcompletion_v2";
const PRO_PATH: &str = "/v1/text/chatcompletion_pro";
const DEFAULT_BOT_NAME: &str = "MM智能助理";
const DEFAULT_BOT_SETTING: &str = "MM智能助理是一款由MiniMax自研的，没有调用其他产品的接口的大型语言模型。MiniMax是一家中国科技公司，一直致力于进行大模型相关的研究。";
const DEFAULT_SENDER_NAME: &str = "小明";

/// The `minimax` provider.
#[derive(Debug)]
pub(crate) struct Minimax {
    config: ProviderConfig,
    capabilities: Capabilities,
    /// `Some(group id)` for the Pro API.
    pro: Option<String>,
}

impl Minimax {
    /// Builds it: the Pro API needs `minimaxGroupId`; tokens are required.
    pub(crate) fn build(config: ProviderConfig, field: &str) -> Result<Self, ConfigError> {
        let pro = if config.string("minimaxApiType") == "pro" {
            let group = config.string("minimaxGroupId");
            if group.is_empty() {
                return Err(ConfigError::new(format!("{field}.minimaxGroupId"), "missing minimaxGroupId in provider config when minimaxApiType is pro"));
            }
            Some(group)
        } else {
            None
        };
        config.require_tokens(field)?;
        let mut capabilities = api::capabilities(&[(api::CHAT_COMPLETION, V2_PATH)]);
        capabilities.extend(config.capabilities.clone());
        Ok(Self { config, capabilities, pro })
    }
}

impl Provider for Minimax {
    fn kind(&self) -> &'static str {
        "minimax"
    }

    fn config(&self) -> &ProviderConfig {
        &self.config
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn original_api_name(&self, path: &str, _generic: Option<ApiName>) -> Option<ApiName> {
        (path.contains(V2_PATH) || path.contains(PRO_PATH)).then_some(api::CHAT_COMPLETION)
    }

    fn request_headers(&self, call: &mut Call, up: &mut Upstream, _request: &RequestView<'_>) {
        up.host = DOMAIN.to_string();
        up.set("authorization", format!("Bearer {}", call.token));
    }

    fn request_body(&self, call: &mut Call, up: &mut Upstream, request: &RequestView<'_>, body: &[u8]) -> Result<Body, AiError> {
        if !self.supports(call.api) {
            return Err(AiError::unsupported(call.api, self.kind()));
        }
        let Some(group) = &self.pro else {
            return super::super::provider::handle_request_body(self, call, up, request, body);
        };
        let request: Value = serde_json::from_slice(body).map_err(|e| AiError::invalid("invalid_body", format!("unable to unmarshal request: {e}")))?;
        let messages = oa::messages(&request).map_err(|e| AiError::invalid("invalid_body", e))?;
        let model = oa::str_of(&request, "model");
        call.original_model = model.clone();
        call.final_model = self.config.model_mapping.map(&model);
        call.streaming = request.get("stream").and_then(Value::as_bool).unwrap_or(false);
        if !self.config.is_original() {
            up.path = format!("{PRO_PATH}?GroupId={group}");
        }
        Ok(Body::Replace(json::go_marshal(&pro_request(&request, messages, &call.final_model))))
    }

    fn transform_body(&self, call: &mut Call, up: &mut Upstream, _request: &RequestView<'_>, body: &str) -> Result<String, AiError> {
        up.path = V2_PATH.to_string();
        let model = json::get_raw(body, &["model"]).and_then(|r| serde_json::from_str::<Value>(r).ok());
        let model = model.as_ref().and_then(Value::as_str).unwrap_or_default().to_string();
        call.original_model = model.clone();
        call.final_model = self.config.model_mapping.map(&model);
        let raw = serde_json::to_string(&call.final_model).unwrap_or_default();
        json::set_raw(body, &["model"], &raw).ok_or_else(|| AiError::invalid("invalid_body", "the request body is not a JSON object"))
    }

    fn converts_response(&self, call: &Call) -> bool {
        self.pro.is_some() && call.api == Some(api::CHAT_COMPLETION)
    }

    fn convert_body(&self, _call: &Call, body: &[u8]) -> Result<Vec<u8>, String> {
        let response: Value = serde_json::from_slice(body).map_err(|e| format!("unable to unmarshal minimax response: {e}"))?;
        let base = response.get("base_resp").unwrap_or(&Value::Null);
        let code = oa::int_of(base, "status_code");
        if code != 0 {
            return Err(format!("minimax response error, error_code: {code}, error_message: {}", oa::str_of(base, "status_msg")));
        }
        Ok(json::go_marshal(&pro_to_openai(&response)))
    }

    fn stream_converter(&self, _call: &Call) -> Option<Box<dyn StreamConverter>> {
        Some(Box::new(ProStream::default()))
    }
}

/// `minimaxChatCompletionProRequest`.
#[derive(Serialize)]
struct ProRequest {
    model: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "is_zero")]
    tokens_to_generate: i64,
    #[serde(skip_serializing_if = "is_zero_f")]
    temperature: f64,
    #[serde(skip_serializing_if = "is_zero_f")]
    top_p: f64,
    mask_sensitive_info: bool,
    messages: Vec<ProMessage>,
    bot_setting: Vec<BotSetting>,
    reply_constraints: ProMessageSender,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_zero_f(n: &f64) -> bool {
    *n == 0.0
}

#[derive(Serialize)]
struct ProMessage {
    sender_type: &'static str,
    sender_name: String,
    text: String,
}

#[derive(Serialize)]
struct BotSetting {
    bot_name: String,
    content: String,
}

#[derive(Serialize)]
struct ProMessageSender {
    sender_type: &'static str,
    sender_name: String,
}

/// `buildMinimaxChatCompletionProRequest` (no context file).
fn pro_request(request: &Value, messages: &[Value], model: &str) -> ProRequest {
    let or = |name: String, default: &str| if name.is_empty() { default.to_string() } else { name };
    let mut out_messages = Vec::new();
    let mut bot_setting = Vec::new();
    let mut bot_name = String::new();
    for message in messages {
        let name = oa::str_of(message, "name");
        match oa::str_of(message, "role").as_str() {
            "system" => {
                bot_name = or(name, DEFAULT_BOT_NAME);
                bot_setting.push(BotSetting { bot_name: bot_name.clone(), content: oa::string_content(message) });
            }
            "assistant" => out_messages.push(ProMessage { sender_type: "BOT", sender_name: or(name, DEFAULT_BOT_NAME), text: oa::string_content(message) }),
            "user" => out_messages.push(ProMessage { sender_type: "USER", sender_name: or(name, DEFAULT_SENDER_NAME), text: oa::string_content(message) }),
            _ => {}
        }
    }
    if bot_setting.is_empty() {
        bot_setting.push(BotSetting { bot_name: DEFAULT_BOT_NAME.into(), content: DEFAULT_BOT_SETTING.into() });
    }
    ProRequest {
        model: model.to_string(),
        stream: request.get("stream").and_then(Value::as_bool).unwrap_or(false),
        tokens_to_generate: oa::int_of(request, "max_tokens"),
        temperature: oa::float_of(request, "temperature"),
        top_p: oa::float_of(request, "top_p"),
        mask_sensitive_info: true,
        messages: out_messages,
        bot_setting,
        reply_constraints: ProMessageSender { sender_type: "BOT", sender_name: or(bot_name, DEFAULT_BOT_NAME) },
    }
}

/// `responseProToOpenAI`: one choice per message of every choice.
fn pro_to_openai(response: &Value) -> ChatCompletionResponse {
    let mut choices = Vec::new();
    for choice in response.get("choices").and_then(Value::as_array).into_iter().flatten() {
        for message in choice.get("messages").and_then(Value::as_array).into_iter().flatten() {
            choices.push(Choice {
                index: i64::try_from(choices.len()).unwrap_or(0),
                message: Some(ChatMessage { name: oa::str_of(message, "sender_name"), ..ChatMessage::text("assistant", oa::str_of(message, "text")) }),
                finish_reason: Some(oa::str_of(choice, "finish_reason")),
                logprobs: None,
                delta: None,
            });
        }
    }
    let usage = response.get("usage").unwrap_or(&Value::Null);
    ChatCompletionResponse {
        id: oa::str_of(response, "id"),
        object: oa::OBJECT_CHAT_COMPLETION.into(),
        created: oa::int_of(response, "created"),
        model: oa::str_of(response, "model"),
        choices,
        usage: Some(Usage {
            total_tokens: oa::int_of(usage, "total_tokens"),
            prompt_tokens: oa::int_of(usage, "prompt_tokens"),
            completion_tokens: oa::int_of(usage, "completion_tokens"),
        }),
        ..ChatCompletionResponse::default()
    }
}

/// Pro SSE lines → OpenAI objects (`OnStreamingResponseBody`: every line of 6+ characters is
/// `data: <json>`).
#[derive(Debug, Default)]
struct ProStream {
    lines: LineSplitter,
}

impl StreamConverter for ProStream {
    fn push(&mut self, _call: &Call, chunk: &[u8], end: bool) -> Vec<u8> {
        let mut out = String::new();
        for response in self.lines.push_data_json(chunk, end) {
            out.push_str(&Event::to_http(&json::go_string(&pro_to_openai(&response))));
        }
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pro_stream_matches_higress() {
        let mut stream = ProStream::default();
        let chunk = r#"data: {"created":10,"model":"abab6.5s-chat","reply":"","choices":[{"messages":[{"sender_type":"BOT","sender_name":"MM智能助理","text":"你"}],"index":0,"finish_reason":""}],"usage":{},"id":"","base_resp":{"status_code":0,"status_msg":""}}"#;
        let out = stream.push(&Call::default(), format!("{chunk}\n\n").as_bytes(), false);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "data: {\"choices\":[{\"index\":0,\"message\":{\"name\":\"MM智能助理\",\"role\":\"assistant\",\"content\":\"你\"},\"finish_reason\":\"\",\"logprobs\":null}],\"created\":10,\"model\":\"abab6.5s-chat\",\"object\":\"chat.completion\",\"usage\":{}}\n\n"
        );
    }

    #[test]
    fn pro_request_has_bot_settings() {
        let request = serde_json::json!({"model": "gpt-3", "messages": [{"role": "user", "content": "hi"}], "stream": true});
        let body = json::go_string(&pro_request(&request, oa::messages(&request).unwrap(), "abab6.5s-chat"));
        assert!(body.starts_with(r#"{"model":"abab6.5s-chat","stream":true,"mask_sensitive_info":true,"messages":[{"sender_type":"USER","sender_name":"小明","text":"hi"}],"bot_setting":[{"bot_name":"MM智能助理""#), "{body}");
        assert!(body.ends_with(r#""reply_constraints":{"sender_type":"BOT","sender_name":"MM智能助理"}}"#), "{body}");
    }
}
