//! One request through ai-proxy (main.go `onHttpRequestHeader` … `onHttpResponseBody`): the API name from
//! the path, a token, the provider's host/path/credentials, the body converted, then for a 200 the answer
//! converted back (whole, or event by event for SSE), failover bookkeeping and a retry with another
//! token when `retryOnFailure` says so, and the usage for metrics.

use std::sync::Arc;

use bytes::Bytes;

use super::api::{self, ApiName};
use super::config::{status_matches, Protocol};
use super::json;
use super::provider::{handle_request_headers, header, AiError, Body, Call, Provider, StreamConverter, Upstream};
use super::tokens::TokenPool;
use super::usage::UsageReader;
use crate::{Decision, DirectResponse, Exchange, LlmUsage, RequestEdits, RequestView, ResponseEdits, ResponseView};

/// Largest answer held back to be converted whole; a larger one passes unconverted.
const MAX_BUFFERED_ANSWER: usize = 16 * 1024 * 1024;

/// What one plugin instance shares with its requests.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The active provider.
    pub provider: Box<dyn Provider>,
    /// Its tokens.
    pub tokens: TokenPool,
}

/// What happens to the answer's body.
enum Answer {
    /// Passed through (usage read on the way).
    Pass,
    /// Held back and converted at its end.
    Whole(Vec<u8>),
    /// Converted chunk by chunk.
    Stream(Box<dyn StreamConverter>),
}

/// One request.
pub(crate) struct AiExchange {
    shared: Arc<Shared>,
    call: Call,
    token: Option<usize>,
    tried: Vec<usize>,
    retries: u32,
    /// The upstream request's host and path as planned so far.
    host: String,
    path: String,
    /// The host and path the client sent.
    original_host: String,
    answer: Answer,
    usage: Option<UsageReader>,
    tokens: Option<(u64, u64)>,
}

impl AiExchange {
    /// A new request of `shared`'s provider.
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            call: Call::default(),
            token: None,
            tried: Vec::new(),
            retries: 0,
            host: String::new(),
            path: String::new(),
            original_host: String::new(),
            answer: Answer::Pass,
            usage: None,
            tokens: None,
        }
    }

    fn provider(&self) -> &dyn Provider {
        self.shared.provider.as_ref()
    }

    /// Applies a planned upstream request to `edits`, with Higress's `X-ENVOY-ORIGINAL-*` headers when
    /// host or path changed (main.go `saveContextsToHeaders`).
    fn plan(&mut self, up: Upstream, edits: &mut RequestEdits) {
        let (host, path) = (self.host.clone(), self.path.clone());
        if up.host != self.original_host && !self.original_host.is_empty() {
            edits.headers.set.push(("x-envoy-original-host".into(), self.original_host.clone()));
        }
        if up.path != self.call.original_path {
            edits.headers.set.push(("x-envoy-original-path".into(), self.call.original_path.clone()));
        }
        self.host = up.host.clone();
        self.path = up.path.clone();
        up.apply(&host, &path, edits);
    }
}

/// Whether the body of a request with `content_type` is processed (main.go
/// `isSupportedRequestContentType`).
fn supported_content_type(api: Option<ApiName>, content_type: &str) -> bool {
    if content_type.contains("application/json") {
        return true;
    }
    content_type.to_ascii_lowercase().starts_with("multipart/form-data") && matches!(api, Some(api::IMAGE_EDIT | api::IMAGE_VARIATION))
}

/// Whether the request has a body (`Content-Length` > 0 or `Transfer-Encoding`).
fn has_body(request: &RequestView<'_>) -> bool {
    header(request, "transfer-encoding").is_some() || header(request, "content-length").and_then(|l| l.trim().parse::<u64>().ok()).is_some_and(|l| l > 0)
}

/// `stream: true` gets `stream_options.include_usage: true` unless the client set it (main.go
/// `normalizeOpenAiRequestBody`).
fn include_usage(body: &str) -> String {
    if json::get_raw(body, &["stream"]) != Some("true") || json::get_raw(body, &["stream_options", "include_usage"]).is_some() {
        return body.to_string();
    }
    json::set_raw(body, &["stream_options", "include_usage"], "true").unwrap_or_else(|| body.to_string())
}

impl Exchange for AiExchange {
    fn on_request_headers(&mut self, request: &RequestView<'_>, edits: &mut RequestEdits) -> Decision {
        let target = request.parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        let (path, _) = api::split_query(&target);
        let config = self.provider().config();
        let mut api_name = api::api_name(path);
        if config.protocol == Protocol::Original {
            api_name = self.provider().original_api_name(path, api_name);
        }
        self.call.api = api_name;
        self.call.original_path = target.clone();
        let mut skip_body = header(request, "content-type").is_some_and(|ct| !ct.is_empty() && !supported_content_type(api_name, ct));
        if api_name.is_none() {
            skip_body = true;
        }
        // why: a compressed answer could not be converted (main.go always removes it).
        edits.headers.remove.push("accept-encoding".into());
        // Originals from the client are never trusted (main.go `initContext`).
        edits.headers.remove.extend(["x-envoy-original-host".to_string(), "x-envoy-original-path".to_string()]);
        if let Some(auth) = header(request, "authorization").filter(|a| !a.is_empty()) {
            if header(request, "x-hi-original-auth").is_none() {
                edits.headers.set.push(("x-hi-original-auth".into(), auth.to_string()));
            }
        }
        self.token = self.shared.tokens.pick();
        if let Some(token) = self.token {
            self.tried.push(token);
            self.call.token = self.shared.tokens.token(token).to_string();
        }
        self.original_host = request.authority();
        self.host = self.original_host.clone();
        self.path = target.clone();
        let mut up = Upstream::new(self.host.clone(), target);
        let shared = self.shared.clone();
        handle_request_headers(shared.provider.as_ref(), &mut self.call, &mut up, request);
        self.plan(up, edits);
        if !has_body(request) || !self.provider().reads_body(&self.call) {
            skip_body = true;
        }
        edits.skip_body = skip_body;
        Decision::Continue
    }

    fn on_request_body(&mut self, request: &RequestView<'_>, body: &[u8], edits: &mut RequestEdits) -> Decision {
        let config = self.provider().config();
        let Ok(text) = std::str::from_utf8(body) else {
            // Not JSON (e.g. a multipart image upload): sent as it came.
            return Decision::Continue;
        };
        let mut text = text.to_string();
        for setting in &config.custom_settings {
            let path: Vec<&str> = setting.path.iter().map(String::as_str).collect();
            if !setting.overwrite && json::get_raw(&text, &path).is_some() {
                continue;
            }
            match json::set_raw(&text, &path, &setting.raw) {
                Some(changed) => text = changed,
                None => break,
            }
        }
        if config.protocol == Protocol::OpenAi && config.kind != "generic" && matches!(self.call.api, Some(api::CHAT_COMPLETION | api::COMPLETION)) {
            text = include_usage(&text);
        }
        let mut up = Upstream::new(self.host.clone(), self.path.clone());
        let shared = self.shared.clone();
        let result = shared.provider.request_body(&mut self.call, &mut up, request, text.as_bytes());
        self.plan(up, edits);
        match result {
            Ok(Body::Keep) => Decision::Continue,
            Ok(Body::Replace(body)) => {
                edits.body = Some(Bytes::from(body));
                Decision::Continue
            }
            Err(error) => Decision::Respond(error.response()),
        }
    }

    fn on_upstream_status(&mut self, status: u16, retry: &mut RequestEdits) -> bool {
        let Some(token) = self.token else {
            return false;
        };
        self.shared.tokens.record(token, status);
        let Some(policy) = &self.provider().config().retry else {
            return false;
        };
        if status == 200 || self.retries >= policy.max_retries || !status_matches(&policy.on_status, status) {
            return false;
        }
        let Some(next) = self.shared.tokens.retry_candidates(token).into_iter().find(|t| !self.tried.contains(t)) else {
            return false;
        };
        self.retries += 1;
        self.tried.push(next);
        self.token = Some(next);
        self.call.token = self.shared.tokens.token(next).to_string();
        for (name, value) in self.provider().credentials(&self.call.token) {
            retry.headers.set.push((name.to_string(), value));
        }
        true
    }

    fn on_response_headers(&mut self, _request: &RequestView<'_>, response: &ResponseView<'_>, edits: &mut ResponseEdits) {
        if self.call.api.is_none() {
            return;
        }
        let content_type = response.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let converts = response.status == 200 && !self.provider().config().is_original() && self.provider().converts_response(&self.call);
        if converts {
            self.answer = if content_type.starts_with("text/event-stream") {
                match self.provider().stream_converter(&self.call) {
                    Some(converter) => Answer::Stream(converter),
                    None => Answer::Pass,
                }
            } else {
                Answer::Whole(Vec::new())
            };
        }
        let converted_type = match &self.answer {
            Answer::Whole(_) => "application/json",
            _ => content_type.as_str(),
        };
        if response.status == 200 {
            self.usage = Some(UsageReader::new(converted_type));
        }
        match self.answer {
            Answer::Pass => edits.inspect_body = self.usage.is_some(),
            _ => edits.stream_body = true,
        }
    }

    fn on_response_chunk(&mut self, chunk: Bytes, end_of_stream: bool) -> Bytes {
        let out = match &mut self.answer {
            Answer::Pass => chunk,
            Answer::Stream(converter) => Bytes::from(converter.push(&self.call, &chunk, end_of_stream)),
            Answer::Whole(held) => {
                held.extend_from_slice(&chunk);
                if held.len() > MAX_BUFFERED_ANSWER {
                    let held = std::mem::take(held);
                    self.answer = Answer::Pass;
                    self.usage = None;
                    Bytes::from(held)
                } else if end_of_stream {
                    let held = std::mem::take(held);
                    // why: the headers have left; an answer that does not convert goes out as it came.
                    Bytes::from(self.shared.provider.convert_body(&self.call, &held).unwrap_or(held))
                } else {
                    Bytes::new()
                }
            }
        };
        if let Some(reader) = &mut self.usage {
            if let Some(tokens) = reader.push(&out, end_of_stream) {
                self.tokens = Some(tokens);
            }
        }
        out
    }

    fn error_response(&mut self, status: u16) -> Option<DirectResponse> {
        let (kind, code, message) = match status {
            504 => ("upstream_error", "upstream_timeout", "the LLM service did not answer in time"),
            _ => ("upstream_error", "upstream_unavailable", "the LLM service could not be reached"),
        };
        Some(AiError { status, kind, code, message: message.into() }.response())
    }

    fn llm_usage(&self) -> Option<LlmUsage> {
        self.call.api?;
        let (prompt, completion) = self.tokens.unwrap_or((0, 0));
        Some(LlmUsage { provider: self.provider().kind(), prompt_tokens: prompt, completion_tokens: completion })
    }
}
