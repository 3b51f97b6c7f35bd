//! `failStrategy` in the request path: what happens when a plugin fails.
//!
//! Envoy documents it for Wasm (`PluginConfig.fail_open`): a fatal error of the plugin — a trap in a
//! hook, or `on_configure` returning false — fails the stream with 503 (`FAIL_CLOSE`, the default) or
//! bypasses the plugin (`FAIL_OPEN`). Native built-ins cannot trap, but they can panic (a bug), and a
//! configuration can be rejected with no last good version to keep. [`Guarded`] wraps every compiled
//! plugin: a panicking hook is caught, logged, and turned into the strategy's answer for that request
//! only (Envoy keeps a crashed VM failed until it is reloaded; we recover on the next request).
//! [`failed`] stands in for a plugin whose configuration failed.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use bytes::Bytes;

use crate::{Decision, DirectResponse, Exchange, LlmUsage, Plugin, RequestEdits, RequestView, ResponseEdits, ResponseView};

/// Envoy's answer for a failed stream (`wasm_fail_stream`): 503, empty body.
fn fail_stream() -> Decision {
    Decision::Respond(DirectResponse { status: 503, headers: Vec::new(), body: Bytes::new() })
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// A plugin run under its `failStrategy`: a panic in any hook is caught and logged; with `fail_open` the
/// plugin is bypassed for that request (its edits dropped), otherwise the request is answered 503 (in a
/// response hook: the response becomes a 503 while its headers can still change).
pub struct Guarded {
    inner: Arc<dyn Plugin>,
    strategy: Strategy,
}

impl Guarded {
    /// Wraps `inner`, the plugin `id` (`ns/name` of its WasmPlugin).
    pub fn wrap(inner: Arc<dyn Plugin>, id: &str, fail_open: bool) -> Arc<dyn Plugin> {
        let strategy = Strategy { id: id.into(), name: inner.name().into(), fail_open };
        Arc::new(Self { inner, strategy })
    }
}

/// What a caught panic turns into, shared by [`Guarded`] and [`GuardedExchange`].
#[derive(Clone)]
struct Strategy {
    id: Arc<str>,
    name: Arc<str>,
    fail_open: bool,
}

impl Strategy {
    fn log(&self, hook: &str, payload: &(dyn Any + Send)) {
        let strategy = if self.fail_open { "FAIL_OPEN: bypassed" } else { "FAIL_CLOSE: request failed with 503" };
        tracing::error!(plugin = %self.id, builtin = %self.name, hook, "plugin panicked: {}; {strategy}", panic_message(payload));
    }

    fn request<F: FnOnce(&mut RequestEdits) -> Decision>(&self, hook: &str, edits: &mut RequestEdits, run: F) -> Decision {
        match catch_unwind(AssertUnwindSafe(|| run(edits))) {
            Ok(decision) => decision,
            Err(payload) => {
                self.log(hook, payload.as_ref());
                *edits = RequestEdits::default();
                if self.fail_open {
                    Decision::Continue
                } else {
                    fail_stream()
                }
            }
        }
    }

    fn response_headers<F: FnOnce(&mut ResponseEdits)>(&self, edits: &mut ResponseEdits, run: F) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| run(edits))) {
            self.log("on_response_headers", payload.as_ref());
            *edits = ResponseEdits::default();
            if !self.fail_open {
                edits.status = Some(503);
                edits.body = Some(Bytes::new());
            }
        }
    }

    /// A body hook: on a panic the body passes unchanged (its headers are gone already).
    fn body<T, F: FnOnce() -> T>(&self, hook: &str, fallback: impl FnOnce() -> T, run: F) -> T {
        catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(|payload| {
            self.log(hook, payload.as_ref());
            fallback()
        })
    }
}

impl Plugin for Guarded {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn on_request_headers(&self, request: &RequestView<'_>, edits: &mut RequestEdits) -> Decision {
        self.strategy.request("on_request_headers", edits, |e| self.inner.on_request_headers(request, e))
    }

    fn needs_request_body(&self) -> bool {
        self.inner.needs_request_body()
    }

    fn request_body_limit(&self) -> Option<usize> {
        self.inner.request_body_limit()
    }

    fn on_request_body(&self, request: &RequestView<'_>, body: &[u8], edits: &mut RequestEdits) -> Decision {
        self.strategy.request("on_request_body", edits, |e| self.inner.on_request_body(request, body, e))
    }

    fn reroute(&self) -> bool {
        self.inner.reroute()
    }

    fn on_response_headers(&self, request: &RequestView<'_>, response: &ResponseView<'_>, edits: &mut ResponseEdits) {
        self.strategy.response_headers(edits, |e| self.inner.on_response_headers(request, response, e));
    }

    fn on_response_body(&self, request: &RequestView<'_>, response: &ResponseView<'_>, body: &[u8]) -> Option<Bytes> {
        self.strategy.body("on_response_body", || None, || self.inner.on_response_body(request, response, body))
    }

    fn exchange(&self) -> Option<Box<dyn Exchange>> {
        let inner = self.strategy.body("exchange", || None, || self.inner.exchange())?;
        Some(Box::new(GuardedExchange { inner, strategy: self.strategy.clone() }))
    }
}

/// An [`Exchange`] run under its plugin's `failStrategy` (see [`Guarded`]).
struct GuardedExchange {
    inner: Box<dyn Exchange>,
    strategy: Strategy,
}

impl Exchange for GuardedExchange {
    fn on_request_headers(&mut self, request: &RequestView<'_>, edits: &mut RequestEdits) -> Decision {
        let inner = &mut self.inner;
        self.strategy.request("on_request_headers", edits, |e| inner.on_request_headers(request, e))
    }

    fn on_request_body(&mut self, request: &RequestView<'_>, body: &[u8], edits: &mut RequestEdits) -> Decision {
        let inner = &mut self.inner;
        self.strategy.request("on_request_body", edits, |e| inner.on_request_body(request, body, e))
    }

    fn on_upstream_status(&mut self, status: u16, retry: &mut RequestEdits) -> bool {
        let inner = &mut self.inner;
        self.strategy.body("on_upstream_status", || false, || inner.on_upstream_status(status, retry))
    }

    fn on_response_headers(&mut self, request: &RequestView<'_>, response: &ResponseView<'_>, edits: &mut ResponseEdits) {
        let inner = &mut self.inner;
        self.strategy.response_headers(edits, |e| inner.on_response_headers(request, response, e));
    }

    fn on_response_chunk(&mut self, chunk: Bytes, end_of_stream: bool) -> Bytes {
        let inner = &mut self.inner;
        let fallback = chunk.clone();
        self.strategy.body("on_response_chunk", || fallback, || inner.on_response_chunk(chunk, end_of_stream))
    }

    fn error_response(&mut self, status: u16) -> Option<DirectResponse> {
        let inner = &mut self.inner;
        self.strategy.body("error_response", || None, || inner.error_response(status))
    }

    fn llm_usage(&self) -> Option<LlmUsage> {
        self.strategy.body("llm_usage", || None, || self.inner.llm_usage())
    }
}

/// The stand-in for built-in `name` when its configuration failed with no last good version: with
/// `fail_open` a plugin that does nothing (bypassed), else one that answers every request it applies to
/// with 503, as Envoy fails the streams of a Wasm plugin whose `on_configure` returned false.
pub fn failed(name: &str, fail_open: bool) -> Arc<dyn Plugin> {
    Arc::new(Failed { name: name.to_string(), fail_open })
}

struct Failed {
    name: String,
    fail_open: bool,
}

impl Plugin for Failed {
    fn name(&self) -> &str {
        &self.name
    }

    fn on_request_headers(&self, _request: &RequestView<'_>, _edits: &mut RequestEdits) -> Decision {
        if self.fail_open {
            Decision::Continue
        } else {
            fail_stream()
        }
    }
}

#[cfg(test)]
mod tests;
