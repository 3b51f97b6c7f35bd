//! ai-proxy end to end, against an in-process LLM provider stand-in ([`support::llm`]): streams pass chunk
//! by chunk (the provider holds its stream open until the client has the first event), requests are
//! rewritten for the provider (host, path, key, mapped model), tokens rotate and a failing one is taken out
//! and retried around, a bad configuration keeps the last good one, tokens never reach logs, metrics,
//! `/debug/config` or error bodies, and the seed scenario: prod's plugin proxies to the LLM, the test
//! instance in the same namespace does not.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use support::llm::LlmMock;
use support::*;

/// Every token of these tests carries one of these marks, so a log or page can be searched for all.
const MARKS: [&str; 2] = ["sk-oxi-", "bad-oxi-"];

/// The log lines of this test process (debug level, the product's caps applied).
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(oxigress_cli::logging::filter("debug"))
            .with_writer(move || Capture(sink.clone()))
            .try_init();
        buffer
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn start(dir: &std::path::Path, name: &str, class: &str) -> oxigress_cli::standalone::Instance {
    logs();
    instance(dir, name, class)
}

/// The ai-proxy WasmPlugin: one rule per `(ingress, provider JSON)`, labelled for `owner` when given.
fn ai_plugin(owner: Option<&str>, rules: &[(&str, &str)]) -> String {
    let labels = owner.map(|o| format!("  labels: {{oxigress.io/instance: {o}}}\n")).unwrap_or_default();
    let rules: String = rules.iter().map(|(ingress, provider)| format!("  - ingress: [{ingress}]\n    config: {{\"provider\": {provider}}}\n")).collect();
    format!(
        "apiVersion: extensions.higress.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: ai-proxy\n  namespace: higress-system\n{labels}\
spec:\n  url: oci://higress-registry.cn-hangzhou.cr.aliyuncs.com/plugins/ai-proxy:1.0.0\n  defaultConfigDisable: true\n  matchRules:\n{rules}"
    )
}

const QWEN: &str = r#"{"type": "qwen", "apiTokens": ["sk-oxi-qwen-1"], "modelMapping": {"gpt-3": "qwen-turbo", "gpt-4-*": "qwen-max", "*": "qwen-plus"}}"#;

fn chat(model: &str, stream: bool) -> String {
    format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}],"stream":{stream}}}"#)
}

/// A folder with class `higress-prod`, the provider as Service `apps/llm`, Ingress `apps/llm` for
/// `llm.example.com` and the plugin.
fn prod_folder(mock: SocketAddr, plugin: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "classes.yaml", &[ingress_class("higress-prod"), ingress_class("higress-test")].join("---\n"));
    write(dir.path(), "services.yaml", &service("llm", mock));
    write(dir.path(), "ingresses.yaml", &ingress("llm", "higress-prod", "llm.example.com", &["/"], "llm"));
    write(dir.path(), "ai-proxy.yaml", plugin);
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn streams_pass_chunk_by_chunk_and_requests_are_rewritten() {
    let mock = LlmMock::start().await;
    let dir = prod_folder(mock.addr, &ai_plugin(None, &[("apps/llm", QWEN)]));
    let prod = start(dir.path(), "higress-prod", "higress-prod");
    let http = prod.http_addr().unwrap();

    // Streaming: the first event reaches the client while the provider still holds the stream open.
    let release = mock.releaser();
    let (answer, first) = tokio::task::spawn_blocking(move || {
        post_streaming(http, "llm.example.com", "/v1/chat/completions", &chat("gpt-4-turbo", true), move || release.notify_one())
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.headers.to_ascii_lowercase().contains("content-type: text/event-stream"), "{}", answer.headers);
    assert!(first.contains("\"Hel\"") && !first.contains("\"lo\""), "first part seen by the client: {first}");
    assert!(answer.body.starts_with("data: {\"id\":\"c1\"") && answer.body.ends_with("data: [DONE]\n\n"), "{}", answer.body);
    assert!(answer.body.contains("\"lo\"") && answer.body.contains("\"prompt_tokens\":7"), "{}", answer.body);

    // What the provider got: its own host, path and key, the mapped model, usage asked for.
    let seen = mock.seen();
    let upstream = seen.last().unwrap();
    assert_eq!(upstream.path, "/compatible-mode/v1/chat/completions");
    assert_eq!(upstream.header("host"), Some("dashscope.aliyuncs.com"));
    assert_eq!(upstream.header("authorization"), Some("Bearer sk-oxi-qwen-1"));
    assert_eq!(upstream.header("x-envoy-original-path"), Some("/v1/chat/completions"));
    assert_eq!(upstream.header("x-envoy-original-host"), Some("llm.example.com"));
    assert_eq!(upstream.json()["model"], "qwen-max", "prefix mapping gpt-4-*");
    assert_eq!(upstream.json()["stream_options"]["include_usage"], true);

    // Not streaming; exact and default mappings.
    for (model, mapped) in [("gpt-3", "qwen-turbo"), ("llama", "qwen-plus")] {
        let answer = post_async(http, "llm.example.com", "/v1/chat/completions", &chat(model, false), &[]).await.unwrap();
        assert_eq!(answer.status, 200, "{answer:?}");
        let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["model"], mapped);
        assert_eq!(mock.seen().last().unwrap().json()["model"], mapped);
    }

    let metrics = get_async(prod.admin_addr().unwrap(), "admin", "/metrics").await.unwrap().body;
    for line in [
        "oxigress_ai_requests_total{instance=\"higress-prod\",route=\"apps/llm\",code=\"2xx\"} 3",
        "oxigress_ai_tokens_total{instance=\"higress-prod\",route=\"apps/llm\",kind=\"prompt\"} 25",
        "oxigress_ai_tokens_total{instance=\"higress-prod\",route=\"apps/llm\",kind=\"completion\"} 4",
        "oxigress_ai_time_to_first_token_seconds_count{instance=\"higress-prod\",route=\"apps/llm\"} 3",
        "oxigress_ai_request_duration_seconds_count{instance=\"higress-prod\",route=\"apps/llm\"} 3",
    ] {
        assert!(metrics.contains(line), "{line} missing in\n{metrics}");
    }
    prod.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokens_rotate_and_a_failing_one_is_retried_around_and_taken_out() {
    let mock = LlmMock::start().await;
    let provider = r#"{"type": "openai", "apiTokens": ["sk-oxi-a", "bad-oxi-b", "sk-oxi-c"],
        "failover": {"enabled": true, "failureThreshold": 1, "healthCheckModel": "gpt-3", "healthCheckInterval": 600000},
        "retryOnFailure": {"enabled": true}}"#;
    let dir = prod_folder(mock.addr, &ai_plugin(None, &[("apps/llm", provider)]));
    let prod = start(dir.path(), "higress-prod", "higress-prod");
    let http = prod.http_addr().unwrap();
    for _ in 0..6 {
        let answer = post_async(http, "llm.example.com", "/v1/chat/completions", &chat("gpt-3", false), &[]).await.unwrap();
        assert_eq!(answer.status, 200, "every request succeeds, retried with another token if needed: {answer:?}");
    }
    let keys: Vec<String> = mock.seen().iter().map(|s| s.header("authorization").unwrap_or_default().to_string()).collect();
    assert_eq!(keys.len(), 7, "six requests and one retry: {keys:?}");
    assert_eq!(keys.iter().filter(|k| k.as_str() == "Bearer bad-oxi-b").count(), 1, "taken out after its 401: {keys:?}");
    for good in ["Bearer sk-oxi-a", "Bearer sk-oxi-c"] {
        assert!(keys.iter().filter(|k| *k == good).count() >= 2, "the good tokens take turns: {keys:?}");
    }
    prod.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bad_configuration_is_a_diagnostic_and_the_last_good_one_stays() {
    let mock = LlmMock::start().await;
    let dir = prod_folder(mock.addr, &ai_plugin(None, &[("apps/llm", QWEN)]));
    let prod = start(dir.path(), "higress-prod", "higress-prod");
    let (http, admin) = (prod.http_addr().unwrap(), prod.admin_addr().unwrap());
    assert_eq!(post_async(http, "llm.example.com", "/v1/chat/completions", &chat("gpt-3", false), &[]).await.unwrap().status, 200);

    let broken = r#"{"type": "qwen", "apiTokens": ["sk-oxi-qwen-2"], "protocol": "grpc"}"#;
    write(dir.path(), "ai-proxy.yaml", &ai_plugin(None, &[("apps/llm", broken)]));
    eventually("a diagnostic naming the field", || {
        get(admin, "admin", "/debug/diagnostics").is_ok_and(|r| r.body.contains("spec.matchRules[0].config.provider.protocol"))
    })
    .await;
    let diagnostics = get_async(admin, "admin", "/debug/diagnostics").await.unwrap().body;
    assert!(!MARKS.iter().any(|m| diagnostics.contains(m)), "{diagnostics}");
    let answer = post_async(http, "llm.example.com", "/v1/chat/completions", &chat("gpt-3", false), &[]).await.unwrap();
    assert_eq!(answer.status, 200);
    let upstream = mock.seen().last().unwrap().clone();
    assert_eq!(upstream.header("authorization"), Some("Bearer sk-oxi-qwen-1"), "the last good configuration");
    assert_eq!(upstream.path, "/compatible-mode/v1/chat/completions");
    prod.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokens_never_reach_logs_debug_config_metrics_or_error_bodies() {
    let mock = LlmMock::start().await;
    // A closed port: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let refused = r#"{"type": "deepseek", "apiTokens": ["sk-oxi-refused"]}"#;
    let rejected = r#"{"type": "openai", "apiTokens": ["bad-oxi-rejected"]}"#;
    let dir = prod_folder(mock.addr, &ai_plugin(None, &[("apps/llm", rejected), ("apps/down", refused)]));
    write(dir.path(), "down.yaml", &[service("down", closed), ingress("down", "higress-prod", "down.example.com", &["/"], "down")].join("---\n"));
    let prod = start(dir.path(), "higress-prod", "higress-prod");
    let (http, admin) = (prod.http_addr().unwrap(), prod.admin_addr().unwrap());

    // The provider refuses the key: its own answer comes back.
    let answer = post_async(http, "llm.example.com", "/v1/chat/completions", &chat("gpt-3", true), &[]).await.unwrap();
    assert_eq!(answer.status, 401, "{answer:?}");
    // Nothing listens: an OpenAI-style error.
    let answer = post_async(http, "down.example.com", "/v1/chat/completions", &chat("gpt-3", false), &[]).await.unwrap();
    assert_eq!(answer.status, 502, "{answer:?}");
    let error: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(error["error"]["type"], "upstream_error", "{}", answer.body);
    // A request the plugin refuses itself.
    let answer = post_async(http, "down.example.com", "/v1/embeddings", r#"{"model":"m","input":"x"}"#, &[]).await.unwrap();
    assert_eq!(answer.status, 400, "{answer:?}");
    for body in [&answer.body, &error.to_string()] {
        assert!(!MARKS.iter().any(|m| body.contains(m)), "{body}");
    }

    let config = get_async(admin, "admin", "/debug/config").await.unwrap().body;
    assert!(config.contains("\"<redacted>\""), "{config}");
    let metrics = get_async(admin, "admin", "/metrics").await.unwrap().body;
    assert!(metrics.contains("oxigress_ai_requests_total{instance=\"higress-prod\",route=\"apps/down\",code=\"5xx\"} 1"), "{metrics}");
    prod.shutdown(Duration::from_secs(5)).await;
    let logs = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    assert!(logs.contains("oxigress::access"), "the capture works: {logs}");
    for (what, text) in [("/debug/config", &config), ("/metrics", &metrics), ("logs", &logs)] {
        assert!(!MARKS.iter().any(|m| text.contains(m)), "a token in {what}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seed_scenario_prod_proxies_to_the_llm_and_test_does_not() {
    let mock = LlmMock::start().await;
    let dir = prod_folder(mock.addr, &ai_plugin(Some("higress-prod"), &[("apps/llm", QWEN), ("apps/llm-test", QWEN)]));
    write(dir.path(), "test.yaml", &ingress("llm-test", "higress-test", "llm.test.example.com", &["/"], "llm"));
    let prod = start(dir.path(), "higress-prod", "higress-prod");
    let test = start(dir.path(), "higress-test", "higress-test");

    let answer = post_async(prod.http_addr().unwrap(), "llm.example.com", "/v1/chat/completions", &chat("gpt-3", false), &[]).await.unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    let upstream = mock.seen().last().unwrap().clone();
    assert_eq!((upstream.header("host"), upstream.path.as_str()), (Some("dashscope.aliyuncs.com"), "/compatible-mode/v1/chat/completions"));
    assert_eq!(upstream.header("authorization"), Some("Bearer sk-oxi-qwen-1"));

    // The test instance shares the namespace but the plugin is prod's: the request goes out as sent.
    let answer = post_async(test.http_addr().unwrap(), "llm.test.example.com", "/v1/chat/completions", &chat("gpt-3", false), &[]).await.unwrap();
    assert_eq!(answer.status, 401, "no key was added: {answer:?}");
    let upstream = mock.seen().last().unwrap().clone();
    assert_eq!((upstream.header("host"), upstream.path.as_str()), (Some("llm.test.example.com"), "/v1/chat/completions"));
    assert_eq!(upstream.header("authorization"), None);
    assert_eq!(upstream.json()["model"], "gpt-3");
    let test_config = get_async(test.admin_addr().unwrap(), "admin", "/debug/config").await.unwrap().body;
    assert!(!test_config.contains("ai-proxy"), "{test_config}");
    prod.shutdown(Duration::from_secs(5)).await;
    test.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chat_bodies_above_the_gateway_buffer_limit_pass_as_in_higress() {
    // Higress's ai-proxy raises the body buffer limit for its requests (SetRequestBodyBufferLimit), so a
    // small downstream.connectionBufferLimits does not turn long prompts into 413s — nor does pingora's
    // 64 KiB retry buffer (sized per request here).
    let mock = LlmMock::start().await;
    let dir = prod_folder(mock.addr, &ai_plugin(None, &[("apps/llm", QWEN)]));
    let config = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: higress-prod-config, namespace: higress-system}\n\
data:\n  higress: |\n    downstream:\n      connectionBufferLimits: 1024\n";
    write(dir.path(), "config.yaml", config);
    let prod = start(dir.path(), "higress-prod", "higress-prod");
    let http = prod.http_addr().unwrap();

    let long = format!(r#"{{"model":"gpt-3","messages":[{{"role":"user","content":"{}"}}]}}"#, "a".repeat(300_000));
    let answer = post_async(http, "llm.example.com", "/v1/chat/completions", &long, &[]).await.unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    let seen = mock.seen();
    let content = seen.last().unwrap().json()["messages"][0]["content"].as_str().unwrap().len();
    assert_eq!(content, 300_000, "the whole prompt reached the provider");
    prod.shutdown(Duration::from_secs(5)).await;
}
