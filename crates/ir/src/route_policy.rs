//! [`RoutePolicy`]: what a route does to a request besides choosing its upstream, from Ingress
//! annotations: answer with a redirect, edit request and response headers, rewrite the host, limit the
//! clients that may use it, bound the upstream's time.

use serde::{Deserialize, Serialize};

/// Per-route behaviour from annotations; the default does nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutePolicy {
    /// Answer with this redirect instead of forwarding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<Redirect>,
    /// Header edits on the request sent upstream.
    #[serde(default, skip_serializing_if = "HeaderEdits::is_empty")]
    pub request_headers: HeaderEdits,
    /// Header edits on the response sent to the client.
    #[serde(default, skip_serializing_if = "HeaderEdits::is_empty")]
    pub response_headers: HeaderEdits,
    /// The `Host` sent upstream (`upstream-vhost`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_rewrite: Option<String>,
    /// Client addresses allowed (CIDRs or addresses, `whitelist-source-range`); empty = everyone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_sources: Vec<String>,
    /// Client addresses denied (CIDRs or addresses, `denylist-source-range`), checked before
    /// `allow_sources` (ingress-nginx order: an address in both is denied).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny_sources: Vec<String>,
    /// HTTP Basic authentication (`auth-type: basic`, `auth-secret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// Longest wait for the upstream's response, in milliseconds (`timeout`); 504 after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Match the path case-insensitively (`ignore-path-case`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_path_case: bool,
    /// Rewrite the path sent upstream (`rewrite-target`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_rewrite: Option<PathRewrite>,
    /// CORS answers (`enable-cors`, `cors-*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<Cors>,
    /// Local rate limit (`route-limit-rps` / `route-limit-rpm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// A copy of (a share of) the requests goes elsewhere, its answer ignored (`mirror-target-service`,
    /// `mirror-target-fqdn`, `mirror-percentage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<Mirror>,
    /// When a failed attempt is sent to another endpoint (`proxy-next-upstream*`); `None` = the default
    /// policy ([`Retry::default_policy`], Istio's: 2 retries on connect failure and 503).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
}

/// Request mirroring (Envoy `request_mirror_policies` as Istio builds them from Higress's annotations):
/// a copy of the request, head and body, is sent in the background and its answer dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mirror {
    /// Where the copies go.
    pub target: MirrorTarget,
    /// Percentage of requests mirrored, 0..=99 (`mirror-percentage`); `None` = every request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u8>,
}

/// The destination of mirrored requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MirrorTarget {
    /// A cluster of the snapshot (`mirror-target-service`).
    Cluster(String),
    /// A DNS name resolved when a copy is sent (`mirror-target-fqdn`, `mirror-target-fqdn-port`).
    Fqdn {
        /// Host name (or IP address).
        host: String,
        /// Port.
        port: u16,
    },
}

impl Mirror {
    /// The cluster the copies go to, if the target is one.
    pub fn cluster(&self) -> Option<&String> {
        match &self.target {
            MirrorTarget::Cluster(c) => Some(c),
            MirrorTarget::Fqdn { .. } => None,
        }
    }
}

/// A route's retry policy (Istio `HTTPRetry` as Higress builds it from `proxy-next-upstream*`). A retry
/// goes to another endpoint of the same cluster when one is left, and only while no response byte went to
/// the client and the request body is still held (pingora keeps up to 64 KiB for this, more when a plugin read the body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retry {
    /// Retries after the first attempt; 0 = never retry (`proxy-next-upstream: off`).
    pub attempts: u32,
    /// Timeout of each attempt, in milliseconds (`proxy-next-upstream-timeout`, Higress's `perTryTimeout`);
    /// an attempt that runs out is retried when `on_5xx` holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_try_timeout_ms: Option<u64>,
    /// Retry when connecting fails (Envoy `connect-failure`; implied by `on_5xx`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub on_connect_failure: bool,
    /// Retry when the connection fails after the request was sent but before any answer (reset, closed;
    /// nginx `error`; implied by `on_5xx`). Not in Istio's default policy; oxigress adds it there for
    /// idempotent requests, as nginx does.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub on_reset: bool,
    /// Retry on any 5xx answer, connect failure, reset or attempt timeout (Envoy `5xx`; nginx `error`,
    /// `timeout`, `invalid_header`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub on_5xx: bool,
    /// Answer statuses that are retried (nginx `http_502` …, Envoy `retriable-status-codes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<u16>,
    /// Also retry requests whose method is not idempotent (POST, PATCH) once they were sent (nginx
    /// `non_idempotent`); a request that never reached an endpoint is always retried.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub non_idempotent: bool,
}

impl Retry {
    /// The policy of a route without retry annotations: Istio's default `HTTPRetry` (2 retries on
    /// `connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes` with 503).
    pub fn default_policy() -> Self {
        Self {
            attempts: 2,
            per_try_timeout_ms: None,
            on_connect_failure: true,
            on_reset: true,
            on_5xx: false,
            statuses: vec![503],
            non_idempotent: false,
        }
    }
}

/// HTTP Basic authentication of a route: requests without valid credentials get 401.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicAuth {
    /// `WWW-Authenticate: Basic realm="<realm>"`.
    pub realm: String,
    /// htpasswd lines `user:secret`; the secret is plain text, `{PLAIN}…`, `{SHA}<base64 SHA-1>` or
    /// `$apr1$`/`$1$` (MD5 crypt). Shown as `<redacted>` by `/debug/config`.
    pub credentials: Vec<String>,
}

/// A route's local rate limit: a bucket of `max` requests refilled by `per_fill` every `interval_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Bucket size (rate × burst multiplier).
    pub max: u32,
    /// Requests added per interval (the rate).
    pub per_fill: u32,
    /// 1000 (per second) or 60000 (per minute).
    pub interval_ms: u64,
}

/// A path rewrite: every match of `pattern` in the path is replaced by `substitution` (`${1}` = group 1);
/// the query string is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathRewrite {
    /// Regex over the path.
    pub pattern: String,
    /// Replacement, with `${n}` group references.
    pub substitution: String,
}

/// A CORS policy (Envoy CorsPolicy semantics: allowed origins get their origin echoed back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cors {
    /// Allowed origins: exact, `*` (any), or regexes (from `https://*.example.com`).
    pub allow_origins: Vec<String>,
    /// Which entries of `allow_origins` are regexes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub origin_regexes: Vec<String>,
    /// `Access-Control-Allow-Methods` of preflight answers.
    pub allow_methods: String,
    /// `Access-Control-Allow-Headers` of preflight answers.
    pub allow_headers: String,
    /// `Access-Control-Expose-Headers`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expose_headers: String,
    /// `Access-Control-Allow-Credentials: true`.
    pub allow_credentials: bool,
    /// `Access-Control-Max-Age` of preflight answers, seconds.
    pub max_age: u64,
}

impl RoutePolicy {
    /// Whether the policy does nothing.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// A redirect answer: the parts given replace the request's, the others are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    /// Status code (301, 302, 308, …).
    pub code: u16,
    /// New scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// New host (with port, if any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// New path (the query is kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Only redirect requests that arrived over plain HTTP (`ssl-redirect`); HTTPS ones are forwarded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub only_plain_http: bool,
}

/// Header edits, applied in the order remove, set, add.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderEdits {
    /// Appended (kept beside existing values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<(String, String)>,
    /// Replace existing values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<(String, String)>,
    /// Removed (lower-case names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

impl HeaderEdits {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.set.is_empty() && self.remove.is_empty()
    }
}
