//! A small OpenAI-compatible LLM stand-in for examples (like the conformance corpus's `llm-mock`): `POST`
//! to any `…/chat/completions` path answers with the last user message as the reply, as one
//! `chat.completion` or, with `"stream": true`, one `chat.completion.chunk` SSE event per character, a
//! usage event and `data: [DONE]`. A request without `Authorization: Bearer …` gets OpenAI's 401. The
//! answer never repeats the request's headers (a credential must not come back).

use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde_json::{json, Value};

/// The mock; `name` is reported as `system_fingerprint` so a client sees which mock answered.
#[derive(Debug, Clone)]
pub struct LlmMockApp {
    /// Reported in every answer.
    pub name: String,
}

impl LlmMockApp {
    /// Status, content type and body for a request.
    pub fn answer(&self, method: &http::Method, path: &str, authorization: Option<&str>, body: &[u8]) -> (u16, &'static str, Vec<u8>) {
        const JSON: &str = "application/json";
        if method != http::Method::POST || !path.ends_with("/chat/completions") {
            return (404, JSON, error("no such API", "invalid_request_error"));
        }
        if !authorization.is_some_and(|a| a.starts_with("Bearer ") && a.len() > "Bearer ".len()) {
            return (401, JSON, error("missing or malformed API key", "invalid_api_key"));
        }
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return (400, JSON, error("the body is not JSON", "invalid_request_error"));
        };
        let model = request.get("model").and_then(Value::as_str).unwrap_or_default();
        let reply = request
            .get("messages")
            .and_then(Value::as_array)
            .and_then(|m| m.last())
            .and_then(|m| m.get("content"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let usage = json!({"prompt_tokens": reply.chars().count(), "completion_tokens": reply.chars().count(), "total_tokens": 2 * reply.chars().count()});
        if request.get("stream").and_then(Value::as_bool) == Some(true) {
            let mut events = String::new();
            for c in reply.chars() {
                let chunk = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 10, "model": model, "system_fingerprint": self.name,
                    "choices": [{"index": 0, "delta": {"content": c.to_string()}, "finish_reason": null}]});
                events.push_str(&format!("data: {chunk}\n\n"));
            }
            let last = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 10, "model": model, "choices": [], "usage": usage});
            events.push_str(&format!("data: {last}\n\ndata: [DONE]\n\n"));
            return (200, "text/event-stream", events.into_bytes());
        }
        let completion = json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 10, "model": model, "system_fingerprint": self.name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": usage,
        });
        (200, JSON, completion.to_string().into_bytes())
    }
}

/// OpenAI's error body.
fn error(message: &str, kind: &str) -> Vec<u8> {
    json!({"error": {"message": message, "type": kind, "param": null, "code": null}}).to_string().into_bytes()
}

#[async_trait]
impl ServeHttp for LlmMockApp {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = session.read_request_body().await {
            body.extend_from_slice(&chunk);
            if body.len() > 1024 * 1024 {
                break;
            }
        }
        let request = session.req_header();
        let authorization = request.headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let (status, content_type, body) = self.answer(&request.method, request.uri.path(), authorization, &body);
        let mut response = http::Response::new(body);
        *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
        let length = response.body().len();
        response.headers_mut().insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(length));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_like_an_openai_service() {
        let mock = LlmMockApp { name: "mock".into() };
        let body = br#"{"model":"qwen-turbo","messages":[{"role":"user","content":"hi"}]}"#;
        let (status, _, out) = mock.answer(&http::Method::POST, "/compatible-mode/v1/chat/completions", Some("Bearer sk-x"), body);
        assert_eq!(status, 200);
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out["choices"][0]["message"]["content"], "hi");
        assert!(!out.to_string().contains("sk-x"));
        assert_eq!(mock.answer(&http::Method::POST, "/v1/chat/completions", None, body).0, 401);
        let stream = br#"{"model":"m","stream":true,"messages":[{"role":"user","content":"ab"}]}"#;
        let (status, kind, out) = mock.answer(&http::Method::POST, "/v1/chat/completions", Some("Bearer k"), stream);
        assert_eq!((status, kind), (200, "text/event-stream"));
        assert_eq!(String::from_utf8(out).unwrap().matches("data: ").count(), 4);
    }
}
