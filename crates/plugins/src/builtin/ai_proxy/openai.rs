//! OpenAI wire types the converters produce (provider/model.go), serialised field by field as Go's
//! `encoding/json` does with Higress's tags (same order, same `omitempty`), so converted bodies and SSE
//! events are byte-identical to Higress's. Requests are read as [`serde_json::Value`] (lenient).

use serde::Serialize;
use serde_json::Value;

/// `chat.completion`.
pub(crate) const OBJECT_CHAT_COMPLETION: &str = "chat.completion";
/// `chat.completion.chunk`.
pub(crate) const OBJECT_CHAT_COMPLETION_CHUNK: &str = "chat.completion.chunk";

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// `chatCompletionResponse`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ChatCompletionResponse {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub choices: Vec<Choice>,
    #[serde(skip_serializing_if = "is_zero")]
    pub created: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub model: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_tier: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub system_fingerprint: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub object: String,
    /// `null` when absent (no `omitempty` in Higress).
    pub usage: Option<Usage>,
}

/// `chatCompletionChoice`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Choice {
    pub index: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<ChatMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<ChatMessage>,
    /// `null` when absent.
    pub finish_reason: Option<String>,
    /// Always `null` here.
    pub logprobs: Option<Value>,
}

/// `usage` (every count `omitempty`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Usage {
    #[serde(skip_serializing_if = "is_zero")]
    pub prompt_tokens: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub completion_tokens: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub total_tokens: i64,
}

/// `chatMessage`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ChatMessage {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub role: String,
    /// Go `any` with `omitempty`: left out only when nil (an empty string is written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reasoning_content: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reasoning: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tool_call_id: String,
}

impl ChatMessage {
    /// A message with `role` and text `content`.
    pub(crate) fn text(role: &str, content: impl Into<String>) -> Self {
        Self { role: role.into(), content: Some(Value::String(content.into())), ..Self::default() }
    }

    /// Whether the delta carries nothing (model.go `IsEmpty`).
    pub(crate) fn is_empty(&self) -> bool {
        if !self.reasoning_content.is_empty() {
            return false;
        }
        match &self.content {
            Some(Value::String(s)) if !s.is_empty() => return false,
            Some(Value::Array(items)) if !items.is_empty() => return false,
            _ => {}
        }
        !self.tool_calls.iter().any(|t| !t.function.name.is_empty() || !t.function.arguments.is_empty())
    }
}

/// `toolCall`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ToolCall {
    pub index: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub function: FunctionCall,
}

/// `functionCall`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct FunctionCall {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// `embeddingsResponse`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EmbeddingsResponse {
    pub object: &'static str,
    pub data: Vec<Embedding>,
    pub model: String,
    pub usage: Usage,
}

/// `embedding`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Embedding {
    pub object: &'static str,
    pub index: i64,
    pub embedding: Vec<Value>,
}

/// Reads `toolCall`s from a request/response message (`tool_calls`).
pub(crate) fn tool_calls(value: Option<&Value>) -> Vec<ToolCall> {
    let Some(Value::Array(items)) = value else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| ToolCall {
            index: item.get("index").and_then(Value::as_i64).unwrap_or(0),
            id: str_of(item, "id"),
            kind: str_of(item, "type"),
            function: FunctionCall {
                id: item.get("function").map(|f| str_of(f, "id")).unwrap_or_default(),
                name: item.get("function").map(|f| str_of(f, "name")).unwrap_or_default(),
                arguments: item.get("function").map(|f| str_of(f, "arguments")).unwrap_or_default(),
            },
        })
        .collect()
}

/// A string member, `""` when absent or not a string.
pub(crate) fn str_of(value: &Value, key: &str) -> String {
    value.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// An integer member, 0 when absent.
pub(crate) fn int_of(value: &Value, key: &str) -> i64 {
    value.get(key).and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))).unwrap_or(0)
}

/// A number member, 0 when absent.
pub(crate) fn float_of(value: &Value, key: &str) -> f64 {
    value.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

/// A message's text (model.go `StringContent`): the string, or the `text` parts joined, each followed by
/// a newline.
pub(crate) fn string_content(message: &Value) -> String {
    match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .map(|t| format!("{t}\n"))
            .collect(),
        _ => String::new(),
    }
}

/// Whether a message's content is a string.
pub(crate) fn is_string_content(message: &Value) -> bool {
    matches!(message.get("content"), Some(Value::String(_)))
}

/// One part of a multi-part content (model.go `ParseContent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    /// `text`.
    Text(String),
    /// `image_url.url`.
    ImageUrl(String),
    /// `file.file_id`.
    File(String),
}

/// A message's content as parts: a string is one text part.
pub(crate) fn parts(message: &Value) -> Vec<Part> {
    match message.get("content") {
        Some(Value::String(s)) => vec![Part::Text(s.clone())],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| match item.get("type").and_then(Value::as_str) {
                Some("text") => item.get("text").and_then(Value::as_str).map(|t| Part::Text(t.into())),
                Some("image_url") => item.get("image_url").and_then(|i| i.get("url")).and_then(Value::as_str).map(|u| Part::ImageUrl(u.into())),
                Some("file") => item.get("file").and_then(|f| f.get("file_id")).and_then(Value::as_str).map(|f| Part::File(f.into())),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The `messages` of a chat request (Higress rejects a request without any).
pub(crate) fn messages(request: &Value) -> Result<&Vec<Value>, String> {
    match request.get("messages") {
        Some(Value::Array(items)) if !items.is_empty() => Ok(items),
        _ => Err("no message found in the request body".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_like_go() {
        let response = ChatCompletionResponse {
            id: "x".into(),
            choices: vec![Choice { index: 0, delta: Some(ChatMessage::text("assistant", "你")), ..Choice::default() }],
            created: 10,
            model: "m".into(),
            object: OBJECT_CHAT_COMPLETION_CHUNK.into(),
            ..ChatCompletionResponse::default()
        };
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":"你"},"finish_reason":null,"logprobs":null}],"created":10,"model":"m","object":"chat.completion.chunk","usage":null}"#
        );
        let empty = ChatCompletionResponse { usage: Some(Usage::default()), ..ChatCompletionResponse::default() };
        assert_eq!(serde_json::to_string(&empty).unwrap(), r#"{"choices":[],"usage":{}}"#);
    }
}
