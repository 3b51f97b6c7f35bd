//! A route's plugin chain: per plugin (in execution order) the configurations that may apply, checked in
//! `matchRules` order (first match wins), then the global configuration, as Higress's data plane does.

use std::sync::Arc;

use crate::{HostPattern, Plugin};

/// One plugin on one route.
#[derive(Clone)]
pub struct ChainEntry {
    /// Index of the plugin in the snapshot's plugin list (for per-plugin metrics).
    pub index: usize,
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

/// The plugins of one route, in execution order. The proxy runs them one by one, applying each
/// plugin's edits before the next one sees the request.
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

    /// The plugins that apply to a request for `host`, in order, with their plugin index.
    pub fn select<'a>(&'a self, host: &'a str) -> impl Iterator<Item = (usize, &'a Arc<dyn Plugin>)> + 'a {
        self.entries.iter().filter_map(move |e| e.select(host).map(|p| (e.index, p)))
    }

    /// Whether the plugins that apply to `host` need the request body.
    pub fn needs_body_for(&self, host: &str) -> bool {
        self.needs_body && self.select(host).any(|(_, p)| p.needs_request_body())
    }
}

#[cfg(test)]
mod tests;
