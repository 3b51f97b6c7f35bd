//! What every provider does, and the hooks through which a provider family differs (Higress's
//! `Provider` interfaces in provider/provider.go): the upstream request's host, path and credentials
//! (`TransformRequestHeaders`), the body (`OnRequestBody` → `handleRequestBody` → `TransformRequestBody`,
//! by default only the model mapped), and for a 200 answer a body converted back to OpenAI's format,
//! whole (`TransformResponseBody`) or event by event (`OnStreamingResponseBody`/`OnStreamingEvent`).

use bytes::Bytes;
use serde_json::Value;

use super::api::{self, ApiName, Capabilities};
use super::config::{BasePathHandling, ProviderConfig};
use super::json;
use crate::{DirectResponse, RequestView};

/// What one request has told the provider hooks so far (Higress keeps these in the HTTP context).
#[derive(Debug, Clone, Default)]
pub(crate) struct Call {
    /// The API of the request path, if known.
    pub api: Option<ApiName>,
    /// The API token in use (`""` when the provider has none).
    pub token: String,
    /// The request target as the client sent it (path and query).
    pub original_path: String,
    /// `stream: true` in a chat request.
    pub streaming: bool,
    /// The model the client asked for.
    pub original_model: String,
    /// The model sent upstream.
    pub final_model: String,
    /// qwen: `incremental_output` was asked for.
    pub incremental: bool,
}

/// The upstream request being planned: its authority and target, and header changes (lower-case names;
/// the last change of a name wins).
#[derive(Debug, Clone, Default)]
pub(crate) struct Upstream {
    /// `Host`.
    pub host: String,
    /// Path and query.
    pub path: String,
    headers: Vec<(String, Option<String>)>,
}

impl Upstream {
    /// A plan starting from `host` and `path`.
    pub(crate) fn new(host: impl Into<String>, path: impl Into<String>) -> Self {
        Self { host: host.into(), path: path.into(), headers: Vec::new() }
    }

    /// Sets header `name`.
    pub(crate) fn set(&mut self, name: &str, value: impl Into<String>) {
        let name = name.to_ascii_lowercase();
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, Some(value.into())));
    }

    /// Removes header `name`.
    pub(crate) fn remove(&mut self, name: &str) {
        let name = name.to_ascii_lowercase();
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, None));
    }

    /// Moves the planned changes into `edits` (host and path only when they differ from `host`/`path`).
    pub(crate) fn apply(self, host: &str, path: &str, edits: &mut crate::RequestEdits) {
        if self.host != host {
            edits.headers.set.push(("host".into(), self.host));
        }
        if self.path != path {
            edits.path_and_query = Some(self.path);
        }
        for (name, value) in self.headers {
            match value {
                Some(value) => edits.headers.set.push((name, value)),
                None => edits.headers.remove.push(name),
            }
        }
    }
}

/// An error answered to the client in OpenAI's format (Higress answers its plugin errors with a
/// `text/plain` 500; oxigress uses the status that fits and OpenAI's `{"error": {...}}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AiError {
    /// HTTP status.
    pub status: u16,
    /// OpenAI `type`.
    pub kind: &'static str,
    /// OpenAI `code`.
    pub code: &'static str,
    /// Human-readable; never carries a credential.
    pub message: String,
}

impl AiError {
    /// A client error (400 `invalid_request_error`).
    pub(crate) fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self { status: 400, kind: "invalid_request_error", code, message: message.into() }
    }

    /// The API is not offered by this provider.
    pub(crate) fn unsupported(api: Option<ApiName>, provider: &str) -> Self {
        Self::invalid("unsupported_api", format!("unsupported API name {} for provider {provider}", api.unwrap_or("(unknown)")))
    }

    /// The answer.
    pub(crate) fn response(&self) -> DirectResponse {
        let body = ErrorBody { error: ErrorDetail { message: &self.message, kind: self.kind, param: None, code: self.code } };
        DirectResponse {
            status: self.status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from(json::go_marshal(&body)),
        }
    }
}

/// OpenAI's error envelope.
#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

/// OpenAI's error object, in its field order.
#[derive(serde::Serialize)]
struct ErrorDetail<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<()>,
    code: &'a str,
}

/// What a provider's body hook decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Body {
    /// Send the client's body unchanged.
    Keep,
    /// Send this body.
    Replace(Vec<u8>),
}

/// Converts an SSE response chunk by chunk.
pub(crate) trait StreamConverter: Send + Sync {
    /// The converted output for `chunk` (`end` on the last call).
    fn push(&mut self, call: &Call, chunk: &[u8], end: bool) -> Vec<u8>;
}

/// One provider family.
pub(crate) trait Provider: Send + Sync + std::fmt::Debug {
    /// Higress's provider type (`qwen`).
    fn kind(&self) -> &'static str;

    /// The provider's configuration.
    fn config(&self) -> &ProviderConfig;

    /// API name → upstream path (the provider's defaults plus the configured `capabilities`).
    fn capabilities(&self) -> &Capabilities;

    /// The API of `path` under `protocol: original` (Higress `GetApiName`); providers without one keep
    /// the generic answer.
    fn original_api_name(&self, _path: &str, generic: Option<ApiName>) -> Option<ApiName> {
        generic
    }

    /// Whether the request body is read at all (Higress `DontReadRequestBody` in `OnRequestHeaders`).
    fn reads_body(&self, _call: &Call) -> bool {
        true
    }

    /// The credential headers for `token`.
    fn credentials(&self, token: &str) -> Vec<(&'static str, String)> {
        vec![("authorization", format!("Bearer {token}"))]
    }

    /// Host, path and credentials of the upstream request (Higress `TransformRequestHeaders`).
    fn request_headers(&self, call: &mut Call, up: &mut Upstream, request: &RequestView<'_>);

    /// The request body (Higress `OnRequestBody`); by default: unsupported APIs are refused, others go
    /// through [`handle_request_body`].
    fn request_body(&self, call: &mut Call, up: &mut Upstream, request: &RequestView<'_>, body: &[u8]) -> Result<Body, AiError> {
        if !self.supports(call.api) {
            return Err(AiError::unsupported(call.api, self.kind()));
        }
        handle_request_body(self, call, up, request, body)
    }

    /// The body conversion inside [`handle_request_body`] (Higress `TransformRequestBody[Headers]`); by
    /// default the model is mapped.
    fn transform_body(&self, call: &mut Call, up: &mut Upstream, _request: &RequestView<'_>, body: &str) -> Result<String, AiError> {
        default_transform(self.config(), call, up, body)
    }

    /// Whether a 200 answer to `call` is converted to OpenAI's format.
    fn converts_response(&self, _call: &Call) -> bool {
        false
    }

    /// Converts a whole (non-SSE) answer.
    fn convert_body(&self, _call: &Call, body: &[u8]) -> Result<Vec<u8>, String> {
        Ok(body.to_vec())
    }

    /// A converter for an SSE answer (`None`: passed through).
    fn stream_converter(&self, _call: &Call) -> Option<Box<dyn StreamConverter>> {
        None
    }

    /// Whether `api` is one of the provider's capabilities.
    fn supports(&self, api: Option<ApiName>) -> bool {
        api.is_some_and(|api| self.capabilities().contains_key(api))
    }
}

/// The path `call.api` maps to by the provider's capabilities, for the original request target.
pub(crate) fn capability_path(provider: &(impl Provider + ?Sized), call: &Call) -> Option<String> {
    api::map_path(call.api?, &call.original_path, provider.capabilities())
}

/// Sets the path by capability when the provider has one for the API.
pub(crate) fn set_capability_path(provider: &(impl Provider + ?Sized), call: &Call, up: &mut Upstream) {
    if let Some(path) = capability_path(provider, call) {
        up.path = path;
    }
}

/// Higress `handleRequestHeaders`: `basePath` (remove or prepend), the provider's own rewrite,
/// `providerBasePath`, `providerDomain`.
pub(crate) fn handle_request_headers(provider: &dyn Provider, call: &mut Call, up: &mut Upstream, request: &RequestView<'_>) {
    let config = provider.config();
    let mut removed = None;
    if let Some((base, BasePathHandling::RemovePrefix)) = &config.base_path {
        let path = up.path.strip_prefix(base.as_str()).unwrap_or(&up.path).to_string();
        up.path = path.clone();
        removed = Some(path);
    }
    provider.request_headers(call, up, request);
    if let (true, Some(path)) = (config.is_original(), removed) {
        if !path.is_empty() {
            up.path = path;
        }
    }
    if let Some((base, BasePathHandling::Prepend)) = &config.base_path {
        if !up.path.starts_with(base.as_str()) {
            up.path = join_path(base, &up.path);
        }
    }
    apply_provider_base_path(config, up);
    if !config.provider_domain.is_empty() {
        up.host = config.provider_domain.clone();
    }
}

/// `providerBasePath` in front of the path (once).
pub(crate) fn apply_provider_base_path(config: &ProviderConfig, up: &mut Upstream) {
    if !config.provider_base_path.is_empty() && !up.path.starts_with(config.provider_base_path.as_str()) {
        up.path = format!("{}{}", config.provider_base_path, up.path);
    }
}

/// Go `path.Join` for two absolute-ish parts (no `..` handling needed here).
pub(crate) fn join_path(base: &str, rest: &str) -> String {
    let joined = format!("{}/{}", base.trim_end_matches('/'), rest.trim_start_matches('/'));
    let mut out = String::with_capacity(joined.len());
    for c in joined.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    if out.len() > 1 && out.ends_with('/') && !rest.ends_with('/') {
        out.pop();
    }
    out
}

/// Whether `api` streams for this body (Higress `isStreamingAPI`).
fn is_streaming_api(api: Option<ApiName>, body: &str) -> bool {
    match api {
        Some(api::GEMINI_STREAM_GENERATE_CONTENT) => true,
        Some(
            api::COMPLETION
            | api::CHAT_COMPLETION
            | api::IMAGE_GENERATION
            | api::IMAGE_EDIT
            | api::RESPONSES
            | api::QWEN_ASYNC_AIGC
            | api::ANTHROPIC_MESSAGES
            | api::ANTHROPIC_COMPLETE,
        ) => json::get_raw(body, &["stream"]) == Some("true"),
        _ => false,
    }
}

/// Higress `handleRequestBody`: the first-byte-timeout header, nothing more under `protocol: original`,
/// then context cleanup, merged messages, `developer` → `system` (all but azure), and the provider's
/// conversion.
pub(crate) fn handle_request_body(
    provider: &(impl Provider + ?Sized),
    call: &mut Call,
    up: &mut Upstream,
    request: &RequestView<'_>,
    body: &[u8],
) -> Result<Body, AiError> {
    let config = provider.config();
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(AiError::invalid("invalid_body", "the request body is not UTF-8 JSON"));
    };
    if config.first_byte_timeout_ms != 0 && is_streaming_api(call.api, text) {
        up.set("x-envoy-upstream-rq-first-byte-timeout-ms", config.first_byte_timeout_ms.to_string());
    }
    if config.is_original() {
        return Ok(Body::Keep);
    }
    let mut text = text.to_string();
    if call.api == Some(api::CHAT_COMPLETION) {
        text = rewrite_messages(&text, config, provider.kind() != "azure");
    }
    provider.transform_body(call, up, request, &text).map(|b| Body::Replace(b.into_bytes()))
}

/// Context cleanup, merging and role conversion of chat messages (only when something changes, the
/// body is re-serialised).
fn rewrite_messages(text: &str, config: &ProviderConfig, developer_to_system: bool) -> String {
    let Ok(mut request) = serde_json::from_str::<Value>(text) else {
        return text.to_string();
    };
    let Some(Value::Array(messages)) = request.get_mut("messages") else {
        return text.to_string();
    };
    let mut changed = false;
    if !config.context_cleanup_commands.is_empty() {
        let cut = messages.iter().rposition(|m| {
            m.get("role").and_then(Value::as_str) == Some("user")
                && config.context_cleanup_commands.iter().any(|c| *c == super::openai::string_content(m))
        });
        if let Some(cut) = cut {
            let kept: Vec<Value> = messages[..cut]
                .iter()
                .filter(|m| m.get("role").and_then(Value::as_str) == Some("system"))
                .chain(messages[cut + 1..].iter())
                .cloned()
                .collect();
            *messages = kept;
            changed = true;
        }
    }
    if config.merge_consecutive_messages {
        let mut merged: Vec<Value> = Vec::with_capacity(messages.len());
        for message in messages.drain(..) {
            let role = message.get("role").and_then(Value::as_str).unwrap_or_default().to_string();
            let mergeable = matches!(role.as_str(), "user" | "assistant") && message.get("content").is_some_and(Value::is_string);
            match merged.last_mut() {
                Some(last)
                    if mergeable
                        && last.get("role").and_then(Value::as_str) == Some(role.as_str())
                        && last.get("content").is_some_and(Value::is_string) =>
                {
                    let joined = format!(
                        "{}\n\n{}",
                        last.get("content").and_then(Value::as_str).unwrap_or_default(),
                        message.get("content").and_then(Value::as_str).unwrap_or_default()
                    );
                    last["content"] = Value::String(joined);
                    changed = true;
                }
                _ => merged.push(message),
            }
        }
        *messages = merged;
    }
    if developer_to_system {
        for message in messages.iter_mut() {
            if message.get("role").and_then(Value::as_str) == Some("developer") {
                message["role"] = Value::String("system".into());
                changed = true;
            }
        }
    }
    if changed {
        String::from_utf8(json::go_marshal(&request)).unwrap_or_else(|_| text.to_string())
    } else {
        text.to_string()
    }
}

/// Higress `defaultTransformRequestBody`: the streaming flag (chat and video APIs: `Accept:
/// text/event-stream`), then `model` mapped in place.
pub(crate) fn default_transform(config: &ProviderConfig, call: &mut Call, up: &mut Upstream, body: &str) -> Result<String, AiError> {
    if matches!(call.api, Some(api::CHAT_COMPLETION | api::VIDEOS | api::VIDEO_REMIX)) {
        call.streaming = json::get_raw(body, &["stream"]) == Some("true");
        if call.streaming {
            up.set("accept", "text/event-stream");
        }
    }
    let model = json::get_raw(body, &["model"]).and_then(|raw| serde_json::from_str::<Value>(raw).ok());
    let model = match model {
        Some(Value::String(s)) => s,
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    call.original_model = model.clone();
    call.final_model = config.model_mapping.map(&model);
    let raw = serde_json::to_string(&call.final_model).unwrap_or_default();
    json::set_raw(body, &["model"], &raw).ok_or_else(|| AiError::invalid("invalid_body", "the request body is not a JSON object"))
}

/// Parses a chat request and maps its model (Higress `parseRequestAndMapModel` for chat): needs
/// `messages` and a non-empty `model`; sets the streaming flag and `Accept: text/event-stream`.
pub(crate) fn parse_chat(config: &ProviderConfig, call: &mut Call, up: &mut Upstream, body: &str) -> Result<Value, AiError> {
    let request: Value = serde_json::from_str(body).map_err(|e| AiError::invalid("invalid_body", format!("unable to unmarshal request: {e}")))?;
    super::openai::messages(&request).map_err(|e| AiError::invalid("invalid_body", e))?;
    call.streaming = request.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if call.streaming {
        up.set("accept", "text/event-stream");
    }
    map_model(config, call, &request)?;
    Ok(request)
}

/// Higress `mapModel`: the request's `model` must be set and must not map to nothing.
pub(crate) fn map_model(config: &ProviderConfig, call: &mut Call, request: &Value) -> Result<(), AiError> {
    let model = request.get("model").and_then(Value::as_str).unwrap_or_default();
    if model.is_empty() {
        return Err(AiError::invalid("missing_model", "missing model in request"));
    }
    call.original_model = model.to_string();
    call.final_model = config.model_mapping.map(model);
    if call.final_model.is_empty() {
        return Err(AiError::invalid("missing_model", "model becomes empty after applying the configured mapping"));
    }
    Ok(())
}

/// The current time in seconds (Higress `time.Now().UnixMilli() / 1000`).
pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| i64::try_from(d.as_secs()).unwrap_or(0)).unwrap_or(0)
}

/// A request header's value.
pub(crate) fn header<'a>(request: &'a RequestView<'_>, name: &str) -> Option<&'a str> {
    request.parts.headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_paths_like_go() {
        assert_eq!(join_path("/api", "/v1/chat"), "/api/v1/chat");
        assert_eq!(join_path("/api/", "v1"), "/api/v1");
    }

    #[test]
    fn errors_are_openai_json() {
        let response = AiError::invalid("missing_model", "missing model in request").response();
        assert_eq!(response.status, 400);
        assert_eq!(
            std::str::from_utf8(&response.body).unwrap(),
            r#"{"error":{"message":"missing model in request","type":"invalid_request_error","param":null,"code":"missing_model"}}"#
        );
    }
}
