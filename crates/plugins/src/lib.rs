//! # oxigress-plugins: step (7) of the data flow, the plugin chain a request passes before its upstream.
//!
//! A [`Plugin`] looks at a request and decides: [`Decision::Continue`] or [`Decision::Respond`] (answer
//! directly, e.g. `request-block`'s 403). Plugins are built from their JSON configuration once per snapshot
//! by the [`registry`] (which also validates configurations for the translator, so a bad one is a
//! diagnostic, not a request-time error). A route's [`Chain`] lists, per plugin in execution order, which
//! configuration applies (first matching rule, else the global one), as Higress's data plane does.
//!
//! A plugin instance is shared by every request; one that keeps per-request state (ai-proxy: the API token
//! in use, a stream converter) hands out an [`Exchange`] per request ([`Plugin::exchange`]), whose hooks the
//! proxy calls instead: besides the usual ones, a retry decision on the upstream's status, the upstream
//! body chunk by chunk as it arrives, an error body for an unreachable upstream and usage for metrics.

mod chain;
pub mod fail_strategy;
pub mod builtin;
mod host_pattern;
pub mod registry;

pub use chain::{Chain, ChainEntry};
pub use host_pattern::HostPattern;
pub use registry::ConfigError;

use bytes::Bytes;

/// What a plugin decided about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go on with the next plugin, then the upstream.
    Continue,
    /// Answer the client directly; later plugins and the upstream are skipped.
    Respond(DirectResponse),
}

/// A response produced by a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectResponse {
    /// Status code.
    pub status: u16,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Bytes,
}

/// The request as plugins see it.
pub struct RequestView<'a> {
    /// Method, URI (path and query as received), headers (with earlier plugins' edits applied).
    pub parts: &'a http::request::Parts,
    /// Host without port, lower case.
    pub host: &'a str,
    /// `http` or `https`.
    pub scheme: &'a str,
    /// The downstream peer's address.
    pub client_ip: Option<std::net::IpAddr>,
}

impl RequestView<'_> {
    /// `:authority` as Envoy has it: the `Host` header (with its port), else the URI authority, else the
    /// routing host.
    pub fn authority(&self) -> String {
        self.parts
            .headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
            .or_else(|| self.parts.uri.authority().map(|a| a.to_string()))
            .unwrap_or_else(|| self.host.to_string())
    }
}

/// The upstream response as plugins see it.
pub struct ResponseView<'a> {
    /// Status code.
    pub status: u16,
    /// Headers (with earlier plugins' edits applied).
    pub headers: &'a http::HeaderMap,
}

/// Header changes a plugin asks for; applied before the next plugin runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderEdits {
    /// Replace (or add) these headers.
    pub set: Vec<(String, String)>,
    /// Append these values.
    pub add: Vec<(String, String)>,
    /// Remove these headers.
    pub remove: Vec<String>,
}

impl HeaderEdits {
    /// Whether nothing is asked.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.add.is_empty() && self.remove.is_empty()
    }
}

/// Request changes a plugin asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestEdits {
    /// Header changes.
    pub headers: HeaderEdits,
    /// A new request target (path and query).
    pub path_and_query: Option<String>,
    /// A new request body (from [`Plugin::on_request_body`] only): later plugins see it, the proxy sends it
    /// upstream with a matching `Content-Length`.
    pub body: Option<Bytes>,
    /// This plugin does not need this request's body after all (the Wasm SDK's `DontReadRequestBody`):
    /// set in [`Plugin::on_request_headers`], its [`Plugin::on_request_body`] is skipped, and the body is
    /// not buffered when no other plugin needs it.
    pub skip_body: bool,
}

/// Response changes a plugin asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseEdits {
    /// Header changes.
    pub headers: HeaderEdits,
    /// A new status code.
    pub status: Option<u16>,
    /// A new body replacing the upstream's.
    pub body: Option<Bytes>,
    /// Ask for the whole upstream body: [`Plugin::on_response_body`] then runs on it (bounded). The
    /// proxy drops `Content-Length` (the body may change size after the headers left).
    pub read_body: bool,
    /// Ask for the upstream body chunk by chunk, as it arrives ([`Exchange::on_response_chunk`]; set by an
    /// exchange only). Nothing is held back by the proxy; `Content-Length` is dropped as for `read_body`.
    pub stream_body: bool,
    /// Ask to see each upstream body chunk, unchanged ([`Exchange::on_response_chunk`]'s result is
    /// ignored; set by an exchange only): the framing, `Content-Length` included, stays as it is.
    pub inspect_body: bool,
}

/// One plugin instance with one configuration. Every hook has a pass-through default.
pub trait Plugin: Send + Sync {
    /// The plugin's name (for logs and metrics).
    fn name(&self) -> &str;

    /// Runs on the request headers, before the upstream is chosen.
    fn on_request_headers(&self, _request: &RequestView<'_>, _edits: &mut RequestEdits) -> Decision {
        Decision::Continue
    }

    /// Whether [`Plugin::on_request_body`] needs the whole request body (it is then buffered, bounded).
    fn needs_request_body(&self) -> bool {
        false
    }

    /// The request body size this plugin buffers whatever the gateway's buffer limit (the gateway
    /// ConfigMap's `connectionBufferLimits`) says, as a Higress plugin calling `SetRequestBodyBufferLimit`
    /// (ai-proxy: 100 MiB); `None`: that limit applies. The proxy bounds every buffered body anyway.
    fn request_body_limit(&self) -> Option<usize> {
        None
    }

    /// Runs on the whole request body (only when [`Plugin::needs_request_body`]).
    fn on_request_body(&self, _request: &RequestView<'_>, _body: &[u8], _edits: &mut RequestEdits) -> Decision {
        Decision::Continue
    }

    /// Whether this plugin's request edits (headers or path) make the proxy choose the route again once
    /// the chain has run, as Envoy re-resolves the route after a Wasm plugin changed request headers unless
    /// the plugin called `DisableReroute`. Off unless a plugin opts in.
    fn reroute(&self) -> bool {
        false
    }

    /// Runs on the response headers — the upstream's, or a plugin's direct answer when this plugin's
    /// request hook ran — in the reverse order of the request hooks (Envoy's encoder filter order).
    fn on_response_headers(&self, _request: &RequestView<'_>, _response: &ResponseView<'_>, _edits: &mut ResponseEdits) {}

    /// Runs on the whole upstream body when this plugin set [`ResponseEdits::read_body`]; `response` has
    /// the headers as sent downstream. Returns a replacement body.
    fn on_response_body(&self, _request: &RequestView<'_>, _response: &ResponseView<'_>, _body: &[u8]) -> Option<Bytes> {
        None
    }

    /// A per-request [`Exchange`] for a plugin that keeps state from one hook to the next (the API token
    /// in use, a stream converter). Called once per request the plugin is selected for; when it returns
    /// one, the proxy calls the exchange's hooks **instead of** this plugin's request and response hooks.
    fn exchange(&self) -> Option<Box<dyn Exchange>> {
        None
    }
}

/// One request as a stateful plugin sees it, from the request headers to the access log: created by
/// [`Plugin::exchange`], dropped with the request. Hooks run in the same order and with the same
/// meaning as the [`Plugin`] hooks of the same name; the extra ones serve plugins that talk to an
/// upstream in another protocol (ai-proxy): retry with other credentials, a body converted chunk by
/// chunk, an error body in the upstream's protocol, usage for metrics.
pub trait Exchange: Send + Sync {
    /// As [`Plugin::on_request_headers`].
    fn on_request_headers(&mut self, _request: &RequestView<'_>, _edits: &mut RequestEdits) -> Decision {
        Decision::Continue
    }

    /// As [`Plugin::on_request_body`] (runs when the plugin's [`Plugin::needs_request_body`] says so and
    /// this exchange did not set [`RequestEdits::skip_body`]).
    fn on_request_body(&mut self, _request: &RequestView<'_>, _body: &[u8], _edits: &mut RequestEdits) -> Decision {
        Decision::Continue
    }

    /// The upstream answered `status` (before any response hook, nothing sent downstream yet). Returning
    /// `true` drops that answer and sends the request again, with `retry` applied to it first (e.g.
    /// another API token); the proxy replays the request body. Runs for every attempt.
    fn on_upstream_status(&mut self, _status: u16, _retry: &mut RequestEdits) -> bool {
        false
    }

    /// As [`Plugin::on_response_headers`].
    fn on_response_headers(&mut self, _request: &RequestView<'_>, _response: &ResponseView<'_>, _edits: &mut ResponseEdits) {}

    /// One chunk of the upstream body, as it arrives, when [`Exchange::on_response_headers`] set
    /// [`ResponseEdits::stream_body`] (or [`ResponseEdits::inspect_body`]); `end_of_stream` on the last
    /// call (its chunk may be empty). Returns what goes downstream in its place (possibly empty: held back
    /// until a later chunk); ignored when only inspecting.
    fn on_response_chunk(&mut self, chunk: Bytes, _end_of_stream: bool) -> Bytes {
        chunk
    }

    /// No upstream answer could be had (connect failure, timeout): the body and headers to answer the
    /// client with `status` instead of the proxy's empty one, e.g. an error in the upstream's protocol.
    fn error_response(&mut self, _status: u16) -> Option<DirectResponse> {
        None
    }

    /// What an LLM request used, for the instance's AI metrics; read once the request is over.
    fn llm_usage(&self) -> Option<LlmUsage> {
        None
    }
}

/// Usage of one LLM request (from the provider's `usage`), for metrics. Never carries credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LlmUsage {
    /// Provider type (`qwen`, `openai`, ...).
    pub provider: &'static str,
    /// Prompt (input) tokens.
    pub prompt_tokens: u64,
    /// Completion (output) tokens.
    pub completion_tokens: u64,
}
