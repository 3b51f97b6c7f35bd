use super::*;
use serde_json::json;

fn qwen(extra: Value) -> Qwen {
    let mut config = json!({"type": "qwen", "apiTokens": ["t"], "qwenEnableCompatible": false});
    if let (Value::Object(base), Value::Object(extra)) = (&mut config, extra) {
        base.extend(extra);
    }
    Qwen::build(ProviderConfig::from_json(&config, "provider").unwrap(), "provider").unwrap()
}

fn convert(stream: &mut QwenStream, call: &Call, input: &str) -> Vec<Value> {
    let out = String::from_utf8(stream.push(call, input.as_bytes(), false)).unwrap();
    out.split("\n\n").filter(|e| !e.is_empty()).map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap()).collect()
}

#[test]
fn native_request_shape() {
    let provider = qwen(json!({"qwenFileIds": ["f1", "f2"]}));
    let mut call = Call { api: Some(api::CHAT_COMPLETION), ..Call::default() };
    let mut up = Upstream::new("h", "/v1/chat/completions");
    let body = json!({
        "model": "qwen-long",
        "stream": true,
        "top_p": 1.5,
        "max_tokens": 5,
        "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": [{"type": "text", "text": "t"}, {"type": "image_url", "image_url": {"url": "u"}}]}]
    });
    let sent: Value = serde_json::from_str(&provider.native_chat(&mut call, &mut up, &body.to_string()).unwrap()).unwrap();
    assert!(call.streaming && call.incremental);
    assert_eq!(
        sent,
        json!({
            "model": "qwen-long",
            "input": {"messages": [
                {"role": "system", "content": "sys"},
                {"role": "system", "content": "fileid://f1,fileid://f2"},
                {"role": "user", "content": [{"text": "t"}, {"image": "u"}]}
            ]},
            "parameters": {"result_format": "message", "max_tokens": 5, "top_p": 0.999999, "incremental_output": true}
        })
    );
    let mut edits = crate::RequestEdits::default();
    up.apply("h", "/v1/chat/completions", &mut edits);
    assert!(edits.headers.set.contains(&("x-dashscope-sse".to_string(), "enable".to_string())));
}

#[test]
fn vl_models_use_the_multimodal_path() {
    let provider = qwen(json!({}));
    let mut call = Call { api: Some(api::CHAT_COMPLETION), ..Call::default() };
    let mut up = Upstream::new("h", "/x");
    provider.native_chat(&mut call, &mut up, r#"{"model":"qwen-vl-max","messages":[{"role":"user","content":"x"}]}"#).unwrap();
    assert_eq!(up.path, MULTIMODAL_PATH);
}

#[test]
fn incremental_stream_becomes_chunks_with_finish_and_usage() {
    let mut stream = QwenStream::default();
    let call = Call { final_model: "qwen-turbo".into(), incremental: true, ..Call::default() };
    let first = "event:result\n:HTTP_STATUS/200\ndata:{\"output\":{\"choices\":[{\"message\":{\"content\":\"你\",\"role\":\"assistant\"},\"finish_reason\":\"null\"}]},\"usage\":{\"total_tokens\":3,\"input_tokens\":2,\"output_tokens\":1},\"request_id\":\"r\"}\n\n";
    let events = convert(&mut stream, &call, first);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["choices"], json!([{"index": 0, "delta": {"role": "assistant", "content": "你"}, "finish_reason": null, "logprobs": null}]));
    assert_eq!(events[0]["object"], "chat.completion.chunk");
    assert_eq!(events[0]["model"], "qwen-turbo");
    assert_eq!(events[0]["id"], "r");
    let last = "event:result\ndata:{\"output\":{\"choices\":[{\"message\":{\"content\":\"好\",\"role\":\"assistant\"},\"finish_reason\":\"stop\"}]},\"usage\":{\"total_tokens\":4,\"input_tokens\":2,\"output_tokens\":2},\"request_id\":\"r\"}\n\n";
    let events = convert(&mut stream, &call, last);
    assert_eq!(events.len(), 3, "content, finish, usage");
    assert_eq!(events[1]["choices"], json!([{"index": 0, "delta": {}, "finish_reason": "stop", "logprobs": null}]));
    assert_eq!(events[2]["usage"], json!({"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}));
}

#[test]
fn whole_message_stream_sends_only_what_is_new() {
    let mut stream = QwenStream::default();
    let call = Call { final_model: "m".into(), incremental: false, ..Call::default() };
    let event = |text: &str| format!("data:{{\"output\":{{\"choices\":[{{\"message\":{{\"content\":\"{text}\",\"role\":\"assistant\"}},\"finish_reason\":\"null\"}}]}},\"request_id\":\"r\"}}\n\n");
    assert_eq!(convert(&mut stream, &call, &event("Hel"))[0]["choices"][0]["delta"]["content"], "Hel");
    assert_eq!(convert(&mut stream, &call, &event("Hello"))[0]["choices"][0]["delta"]["content"], "lo");
}

#[test]
fn reasoning_concat_wraps_thinking() {
    let mut stream = QwenStream { reasoning: ReasoningMode::Concat, ..QwenStream::default() };
    let call = Call { incremental: true, ..Call::default() };
    let event = |content: &str, reasoning: &str| {
        format!("data:{{\"output\":{{\"choices\":[{{\"message\":{{\"content\":\"{content}\",\"reasoning_content\":\"{reasoning}\",\"role\":\"assistant\"}},\"finish_reason\":\"null\"}}]}}}}\n\n")
    };
    assert_eq!(convert(&mut stream, &call, &event("", "think"))[0]["choices"][0]["delta"]["content"], "<think>think\n");
    assert_eq!(convert(&mut stream, &call, &event("answer", ""))[0]["choices"][0]["delta"]["content"], "</think>\nanswer");
    let non_streaming = to_chat_message(&json!({"role": "assistant", "content": "a", "reasoning_content": "r"}), ReasoningMode::Concat);
    assert_eq!(non_streaming.content, Some(json!("<think>r</think>\na")));
}

#[test]
fn embeddings_round_trip() {
    let provider = qwen(json!({"modelMapping": {"*": "text-embedding-v1"}}));
    let mut call = Call { api: Some(api::EMBEDDINGS), ..Call::default() };
    let sent = provider.native_embeddings(&mut call, r#"{"model":"ada","input":["a","b"]}"#).unwrap();
    assert_eq!(sent, r#"{"model":"text-embedding-v1","input":{"texts":["a","b"]},"parameters":{}}"#);
    let answer = br#"{"output":{"embeddings":[{"text_index":0,"embedding":[0.1]},{"text_index":1,"embedding":[0.2]}]},"usage":{"total_tokens":4},"request_id":"r"}"#;
    let out: Value = serde_json::from_slice(&provider.convert_body(&call, answer).unwrap()).unwrap();
    assert_eq!(
        out,
        json!({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.1]}, {"object": "embedding", "index": 1, "embedding": [0.2]}], "model": "text-embedding-v1", "usage": {"prompt_tokens": 4, "total_tokens": 4}})
    );
}
