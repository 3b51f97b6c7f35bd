//! # oxigress-plugins: step (7) of the data flow, the plugin chain a request passes before its upstream.
//!
//! A [`Plugin`] looks at a request and decides: [`Decision::Continue`] or [`Decision::Respond`] (answer
//! directly, e.g. `request-block`'s 403). The proxy runs a route's [`Chain`] in order after route matching.
//! Built-in plugins and the WasmPlugin host (later issues) are implementations of the same trait; the
//! chain is compiled once per snapshot, so the request path only walks a slice.

use std::sync::Arc;

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

/// One plugin instance, configured for the routes it applies to.
pub trait Plugin: Send + Sync {
    /// The plugin's name (for logs and metrics).
    fn name(&self) -> &str;

    /// Runs on the request headers, before the upstream is chosen.
    fn on_request_headers(&self, request: &http::request::Parts) -> Decision;
}

/// The plugins of one route, in execution order.
#[derive(Clone, Default)]
pub struct Chain {
    plugins: Vec<Arc<dyn Plugin>>,
}

impl Chain {
    /// A chain of `plugins`, run in the given order.
    pub fn new(plugins: Vec<Arc<dyn Plugin>>) -> Self {
        Self { plugins }
    }

    /// Whether the chain has no plugin (the request path skips it entirely).
    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty()
    }

    /// Runs every plugin on the request headers until one responds.
    pub fn on_request_headers(&self, request: &http::request::Parts) -> Decision {
        for plugin in &self.plugins {
            if let Decision::Respond(response) = plugin.on_request_headers(request) {
                return Decision::Respond(response);
            }
        }
        Decision::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Block;
    impl Plugin for Block {
        fn name(&self) -> &str {
            "block"
        }
        fn on_request_headers(&self, request: &http::request::Parts) -> Decision {
            if request.uri.path().starts_with("/blocked") {
                Decision::Respond(DirectResponse { status: 403, headers: vec![], body: Bytes::from_static(b"blocked") })
            } else {
                Decision::Continue
            }
        }
    }

    #[test]
    fn first_respond_wins() {
        let chain = Chain::new(vec![Arc::new(Block)]);
        let (blocked, _) = http::Request::get("/blocked/x").body(()).unwrap().into_parts();
        let (open, _) = http::Request::get("/open").body(()).unwrap().into_parts();
        assert!(matches!(chain.on_request_headers(&blocked), Decision::Respond(r) if r.status == 403));
        assert_eq!(chain.on_request_headers(&open), Decision::Continue);
        assert!(Chain::default().is_empty());
    }
}
