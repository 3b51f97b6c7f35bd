//! A route's plugin chain: per plugin (in execution order) the configurations that may apply, checked in
//! `matchRules` order (first match wins), then the global configuration, as Higress's data plane does.

use std::sync::Arc;

use crate::{Decision, HostPattern, Plugin, RequestView};

/// One plugin on one route.
#[derive(Clone)]
pub struct ChainEntry {
    /// Rule configurations in rule order; a rule with host patterns applies only when one matches the
    /// request host, a rule without (matched by Ingress or Service at compile time) always applies.
    pub rules: Vec<(Vec<HostPattern>, Arc<dyn Plugin>)>,
    /// The global configuration, when enabled.
    pub default: Option<Arc<dyn Plugin>>,
}

impl ChainEntry {
    /// The instance that serves a request for `host`, if any.
    pub fn select(&self, host: &str) -> Option<&Arc<dyn Plugin>> {
        self.rules
            .iter()
            .find(|(hosts, _)| hosts.is_empty() || hosts.iter().any(|h| h.matches(host)))
            .map(|(_, plugin)| plugin)
            .or(self.default.as_ref())
    }
}

/// The plugins of one route, in execution order.
#[derive(Clone, Default)]
pub struct Chain {
    entries: Vec<ChainEntry>,
    needs_body: bool,
}

impl Chain {
    /// A chain of `entries`, run in the given order.
    pub fn new(entries: Vec<ChainEntry>) -> Self {
        let needs_body = entries
            .iter()
            .any(|e| e.rules.iter().map(|(_, p)| p).chain(e.default.iter()).any(|p| p.needs_request_body()));
        Self { entries, needs_body }
    }

    /// Whether the chain has no plugin (the request path skips it entirely).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether some plugin of the chain may need the request body.
    pub fn may_need_body(&self) -> bool {
        self.needs_body
    }

    /// The plugins that apply to a request for `host`, in order.
    pub fn select<'a>(&'a self, host: &'a str) -> impl Iterator<Item = &'a Arc<dyn Plugin>> + 'a {
        self.entries.iter().filter_map(move |e| e.select(host))
    }

    /// Runs every applicable plugin on the request headers until one responds.
    pub fn on_request_headers(&self, request: &RequestView<'_>) -> Decision {
        for plugin in self.select(request.host) {
            if let Decision::Respond(response) = plugin.on_request_headers(request) {
                return Decision::Respond(response);
            }
        }
        Decision::Continue
    }

    /// Whether the plugins that apply to `host` need the body.
    pub fn needs_body_for(&self, host: &str) -> bool {
        self.needs_body && self.select(host).any(|p| p.needs_request_body())
    }

    /// Runs every applicable plugin on the whole request body until one responds.
    pub fn on_request_body(&self, request: &RequestView<'_>, body: &[u8]) -> Decision {
        for plugin in self.select(request.host).filter(|p| p.needs_request_body()) {
            if let Decision::Respond(response) = plugin.on_request_body(request, body) {
                return Decision::Respond(response);
            }
        }
        Decision::Continue
    }
}

#[cfg(test)]
mod tests;
