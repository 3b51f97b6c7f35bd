//! LLM request metrics (requests through an exchange that reports [`oxigress_plugins::LlmUsage`]): per route
//! requests by status class, prompt/completion tokens, duration and time to first token. A route's series
//! are created on its first LLM request (once; later requests only touch atomics).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::LatencyHistogram;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    route: String,
    /// `prompt` or `completion`.
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The metric families of an instance.
#[derive(Clone, Debug)]
pub struct AiMetrics {
    requests: Family<RequestLabels, Counter>,
    tokens: Family<TokenLabels, Counter>,
    duration: Family<RouteLabels, LatencyHistogram>,
    first_token: Family<RouteLabels, LatencyHistogram>,
}

impl AiMetrics {
    /// Creates the families and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            requests: Family::default(),
            tokens: Family::default(),
            duration: Family::default(),
            first_token: Family::default(),
        };
        registry.register("oxigress_ai_requests", "LLM requests (ai-proxy) by route and status class", metrics.requests.clone());
        registry.register("oxigress_ai_tokens", "LLM tokens by route and kind (prompt, completion), from the provider's usage", metrics.tokens.clone());
        registry.register("oxigress_ai_request_duration_seconds", "LLM request duration", metrics.duration.clone());
        registry.register("oxigress_ai_time_to_first_token_seconds", "Time from the request to the first answer byte sent to the client", metrics.first_token.clone());
        metrics
    }

    /// Removes every series of `route` (a route the live snapshot no longer has).
    pub fn remove_route(&self, route: &str) {
        let route = route.to_string();
        for code in CLASSES {
            self.requests.remove(&RequestLabels { route: route.clone(), code });
        }
        for kind in ["prompt", "completion"] {
            self.tokens.remove(&TokenLabels { route: route.clone(), kind });
        }
        let labels = RouteLabels { route };
        self.duration.remove(&labels);
        self.first_token.remove(&labels);
    }

    /// The series of one route.
    pub fn route(&self, route: &str) -> AiRouteMetrics {
        let by_class = CLASSES.map(|code| self.requests.get_or_create(&RequestLabels { route: route.into(), code }).clone());
        let tokens = |kind| self.tokens.get_or_create(&TokenLabels { route: route.into(), kind }).clone();
        AiRouteMetrics {
            by_class,
            prompt: tokens("prompt"),
            completion: tokens("completion"),
            duration: self.duration.get_or_create(&RouteLabels { route: route.into() }).clone(),
            first_token: self.first_token.get_or_create(&RouteLabels { route: route.into() }).clone(),
        }
    }
}

/// One route's series.
#[derive(Clone, Debug)]
pub struct AiRouteMetrics {
    by_class: [Counter; 5],
    prompt: Counter,
    completion: Counter,
    duration: LatencyHistogram,
    first_token: LatencyHistogram,
}

impl AiRouteMetrics {
    /// Records one finished LLM request.
    pub fn record(&self, status: u16, prompt_tokens: u64, completion_tokens: u64, duration: Duration, first_token: Option<Duration>) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.by_class[class].inc();
        self.prompt.inc_by(prompt_tokens);
        self.completion.inc_by(completion_tokens);
        self.duration.observe(duration);
        if let Some(first) = first_token {
            self.first_token.observe(first);
        }
    }
}

/// A route's series, created on first use.
#[derive(Debug)]
pub struct LazyAiMetrics {
    route: Arc<str>,
    family: AiMetrics,
    cell: OnceLock<AiRouteMetrics>,
}

impl LazyAiMetrics {
    /// The (not yet created) series of `route`.
    pub fn new(route: Arc<str>, family: AiMetrics) -> Self {
        Self { route, family, cell: OnceLock::new() }
    }

    /// The series, created now if needed.
    pub fn get(&self) -> &AiRouteMetrics {
        self.cell.get_or_init(|| self.family.route(&self.route))
    }
}
