use super::*;
use crate::{Decision, RequestEdits, RequestView, ResponseEdits, ResponseView};
use bytes::Bytes;
use serde_json::json;

fn parts(method: &str, target: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut builder = http::Request::builder().method(method).uri(target);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

const JSON_HEADERS: &[(&str, &str)] =
    &[("host", "gateway.example.com"), ("content-type", "application/json"), ("content-length", "10"), ("authorization", "Bearer client-key")];

/// What one request through the exchange produced.
struct Outcome {
    headers: RequestEdits,
    body: RequestEdits,
}

impl Outcome {
    fn set(&self, name: &str) -> Option<&str> {
        self.headers.headers.set.iter().chain(&self.body.headers.set).rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
    fn path(&self) -> Option<&str> {
        self.body.path_and_query.as_deref().or(self.headers.path_and_query.as_deref())
    }
    fn body_json(&self) -> serde_json::Value {
        serde_json::from_slice(self.body.body.as_ref().expect("a new body")).unwrap()
    }
}

fn run(exchange: &mut dyn Exchange, target: &str, body: &serde_json::Value) -> Outcome {
    let request = parts("POST", target, JSON_HEADERS);
    let view = RequestView { parts: &request, host: "gateway.example.com", scheme: "http", client_ip: None };
    let mut headers = RequestEdits::default();
    assert_eq!(exchange.on_request_headers(&view, &mut headers), Decision::Continue);
    let mut edits = RequestEdits::default();
    if !headers.skip_body {
        let decision = exchange.on_request_body(&view, &serde_json::to_vec(body).unwrap(), &mut edits);
        if let Decision::Respond(r) = decision {
            panic!("answered {} {}", r.status, String::from_utf8_lossy(&r.body));
        }
    }
    Outcome { headers, body: edits }
}

fn respond(exchange: &mut dyn Exchange, status: u16, content_type: &str, chunks: &[&str]) -> (ResponseEdits, String) {
    let request = parts("POST", "/v1/chat/completions", JSON_HEADERS);
    let view = RequestView { parts: &request, host: "gateway.example.com", scheme: "http", client_ip: None };
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::CONTENT_TYPE, content_type.parse().unwrap());
    let mut edits = ResponseEdits::default();
    exchange.on_response_headers(&view, &ResponseView { status, headers: &headers }, &mut edits);
    let mut out = String::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let sent = exchange.on_response_chunk(Bytes::from(chunk.to_string()), i + 1 == chunks.len());
        out.push_str(std::str::from_utf8(if edits.stream_body { &sent } else { chunk.as_bytes() }).unwrap());
    }
    (edits, out)
}

fn plugin(config: serde_json::Value) -> AiProxy {
    AiProxy::from_config(&config).unwrap()
}

fn chat(stream: bool) -> serde_json::Value {
    json!({"model": "gpt-3", "messages": [{"role": "user", "content": "你好"}], "stream": stream})
}

#[test]
fn configuration_is_validated_like_higress() {
    let err = |config: serde_json::Value| AiProxy::from_config(&config).unwrap_err();
    assert_eq!(err(json!({"provider": {"type": "qwen"}})).field, "provider.apiTokens");
    assert_eq!(err(json!({"provider": {"apiTokens": ["t"]}})).field, "provider.type");
    assert_eq!(err(json!({"provider": {"type": "nope", "apiTokens": ["t"]}})).message, "unknown provider type: nope");
    assert_eq!(err(json!({"provider": {"type": "openai", "protocol": "grpc"}})).field, "provider.protocol");
    assert_eq!(err(json!({"provider": {"type": "openai", "failover": {"enabled": true}}})).field, "provider.failover.healthCheckModel");
    assert_eq!(err(json!({"provider": {"type": "openai", "context": {"fileUrl": "x"}}})).field, "provider.context");
    assert_eq!(err(json!({"provider": {"type": "azure", "apiTokens": ["t"], "azureServiceUrl": "https://x.openai.azure.com/"}})).field, "provider.azureServiceUrl");
    assert_eq!(err(json!({"provider": {"type": "minimax", "apiTokens": ["t"], "minimaxApiType": "pro"}})).field, "provider.minimaxGroupId");
    assert_eq!(err(json!({"provider": {"type": "ollama"}})).field, "provider.ollamaServerHost");
    assert_eq!(err(json!({"providers": [{"id": "a", "type": "qwen"}], "activeProviderId": "a"})).field, "providers[0].apiTokens");
    // Only the active provider is validated; none active ⇒ pass-through.
    let idle = plugin(json!({"providers": [{"id": "a", "type": "qwen"}]}));
    assert!(idle.exchange().is_none() && !idle.needs_request_body());
    assert_eq!(plugin(json!({"providers": [{"id": "a", "type": "openai"}], "activeProviderId": "a"})).provider(), Some("openai"));
    // Token values never appear in errors.
    let error = err(json!({"provider": {"type": "qwen", "apiTokens": ["sk-secret"], "protocol": "x"}}));
    assert!(!error.to_string().contains("sk-secret"));
}

#[test]
fn rules_inherit_only_providers() {
    let global = json!({"providers": [{"id": "q", "type": "qwen", "apiTokens": ["t"]}], "activeProviderId": "q"});
    assert_eq!(effective_rule_config(Some(&global), &json!({"activeProviderId": "q"})), json!({"activeProviderId": "q", "providers": global["providers"]}));
    let own = json!({"provider": {"type": "openai"}});
    assert_eq!(effective_rule_config(Some(&global), &own)["provider"], own["provider"]);
    assert!(effective_rule_config(Some(&global), &json!({})).get("activeProviderId").is_none(), "no active provider without one in the rule");
}

#[test]
fn redaction_hides_every_token() {
    let mut config = json!({"provider": {"type": "qwen", "apiTokens": ["sk-1", "sk-2"]}, "providers": [{"apiTokens": "sk-3", "awsSecretKey": "aws"}]});
    redact(&mut config);
    let text = config.to_string();
    assert!(!text.contains("sk-") && !text.contains("aws\""), "{text}");
    assert_eq!(config["provider"]["apiTokens"], json!([REDACTED, REDACTED]));
}

#[test]
fn openai_request_is_rewritten_and_answer_passes_through() {
    let ai = plugin(json!({"provider": {"type": "openai", "apiTokens": ["sk-a"], "modelMapping": {"gpt-3": "gpt-4o"}}}));
    let mut exchange = ai.exchange().unwrap();
    let out = run(exchange.as_mut(), "/v1/chat/completions?x=1", &chat(true));
    assert_eq!(out.set("host"), Some("api.openai.com"));
    assert_eq!(out.set("authorization"), Some("Bearer sk-a"));
    assert_eq!(out.set("x-envoy-original-host"), Some("gateway.example.com"));
    assert_eq!(out.set("x-hi-original-auth"), Some("Bearer client-key"));
    assert!(out.headers.headers.remove.contains(&"accept-encoding".to_string()));
    assert_eq!(out.path(), None, "the path is unchanged");
    let body = out.body_json();
    assert_eq!(body["model"], "gpt-4o");
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    let stream = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n";
    let (edits, sent) = respond(exchange.as_mut(), 200, "text/event-stream", &[stream]);
    assert!(edits.inspect_body && !edits.stream_body, "read-only: framing kept");
    assert_eq!(sent, stream);
    let usage = exchange.llm_usage().unwrap();
    assert_eq!((usage.provider, usage.prompt_tokens, usage.completion_tokens), ("openai", 9, 2));
}

#[test]
fn openai_forwards_the_client_key_without_tokens() {
    let ai = plugin(json!({"provider": {"type": "openai"}}));
    let out = run(ai.exchange().unwrap().as_mut(), "/v1/embeddings", &json!({"model": "m", "input": "x"}));
    assert_eq!(out.set("authorization"), Some("Bearer client-key"));
}

#[test]
fn qwen_compatible_mode_is_the_default() {
    let ai = plugin(json!({"provider": {"type": "qwen", "apiTokens": ["t"], "modelMapping": {"gpt-4-*": "qwen-max", "*": "qwen-turbo"}}}));
    let out = run(ai.exchange().unwrap().as_mut(), "/v1/chat/completions", &chat(false));
    assert_eq!(out.set("host"), Some("dashscope.aliyuncs.com"));
    assert_eq!(out.path(), Some("/compatible-mode/v1/chat/completions"));
    assert_eq!(out.set("x-envoy-original-path"), Some("/v1/chat/completions"));
    assert_eq!(out.body_json()["model"], "qwen-turbo");
}

#[test]
fn qwen_native_round_trip() {
    let ai = plugin(json!({"provider": {"type": "qwen", "apiTokens": ["t"], "qwenEnableCompatible": false, "modelMapping": {"*": "qwen-turbo"}}}));
    let mut exchange = ai.exchange().unwrap();
    let out = run(exchange.as_mut(), "/v1/chat/completions", &chat(false));
    assert_eq!(out.path(), Some("/api/v1/services/aigc/text-generation/generation"));
    assert_eq!(out.set("accept"), Some("*/*"));
    assert_eq!(
        out.body_json(),
        json!({"model": "qwen-turbo", "input": {"messages": [{"role": "user", "content": "你好"}]}, "parameters": {"result_format": "message", "top_p": 0.000001}})
    );
    let answer = r#"{"request_id":"r1","output":{"choices":[{"finish_reason":"stop","message":{"role":"assistant","content":"hi"}}]},"usage":{"input_tokens":9,"output_tokens":1,"total_tokens":10}}"#;
    let (edits, sent) = respond(exchange.as_mut(), 200, "application/json", &[&answer[..40], &answer[40..]]);
    assert!(edits.stream_body);
    let sent: serde_json::Value = serde_json::from_str(&sent).unwrap();
    assert_eq!(sent["id"], "r1");
    assert_eq!(sent["object"], "chat.completion");
    assert_eq!(sent["model"], "qwen-turbo");
    assert_eq!(sent["choices"], json!([{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop", "logprobs": null}]));
    assert_eq!(sent["usage"], json!({"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}));
    assert_eq!(exchange.llm_usage().map(|u| (u.prompt_tokens, u.completion_tokens)), Some((9, 1)));
}

#[test]
fn bad_requests_answer_in_openai_format() {
    let ai = plugin(json!({"provider": {"type": "qwen", "apiTokens": ["sk-secret"], "qwenEnableCompatible": false}}));
    let mut exchange = ai.exchange().unwrap();
    let request = parts("POST", "/v1/chat/completions", JSON_HEADERS);
    let view = RequestView { parts: &request, host: "h", scheme: "http", client_ip: None };
    exchange.on_request_headers(&view, &mut RequestEdits::default());
    let Decision::Respond(answer) = exchange.on_request_body(&view, br#"{"model":"gpt-3","messages":[]}"#, &mut RequestEdits::default()) else {
        panic!("no answer");
    };
    assert_eq!(answer.status, 400);
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(!String::from_utf8_lossy(&answer.body).contains("sk-secret"));

    // An API the provider does not offer.
    let yi = plugin(json!({"provider": {"type": "yi", "apiTokens": ["t"]}}));
    let mut exchange = yi.exchange().unwrap();
    let request = parts("POST", "/v1/embeddings", JSON_HEADERS);
    let view = RequestView { parts: &request, host: "h", scheme: "http", client_ip: None };
    exchange.on_request_headers(&view, &mut RequestEdits::default());
    let Decision::Respond(answer) = exchange.on_request_body(&view, br#"{"model":"m","input":"x"}"#, &mut RequestEdits::default()) else {
        panic!("no answer");
    };
    assert_eq!(answer.status, 400);
    assert!(String::from_utf8_lossy(&answer.body).contains("unsupported_api"));

    // The upstream cannot be reached.
    let answer = exchange.error_response(502).unwrap();
    assert_eq!(answer.status, 502);
    assert!(String::from_utf8_lossy(&answer.body).contains("\"type\":\"upstream_error\""));
}

#[test]
fn tokens_take_turns_and_retry_uses_another() {
    let ai = plugin(json!({"provider": {"type": "deepseek", "apiTokens": ["k1", "k2", "k3"], "retryOnFailure": {"enabled": true, "maxRetries": 2}}}));
    let auth = |ex: &mut dyn Exchange| run(ex, "/v1/chat/completions", &chat(false)).set("authorization").unwrap().to_string();
    let seen: Vec<String> = (0..4).map(|_| auth(ai.exchange().unwrap().as_mut())).collect();
    assert_eq!(seen, ["Bearer k1", "Bearer k2", "Bearer k3", "Bearer k1"]);
    let mut exchange = ai.exchange().unwrap();
    assert_eq!(auth(exchange.as_mut()), "Bearer k2");
    let mut retry = RequestEdits::default();
    assert!(exchange.on_upstream_status(429, &mut retry));
    assert_eq!(retry.headers.set, vec![("authorization".to_string(), "Bearer k3".to_string())]);
    let mut retry = RequestEdits::default();
    assert!(exchange.on_upstream_status(401, &mut retry));
    assert_eq!(retry.headers.set, vec![("authorization".to_string(), "Bearer k1".to_string())]);
    assert!(!exchange.on_upstream_status(401, &mut RequestEdits::default()), "maxRetries reached (and every token tried)");
    assert!(!ai.exchange().unwrap().on_upstream_status(200, &mut RequestEdits::default()));
}

#[test]
fn failover_takes_a_failing_token_out() {
    let ai = plugin(json!({"provider": {"type": "openai", "apiTokens": ["k1", "k2"], "failover": {"enabled": true, "failureThreshold": 1, "healthCheckModel": "m", "healthCheckInterval": 600000}}}));
    let mut first = ai.exchange().unwrap();
    assert_eq!(run(first.as_mut(), "/v1/chat/completions", &chat(false)).set("authorization"), Some("Bearer k1"));
    first.on_upstream_status(401, &mut RequestEdits::default());
    for _ in 0..3 {
        let out = run(ai.exchange().unwrap().as_mut(), "/v1/chat/completions", &chat(false));
        assert_eq!(out.set("authorization"), Some("Bearer k2"), "k1 is out for a while");
    }
}

#[test]
fn custom_settings_and_developer_role() {
    let ai = plugin(json!({"provider": {"type": "deepseek", "apiTokens": ["t"], "customSettings": [
        {"name": "max_tokens", "value": 10},
        {"name": "temperature", "value": 0.2, "overwrite": false},
        {"name": "top_k", "value": 3},
        {"name": "x.y", "value": "z", "mode": "raw"}
    ]}}));
    let body = json!({"model": "m", "temperature": 0.9, "messages": [{"role": "developer", "content": "d"}, {"role": "user", "content": "u"}]});
    let sent = run(ai.exchange().unwrap().as_mut(), "/v1/chat/completions", &body).body_json();
    assert_eq!(sent["max_tokens"], 10);
    assert_eq!(sent["temperature"], 0.9, "overwrite: false keeps the client's");
    assert!(sent.get("top_k").is_none(), "no openai mapping for top_k");
    assert_eq!(sent["x"], json!({"y": "z"}));
    assert_eq!(sent["messages"][0]["role"], "system");
}

#[test]
fn providers_set_their_host_path_and_credentials() {
    let cases = [
        (json!({"type": "ai360", "apiTokens": ["t"]}), "api.360.cn", "/v1/chat/completions", ("authorization", "t")),
        (json!({"type": "baidu", "apiTokens": ["t"]}), "qianfan.baidubce.com", "/v2/chat/completions", ("authorization", "Bearer t")),
        (json!({"type": "github", "apiTokens": ["t"]}), "models.inference.ai.azure.com", "/chat/completions", ("authorization", "t")),
        (json!({"type": "groq", "apiTokens": ["t"]}), "api.groq.com", "/openai/v1/chat/completions", ("authorization", "Bearer t")),
        (json!({"type": "doubao", "apiTokens": ["t"]}), "ark.cn-beijing.volces.com", "/api/v3/chat/completions", ("authorization", "Bearer t")),
        (json!({"type": "zhipuai", "apiTokens": ["t"]}), "open.bigmodel.cn", "/api/paas/v4/chat/completions", ("authorization", "Bearer t")),
        (json!({"type": "moonshot", "apiTokens": ["t"]}), "api.moonshot.cn", "/v1/chat/completions", ("authorization", "Bearer t")),
        (json!({"type": "ollama", "ollamaServerHost": "ollama.local", "ollamaServerPort": 11434}), "ollama.local:11434", "/v1/chat/completions", ("accept", "")),
        (json!({"type": "cloudflare", "apiTokens": ["t"], "cloudflareAccountId": "acc"}), "api.cloudflare.com", "/client/v4/accounts/acc/ai/v1/chat/completions", ("authorization", "Bearer t")),
        (json!({"type": "claude", "apiTokens": ["t"]}), "api.anthropic.com", "/v1/messages", ("x-api-key", "t")),
        (json!({"type": "minimax", "apiTokens": ["t"]}), "api.minimax.chat", "/v1/text/chatcompletion_v2", ("authorization", "Bearer t")),
        (json!({"type": "minimax", "apiTokens": ["t"], "minimaxApiType": "pro", "minimaxGroupId": "g"}), "api.minimax.chat", "/v1/text/chatcompletion_pro?GroupId=g", ("authorization", "Bearer t")),
        (json!({"type": "dify", "apiTokens": ["t"], "botType": "Chat"}), "api.dify.ai", "/v1/chat-messages", ("authorization", "Bearer t")),
        (json!({"type": "gemini", "apiTokens": ["t"]}), "generativelanguage.googleapis.com", "/v1beta/models/gpt-3:generateContent", ("x-goog-api-key", "t")),
        (
            json!({"type": "azure", "apiTokens": ["t"], "azureServiceUrl": "https://r.openai.azure.com/openai/deployments/dep?api-version=2024-02-01"}),
            "r.openai.azure.com",
            "/openai/deployments/dep/chat/completions?api-version=2024-02-01",
            ("api-key", "t"),
        ),
        (json!({"type": "generic", "apiTokens": ["t"], "genericHost": "llm.internal"}), "llm.internal", "/v1/chat/completions", ("authorization", "Bearer t")),
    ];
    for (config, host, path, (header, value)) in cases {
        let kind = config["type"].clone();
        let ai = plugin(json!({ "provider": config }));
        let out = run(ai.exchange().unwrap().as_mut(), "/v1/chat/completions", &chat(false));
        assert_eq!(out.set("host"), Some(host), "{kind}");
        assert_eq!(out.path().unwrap_or("/v1/chat/completions"), path, "{kind}");
        if !value.is_empty() {
            assert_eq!(out.set(header), Some(value), "{kind}");
        }
    }
}

#[test]
fn dify_completion_round_trip() {
    let ai = plugin(json!({"provider": {"type": "dify", "apiTokens": ["t"], "botType": "Completion", "modelMapping": {"*": "dify"}}}));
    let mut exchange = ai.exchange().unwrap();
    let out = run(exchange.as_mut(), "/v1/chat/completions", &chat(true));
    assert_eq!(
        out.body_json(),
        json!({"inputs": {"query": "USER: \n你好\n"}, "query": "", "response_mode": "streaming", "user": "api-user", "auto_generate_name": false, "conversation_id": ""})
    );
    let (_, sent) = respond(
        exchange.as_mut(),
        200,
        "text/event-stream",
        &[
            "data: {\"event\":\"agent_thought\",\"message_id\":\"m\",\"answer\":\"U\",\"created_at\":10}\n\n",
            "data: {\"event\":\"message_end\",\"message_id\":\"m\",\"answer\":\"USER\",\"created_at\":0,\"metadata\":{\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1,\"total_tokens\":10}}}\n\n",
            "",
        ],
    );
    assert_eq!(
        sent,
        "data: {\"id\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"U\"},\"finish_reason\":null,\"logprobs\":null}],\"created\":10,\"model\":\"dify\",\"object\":\"chat.completion.chunk\",\"usage\":null}\n\n\
data: {\"id\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"USER\"},\"finish_reason\":\"stop\",\"logprobs\":null}],\"model\":\"dify\",\"object\":\"chat.completion.chunk\",\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1,\"total_tokens\":10}}\n\n"
    );
}

#[test]
fn unknown_paths_keep_path_and_body() {
    let ai = plugin(json!({"provider": {"type": "qwen", "apiTokens": ["t"]}}));
    let request = parts("POST", "/other/thing", JSON_HEADERS);
    let view = RequestView { parts: &request, host: "h", scheme: "http", client_ip: None };
    let mut edits = RequestEdits::default();
    let mut exchange = ai.exchange().unwrap();
    exchange.on_request_headers(&view, &mut edits);
    assert!(edits.skip_body);
    assert_eq!(edits.path_and_query, None);
    assert!(exchange.llm_usage().is_none(), "not an LLM API");
}

#[test]
fn a_body_that_is_not_text_is_sent_as_it_came() {
    let ai = plugin(json!({"provider": {"type": "openai", "apiTokens": ["t"]}}));
    let mut exchange = ai.exchange().unwrap();
    let request = parts("POST", "/v1/images/edits", &[("host", "h"), ("content-type", "multipart/form-data; boundary=x"), ("content-length", "4")]);
    let view = RequestView { parts: &request, host: "h", scheme: "http", client_ip: None };
    let mut headers = RequestEdits::default();
    exchange.on_request_headers(&view, &mut headers);
    assert!(!headers.skip_body, "multipart is read for image edits");
    let mut edits = RequestEdits::default();
    assert_eq!(exchange.on_request_body(&view, &[0xff, 0xfe, 0x00, 0x01], &mut edits), Decision::Continue);
    assert!(edits.body.is_none());
}
